"""CAS service responses (CAS 3.0 §2.5.2, §2.6.2, §2.7.2, Appendix A), as XML built element by
element with the standard library (every value is escaped by the serializer) or as the JSON
rendering of the same tree (``format=JSON``)."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET  # builds only: nothing incoming is parsed here

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


def _tag(name: str) -> str:
    # The prefix written as is, declared once on the root: the serializer then skips its
    # namespace bookkeeping, which cost as much as the rest of a validation.
    return f"cas:{name}"


def _root() -> ET.Element:
    return ET.Element(_tag("serviceResponse"), {"xmlns:cas": CAS_NS})


# Characters XML 1.0 cannot carry at all (§2.2), escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _child(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _tag(name.replace(":", "_")))
    element.text = None if text is None else _NOT_XML.sub("\ufffd", text)
    return element


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


def _xml(root: ET.Element) -> Response:
    body = ET.tostring(root, encoding="unicode")
    return Response(body, media_type="application/xml; charset=utf-8", headers=_NO_STORE)


def _json(document: dict[str, Any]) -> Response:
    body = json.dumps({"serviceResponse": document}, ensure_ascii=False)
    return Response(body, media_type="application/json; charset=utf-8", headers=_NO_STORE)


def validation_failure(code: str, description: str, as_json: bool) -> Response:
    if as_json:
        return _json({"authenticationFailure": {"code": code, "description": description}})
    root = _root()
    _child(root, "authenticationFailure", description).set("code", code)
    return _xml(root)


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
    root = _root()
    node = _child(root, "authenticationSuccess")
    _child(node, "user", ticket.user)
    if attributes:
        holder = _child(node, "attributes")
        for name, values in attributes.items():
            for value in values:
                _child(holder, name, value)
    if pgt_iou:
        _child(node, "proxyGrantingTicket", pgt_iou)
    if ticket.proxies:
        proxies = _child(node, "proxies")
        for proxy in ticket.proxies:
            _child(proxies, "proxy", proxy)
    return _xml(root)


def proxy_success(proxy_ticket: str, as_json: bool) -> Response:
    if as_json:
        return _json({"proxySuccess": {"proxyTicket": proxy_ticket}})
    root = _root()
    _child(_child(root, "proxySuccess"), "proxyTicket", proxy_ticket)
    return _xml(root)


def proxy_failure(code: str, description: str, as_json: bool) -> Response:
    if as_json:
        return _json({"proxyFailure": {"code": code, "description": description}})
    root = _root()
    _child(root, "proxyFailure", description).set("code", code)
    return _xml(root)


def cas1(user: str | None) -> Response:
    """CAS 1.0 (§2.4.2): ``yes`` and the user, or ``no`` and an empty line."""
    body = f"yes\n{user}\n" if user is not None else "no\n\n"
    return Response(body, media_type="text/plain; charset=utf-8", headers=_NO_STORE)
