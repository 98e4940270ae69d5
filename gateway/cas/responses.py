"""CAS service responses (CAS 3.0 §2.5.2, §2.6.2, §2.7.2, Appendix A), as XML written element
by element (every text escaped as the standard library's serializer escapes it, and the same
bytes it wrote) or as the JSON rendering of the same tree (``format=JSON``)."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape  # writes only: nothing incoming is parsed here

from starlette.responses import Response

from gateway.cas.tickets import Ticket

CAS_NS = "http://www.yale.edu/tp/cas"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# The error codes of CAS 3.0 §2.5.3, §2.7.3.
INVALID_REQUEST = "INVALID_REQUEST"
INVALID_TICKET_SPEC = "INVALID_TICKET_SPEC"
UNAUTHORIZED_SERVICE_PROXY = "UNAUTHORIZED_SERVICE_PROXY"
INVALID_PROXY_CALLBACK = "INVALID_PROXY_CALLBACK"
INVALID_TICKET = "INVALID_TICKET"
INVALID_SERVICE = "INVALID_SERVICE"
INTERNAL_ERROR = "INTERNAL_ERROR"
UNAUTHORIZED_SERVICE = "UNAUTHORIZED_SERVICE"


class Refused(Exception):
    """A request the protocol answers with an error ``code`` (§2.5.3, §2.7.3)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


# The prefix written as is, declared once on the root. Strings, not an ElementTree: its
# serializer's namespace and dispatch bookkeeping cost as much as the rest of a validation.
_OPEN = f'<cas:serviceResponse xmlns:cas="{CAS_NS}">'
_CLOSE = "</cas:serviceResponse>"

# Characters XML 1.0 cannot carry at all (§2.2), escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _element(name: str, inner: str = "", code: str | None = None) -> str:
    """``<cas:name>`` around ``inner`` (already XML), or empty: ``<cas:name />``."""
    tag = "cas:" + name.replace(":", "_")
    start = tag if code is None else f'{tag} code="{escape(code, {chr(34): "&quot;"})}"'
    return f"<{start}>{inner}</{tag}>" if inner else f"<{start} />"


def _text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def attribute_values(value: Any) -> list[str]:
    """An attribute as the strings CAS carries: lists give one element each, mappings their
    JSON, booleans ``true``/``false``."""
    if isinstance(value, list | tuple):
        return [v for item in value for v in attribute_values(item)]
    if isinstance(value, dict):
        return [json.dumps(value, ensure_ascii=False, sort_keys=True)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def _xml(inner: str) -> Response:
    body = _OPEN + inner + _CLOSE
    return Response(body, media_type="application/xml; charset=utf-8", headers=_NO_STORE)


def _json(document: dict[str, Any]) -> Response:
    body = json.dumps({"serviceResponse": document}, ensure_ascii=False)
    return Response(body, media_type="application/json; charset=utf-8", headers=_NO_STORE)


def validation_failure(code: str, description: str, as_json: bool) -> Response:
    if as_json:
        return _json({"authenticationFailure": {"code": code, "description": description}})
    return _xml(_element("authenticationFailure", _text(description), code))


def validation_success(
    ticket: Ticket, pgt_iou: str | None, with_attributes: bool, as_json: bool
) -> Response:
    attributes = (
        {name: attribute_values(value) for name, value in ticket.attributes.items()}
        if with_attributes
        else {}
    )
    if as_json:
        success: dict[str, Any] = {"user": ticket.user}
        if attributes:
            success["attributes"] = {
                name: values[0] if len(values) == 1 else values
                for name, values in attributes.items()
            }
        if pgt_iou:
            success["proxyGrantingTicket"] = pgt_iou
        if ticket.proxies:
            success["proxies"] = ticket.proxies
        return _json({"authenticationSuccess": success})
    parts = [_element("user", _text(ticket.user))]
    if attributes:
        held = [_element(name, _text(value)) for name, values in attributes.items()
                for value in values]  # fmt: skip
        parts.append(_element("attributes", "".join(held)))
    if pgt_iou:
        parts.append(_element("proxyGrantingTicket", _text(pgt_iou)))
    if ticket.proxies:
        listed = "".join(_element("proxy", _text(proxy)) for proxy in ticket.proxies)
        parts.append(_element("proxies", listed))
    return _xml(_element("authenticationSuccess", "".join(parts)))


def proxy_success(proxy_ticket: str, as_json: bool) -> Response:
    if as_json:
        return _json({"proxySuccess": {"proxyTicket": proxy_ticket}})
    return _xml(_element("proxySuccess", _element("proxyTicket", _text(proxy_ticket))))


def proxy_failure(code: str, description: str, as_json: bool) -> Response:
    if as_json:
        return _json({"proxyFailure": {"code": code, "description": description}})
    return _xml(_element("proxyFailure", _text(description), code))


def cas1(user: str | None) -> Response:
    """CAS 1.0 (§2.4.2): ``yes`` and the user, or ``no`` and an empty line."""
    body = f"yes\n{user}\n" if user is not None else "no\n\n"
    return Response(body, media_type="text/plain; charset=utf-8", headers=_NO_STORE)
