"""A service provider's metadata as registered (SAML 2.0 Metadata §2.3, §2.4.4): parsed with
defusedxml, so entity expansion and external references are refused before anything reads it."""

from __future__ import annotations

from typing import Any

from policies.redirect_uris import https_or_loopback_problem

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def parse(document: str) -> Any:
    try:
        from defusedxml import ElementTree
    except ImportError as missing:  # pragma: no cover - the extra is part of [saml]
        raise RuntimeError("SAML needs the extra: pip install 'yihaotong[saml]'") from missing
    return ElementTree.fromstring(document.encode("utf-8"))


def entity_id(document: str) -> str | None:
    """The SP's entity ID, or None when the document is not one SP's metadata."""
    try:
        root = parse(document)
    except RuntimeError:
        raise
    except Exception:
        return None
    if root.tag != f"{{{MD}}}EntityDescriptor" or root.find(f"{{{MD}}}SPSSODescriptor") is None:
        return None
    return root.get("entityID") or None


def sp_metadata_problem(document: str) -> tuple[str, str] | None:
    """What keeps ``document`` from registering a SAML app, as (field, message); without the
    extra installed, that (a 4xx for the administrator, not a server error)."""
    try:
        sp = entity_id(document) if document.strip() else None
    except RuntimeError as missing:
        return ("protocol", str(missing))
    if sp is None:
        return ("sp_metadata", "not the metadata of one SAML service provider (EntityDescriptor)")
    root = parse(document)
    if root.find(f".//{{{MD}}}AssertionConsumerService") is None:
        return ("sp_metadata", "the SP metadata names no AssertionConsumerService")
    return _endpoint_problem(root)


def _endpoint_problem(root: Any) -> tuple[str, str] | None:
    """Assertions and logout requests go where the metadata says: https, or http on loopback,
    as a redirect URI (``policies.redirect_uris``)."""
    for kind in ("AssertionConsumerService", "SingleLogoutService"):
        for endpoint in root.iter(f"{{{MD}}}{kind}"):
            for attribute in ("Location", "ResponseLocation"):
                location = endpoint.get(attribute)
                if location is not None and (problem := https_or_loopback_problem(location)):
                    return ("sp_metadata", f"the {kind} {attribute} {location!r} {problem}")
    return None


def _sp(document: str) -> Any:
    return parse(document).find(f"{{{MD}}}SPSSODescriptor")


def wants_signed_requests(document: str) -> bool:
    """§2.4.4: ``AuthnRequestsSigned`` — then an unsigned request is refused."""
    return _sp(document).get("AuthnRequestsSigned", "false").lower() in ("true", "1")


def wants_encryption(document: str) -> bool:
    """An SP that publishes an encryption key (§2.4.1.1 ``use="encryption"``) gets its
    assertions encrypted."""
    return any(
        key.get("use") == "encryption" for key in _sp(document).iter(f"{{{MD}}}KeyDescriptor")
    )
