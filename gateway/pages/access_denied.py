"""The HTTP side of per-app access: the page a denied person sees (with the way back to the app,
which then receives ``access_denied``), and the level a client's ``acr_values`` ask for."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from gateway.pages.render import messages, page, request_locale
from policies.access import Decision
from policies.assurance import LEVELS, rank
from store.records import Client

_REASON_KEYS = {
    "kind": "denied_kind",
    "roles": "denied_roles",
    "groups": "denied_groups",
    "department": "denied_department",
    "assurance": "denied_assurance",
    "acr_values": "denied_step_up",
    "step_up": "denied_step_up",
    "mfa": "denied_mfa",
    "new_place": "denied_mfa",
    "organisation": "denied_organisation",
}


def requested_level(acr_values: str | None) -> str | None:
    """The lowest assurance level among ``acr_values`` (the least the client accepts); None
    when it names none of ours."""
    known = [value for value in (acr_values or "").split() if value in LEVELS]
    return min(known, key=rank) if known else None


def denied_page(
    request: Request,
    client: Client,
    params: dict[str, str],
    decision: Decision,
    redirect_uri: str,
    error_fields: dict[str, str],
    error_location: str,
) -> Response:
    """403 with the reason in the person's language and a way back to the app, which gets the
    error (by the response mode it asked for)."""
    locale = request_locale(request, params.get("ui_locales"))
    t = messages(locale)
    level = decision.acr or ""
    message = t[_REASON_KEYS.get(decision.check, "denied_roles")].format(level=level)
    form_post = params.get("response_mode") == "form_post" and redirect_uri.startswith(
        ("https://", "http://")
    )
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))
    return page(
        request,
        "denied.html",
        locale,
        {
            "client_name": client.name,
            "message": message,
            "form_post": form_post,
            "action": redirect_uri if form_post else error_location,
            "fields": list(error_fields.items()),
        },
        status=403,
        form_action=origin if form_post else "'none'",
    )
