"""The sign-in page's passkey button: WebAuthn options bound to the sign-in transaction."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request

from gateway.endpoints.authorize import Transaction
from gateway.server.services import Services

PASSKEY_SIGN_IN_PATH = "/login/passkey"
CSRF_PURPOSE = "passkey-login"  # with the transaction id after it


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
