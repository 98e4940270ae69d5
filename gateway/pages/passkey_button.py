"""The sign-in page's passkey button: WebAuthn options bound to the sign-in transaction."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request

from gateway.endpoints.authorize import Transaction
from gateway.server.services import Services

PASSKEY_SIGN_IN_PATH = "/login/passkey"
CSRF_PURPOSE = "passkey-login"  # with the transaction id after it
PASSKEY_SECOND_FACTOR_PATH = "/login/otp/passkey"
SECOND_FACTOR_PURPOSE = "passkey-second-factor"  # likewise


def embeddable(options: str) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    return options.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def passkey_offer(request: Request, tx_id: str, tx: Transaction) -> dict[str, Any] | None:
    """What the sign-in page needs for its passkey button: fresh options for this transaction,
    a CSRF token and a script nonce. None where the page signs in to a department only."""
    services: Services = request.app.state.services
    if tx.extra.get("step_up"):
        return None
    options = await services.passkeys.sign_in_options(tx_id)
    return {
        "options": embeddable(options),
        "csrf_token": services.csrf.token(tx.browser, f"{CSRF_PURPOSE}:{tx_id}"),
        "action": PASSKEY_SIGN_IN_PATH,
        "nonce": secrets.token_urlsafe(16),
    }


async def second_factor_offer(
    request: Request, tx_id: str, tx: Transaction, account_id: str
) -> dict[str, Any] | None:
    """The second-factor page's passkey button: the signed-in account's passkeys, with user
    verification required. None when the account has no passkey."""
    services: Services = request.app.state.services
    if not await services.passkeys.has_any(account_id):
        return None
    options = await services.passkeys.second_factor_options(account_id, tx_id)
    return {
        "options": embeddable(options),
        "csrf_token": services.csrf.token(tx.browser, f"{SECOND_FACTOR_PURPOSE}:{tx_id}"),
        "action": PASSKEY_SECOND_FACTOR_PATH,
        "nonce": secrets.token_urlsafe(16),
        "second_factor": True,
    }
