"""Incoming SAML protocol messages before pysaml2 sees them (SAML 2.0 Bindings §3.4.4.1,
§3.5.4): decoded with a size limit (a deflate bomb stops there) and parsed with defusedxml
(entity expansion, external entities and DTDs refused), to learn who sent them."""

from __future__ import annotations

import base64
import binascii
import zlib

from gateway.saml.sp_metadata import parse

MAX_MESSAGE = 256 * 1024
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


class BadMessage(Exception):
    pass


def decoded(encoded: str, deflated: bool) -> str:
    try:
        raw = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError) as error:
        raise BadMessage("not base64") from error
    if deflated:
        inflater = zlib.decompressobj(-15)
        try:
            raw = inflater.decompress(raw, MAX_MESSAGE)
        except zlib.error as error:
            raise BadMessage("not deflated") from error
        if inflater.unconsumed_tail:
            raise BadMessage("too large")
    if len(raw) > MAX_MESSAGE:
        raise BadMessage("too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadMessage("not UTF-8") from error


def issuer_of(xml: str) -> str:
    """The ``<saml:Issuer>`` of a request, from a defused parse."""
    try:
        root = parse(xml)
    except RuntimeError:
        raise
    except Exception as error:
        raise BadMessage("not acceptable XML") from error
    issuer = root.find(f"{{{SAML}}}Issuer")
    if issuer is None or not (issuer.text or "").strip():
        raise BadMessage("no issuer")
    return issuer.text.strip()


def request_id_of(xml: str) -> str | None:
    """The request's ``ID`` (for ``InResponseTo`` of an error answer), when it reads as XML."""
    try:
        return parse(xml).get("ID")
    except Exception:
        return None
