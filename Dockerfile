# 一号通 Yihaotong: the gateway with the PostgreSQL and Redis extras, run as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY keys ./keys
COPY policies ./policies
COPY providers ./providers
COPY store ./store
RUN pip install --no-cache-dir '.[redis,postgres,ldap,legacy,cas]'

RUN groupadd --system --gid 10001 yihaotong \
    && useradd --system --uid 10001 --gid yihaotong --home-dir /var/lib/yihaotong \
        --no-create-home --shell /usr/sbin/nologin yihaotong \
    && install -d -o yihaotong -g yihaotong -m 0700 /var/lib/yihaotong

# SQLite database and master key live here unless YIHAOTONG_DATABASE_URL and
# YIHAOTONG_MASTER_KEY_FILE point elsewhere. Back up the master key.
ENV YIHAOTONG_DATA_DIR=/var/lib/yihaotong
VOLUME /var/lib/yihaotong

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

USER yihaotong
ENTRYPOINT ["yihaotong"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
