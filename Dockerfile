# 一号通 Yihaotong: the gateway with every extra (PostgreSQL, Redis, the department login
# systems, SAML with Debian's xmlsec1, the SMS backends), run as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pysaml2 signs and verifies with the xmlsec1 program.
RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY keys ./keys
COPY policies ./policies
COPY providers ./providers
COPY store ./store
RUN pip install --no-cache-dir '.[redis,postgres,ldap,legacy,cas,saml,sms,otel,regions]'

RUN groupadd --system --gid 10001 yihaotong \
    && useradd --system --uid 10001 --gid yihaotong --home-dir /var/lib/yihaotong \
        --no-create-home --shell /usr/sbin/nologin yihaotong \
    && install -d -o yihaotong -g yihaotong -m 0700 /var/lib/yihaotong

# SQLite database, master key and audit spool live here unless YIHAOTONG_DATABASE_URL and
# YIHAOTONG_MASTER_KEY_FILE point elsewhere. Back up the master key.
ENV YIHAOTONG_DATA_DIR=/var/lib/yihaotong
VOLUME /var/lib/yihaotong

EXPOSE 8000

# Liveness: the process answers. compose.yaml and the Kubernetes manifests add readiness (/readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

USER 10001:10001
ENTRYPOINT ["yihaotong"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
