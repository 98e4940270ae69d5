"""The console's pages: its own templates, the sign-in pages' look, strings and headers. The
language is chosen with ``?lang=`` (kept in a cookie), else by Accept-Language, else Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from gateway.pages.render import HERE as PAGES
from gateway.pages.render import LOCALES, STATIC_PATH, choose_locale, html_response, messages

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGE_COOKIE = "yht_lang"

_templates = Environment(
    loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(PAGES / "templates")]),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def locale_of(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if wanted in LOCALES:
        return wanted
    return choose_locale(None, request.headers.get("accept-language"))


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    locale = locale_of(request)
    body = _templates.get_template(template).render(
        t=messages(locale),
        static_url=f"{STATIC_PATH}/style.css",
        console_css=f"{STATIC_PATH}/console.css",
        path=request.url.path,
        query=request.url.query,
        **context,
    )
    response = html_response(body, locale, status)
    if request.query_params.get("lang") in LOCALES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/admin",
        )
    return response
