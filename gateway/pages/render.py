"""HTML pages: locale choice, Jinja2 rendering, and the headers every page carries (a strict
CSP that forbids framing, no caching, no referrer)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
STATIC_PATH = "/static"
LOCALE_COOKIE = "yihaotong_lang"
_LOCALE_COOKIE_SECONDS = 365 * 86400

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # compiled once: no stat of each template file on every page
)


class Messages(dict[str, str]):
    """Translated strings; attribute access keeps templates short."""

    def __getattr__(self, name: str) -> str:
        return self[name]


@cache
def messages(locale: str) -> Messages:
    strings = json.loads((HERE / "locales" / f"{locale}.json").read_text(encoding="utf-8"))
    return Messages(strings, lang=locale)


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def choose_locale(ui_locales: str | None, accept_language: str | None) -> str:
    """``ui_locales`` (OIDC Core §3.1.2.1) first, then Accept-Language, then Chinese."""
    for tag in (ui_locales or "").split():
        if found := _match(tag):
            return found
    weighted = []
    for part in (accept_language or "").split(","):
        tag, _, quality = part.partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        weighted.append((weight, tag))
    for _, tag in sorted(weighted, key=lambda pair: -pair[0]):
        if found := _match(tag):
            return found
    return DEFAULT_LOCALE


def request_locale(request: Request, wanted: str | None = None) -> str:
    """The page's language: the person's choice in the page's link (``ui_locales`` on our own
    page), then the one kept from an earlier choice (a cookie), then ``wanted`` (the app's
    ``ui_locales``), then Accept-Language."""
    kept = request.cookies.get(LOCALE_COOKIE)
    tags = (request.query_params.get("ui_locales"), kept if kept in LOCALES else None, wanted)
    return choose_locale(" ".join(filter(None, tags)), request.headers.get("accept-language"))


def _switch_url(request: Request, locale: str, tx: str | None, path: str | None) -> str:
    """This page in the other language: a GET of the same path, its query kept (and the
    sign-in transaction of a page that answers a posted form)."""
    other = next(code for code in LOCALES if code != locale)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "ui_locales"]
    if tx and "tx" not in request.query_params:
        query.append(("tx", tx))
    return f"{path or request.url.path}?{urlencode([*query, ('ui_locales', other)])}"


def local_time(epoch: float | None, time_zone: str) -> str:
    """A time as people read it where the gateway serves: ``2026-12-07 19:30 UTC+8``."""
    if epoch is None:
        return ""
    moment = datetime.fromtimestamp(epoch, ZoneInfo(time_zone))
    offset = moment.utcoffset() or timedelta()
    seconds = int(offset.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    zone = f"UTC{'-' if seconds < 0 else '+'}{hours}" + (f":{rest // 60:02d}" if rest else "")
    return f"{moment:%Y-%m-%d %H:%M} {zone}"


def origin_source(uri: str) -> str | None:
    """The CSP source expression that admits ``uri``: its origin, or its private-use scheme."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    if parts.scheme and all(ch.isalnum() or ch in "+-." for ch in parts.scheme):
        return f"{parts.scheme}:"
    return None


def form_action(*targets: str) -> str:
    """A form-action directive for a form that may end in a redirect to ``targets``: browsers
    apply form-action to the redirects after a submission as well."""
    sources = dict.fromkeys(filter(None, (origin_source(uri) for uri in targets)))
    return " ".join(["'self'", *sources])


def page(
    request: Request,
    template: str,
    locale: str,
    context: dict[str, Any],
    status: int = 200,
    form_action: str = "'self'",
    script_nonce: str | None = None,
    connect_self: bool = False,
) -> HTMLResponse:
    body = _templates.get_template(template).render(
        t=messages(locale),
        static_url=f"{STATIC_PATH}/style.css",
        switch_url=_switch_url(request, locale, context.get("tx"), context.get("page_path")),
        **context,
    )
    response = html_response(body, locale, status, form_action, script_nonce, connect_self)
    if _match(request.query_params.get("ui_locales") or "") == locale:
        # The person chose this language on one of our pages: every later page keeps it.
        response.set_cookie(
            LOCALE_COOKIE,
            locale,
            max_age=_LOCALE_COOKIE_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    return response


def html_response(
    body: str,
    locale: str,
    status: int = 200,
    form_action: str = "'self'",
    script_nonce: str | None = None,
    connect_self: bool = False,
) -> HTMLResponse:
    """A page with the headers every page carries."""
    script = f"'nonce-{script_nonce}'" if script_nonce else "'none'"
    # connect-src: a page whose script waits on the gateway itself (scan to sign in).
    connect = "connect-src 'self'; " if connect_self else ""
    csp = (
        f"default-src 'none'; style-src 'self'; img-src 'self'; script-src {script}; {connect}"
        f"form-action {form_action}; frame-src *; frame-ancestors 'none'; base-uri 'none'"
    )
    response = HTMLResponse(
        body,
        status_code=status,
        headers={
            "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "Content-Language": locale,
        },
    )
    return response
