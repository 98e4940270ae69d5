"""A service provider's metadata as registered (SAML 2.0 Metadata §2.3, §2.4.4): parsed with
defusedxml, so entity expansion and external references are refused before anything reads it."""

from __future__ import annotations

from typing import Any

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
    sp = entity_id(document) if document.strip() else None
    if sp is None:
        return ("sp_metadata", "not the metadata of one SAML service provider (EntityDescriptor)")
    root = parse(document)
    if root.find(f".//{{{MD}}}AssertionConsumerService") is None:
        return ("sp_metadata", "the SP metadata names no AssertionConsumerService")
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
