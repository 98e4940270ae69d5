"""The LDAP password policy response control (draft-behera-ldap-password-policy-10 §6.2), sent
on a bind so that the directory says why it refused one: OpenLDAP's ppolicy overlay (with
``ppolicy_use_lockout``) reports a locked account nowhere else."""

from __future__ import annotations

from typing import Any, Literal

from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

CONTROL = "1.3.6.1.4.1.42.2.27.8.5.1"
REQUEST = (CONTROL, False, None)  # the request control has no value (§6.1)

Refusal = Literal["locked", "expired", "must_change"]
# The error codes of §6.2 that say the account, not the password typed, is the reason.
_REFUSALS: dict[int, Refusal] = {0: "expired", 1: "locked", 2: "must_change"}


def _context(number: int, constructed: bool = False) -> tag.Tag:
    form = tag.tagFormatConstructed if constructed else tag.tagFormatSimple
    return tag.Tag(tag.tagClassContext, form, number)


class _Warning(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType(
            "timeBeforeExpiration", univ.Integer().subtype(implicitTag=_context(0))
        ),
        namedtype.NamedType(
            "graceAuthNsRemaining", univ.Integer().subtype(implicitTag=_context(1))
        ),
    )


class _ResponseValue(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType(
            "warning", _Warning().subtype(explicitTag=_context(0, constructed=True))
        ),
        namedtype.OptionalNamedType("error", univ.Enumerated().subtype(implicitTag=_context(1))),
    )


def policy_error(value: bytes) -> int | None:
    """The error code in a response control's value; None when there is none or it is not
    readable (a malformed control says nothing)."""
    try:
        decoded, rest = decoder.decode(value, asn1Spec=_ResponseValue())
    except (PyAsn1Error, TypeError, ValueError):
        return None
    if rest:
        return None
    error = decoded.getComponentByName("error")
    return int(error) if error.isValue else None


def bind_refusal(result: dict[str, Any] | None) -> Refusal | None:
    """Why a bind's result (ldap3's ``Connection.result``) says the account may not sign in:
    locked, password expired, or password to be changed after a reset."""
    controls = (result or {}).get("controls") or {}
    control = controls.get(CONTROL) or {}
    value = control.get("value")
    if not isinstance(value, bytes | bytearray):
        return None
    code = policy_error(bytes(value))
    return None if code is None else _REFUSALS.get(code)
