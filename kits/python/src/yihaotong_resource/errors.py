"""Refusals and the challenges that name them: RFC 6750 §3 (Bearer), RFC 9449 §7.1 (DPoP) and
RFC 9470 §3 (step-up authentication)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import JSONResponse


class Refusal(Exception):
    """A request the API refuses; ``error`` is empty when no credentials came at all (RFC 6750
    §3.1: then the challenge carries no error code)."""

    status = 401

    def __init__(self, error: str = "", description: str = "", **params: str) -> None:
        super().__init__(description or error)
        self.error = error
        self.description = description
        self.params = params


class InvalidRequest(Refusal):
    status = 400

    def __init__(self, description: str) -> None:
        super().__init__("invalid_request", description)


class InvalidToken(Refusal):
    def __init__(self, description: str) -> None:
        super().__init__("invalid_token", description)


class InvalidDPoPProof(Refusal):
    def __init__(self, description: str) -> None:
        super().__init__("invalid_dpop_proof", description)


class UseDPoPNonce(Refusal):
    """RFC 9449 §9: the proof must carry the nonce sent in the ``DPoP-Nonce`` header."""

    def __init__(self, nonce: str) -> None:
        super().__init__("use_dpop_nonce", "Send the proof again with the DPoP-Nonce given.")
        self.nonce = nonce


class InsufficientScope(Refusal):
    status = 403

    def __init__(self, scope: str) -> None:
        super().__init__("insufficient_scope", "The token lacks a required scope.", scope=scope)


class InsufficientAuthentication(Refusal):
    """RFC 9470: the person must sign in again at ``acr_values``."""

    def __init__(self, acr: str) -> None:
        super().__init__(
            "insufficient_user_authentication",
            "A stronger sign-in is required.",
            acr_values=acr,
        )


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(scheme: str, realm: str, refusal: Refusal | None, algs: Sequence[str] = ()) -> str:
    """One ``WWW-Authenticate`` challenge; ``algs`` only for DPoP (RFC 9449 §7.1)."""
    params = {"realm": realm} if realm else {}
    if refusal is not None and refusal.error:
        params["error"] = refusal.error
        if refusal.description:
            params["error_description"] = refusal.description
        params.update(refusal.params)
    if algs:
        params["algs"] = " ".join(algs)
    rendered = ", ".join(f"{name}={_quoted(value)}" for name, value in params.items())
    return f"{scheme} {rendered}".strip()


def refusal_response(
    refusal: Refusal, realm: str, dpop_algs: Sequence[str], scheme: str | None
) -> JSONResponse:
    """The answer to a refused request: the error in the scheme the client used (both schemes
    when it used none, RFC 9449 §7.1), and the same in a JSON body for people reading logs."""
    bearer = challenge("Bearer", realm, refusal if scheme != "DPoP" else None)
    dpop = challenge("DPoP", realm, refusal if scheme != "Bearer" else None, dpop_algs)
    if scheme == "DPoP":
        challenges = [dpop]
    elif scheme == "Bearer":
        challenges = [bearer]
    else:
        challenges = [bearer, dpop]
    body = {"error": refusal.error or "unauthorized"}
    if refusal.description:
        body["error_description"] = refusal.description
    headers = {"WWW-Authenticate": ", ".join(challenges), "Cache-Control": "no-store"}
    if isinstance(refusal, UseDPoPNonce):
        headers["DPoP-Nonce"] = refusal.nonce
    return JSONResponse(body, status_code=refusal.status, headers=headers)
