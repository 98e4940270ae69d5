"""An authorization request waiting for the person (sign-in, step-up, act-for, consent), kept
in the expiring store and bound to the browser that started it, and the forms posted inside it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from typing import Any

import orjson
from starlette.requests import Request

from gateway.identity.sessions import SsoSession
from gateway.server.forms import FormError, read_form
from gateway.server.services import Services
from store import kv_keys

TX_TTL = 900  # seconds a user has for signing in and consenting


@dataclass
class Transaction:
    """An authorization request waiting for the user (sign-in or consent)."""

    params: dict[str, str]
    browser: str
    signed_in_sid: str | None = None  # a sign-in that happened inside this transaction
    consent: str | None = None  # "allow" or "deny", decided inside this transaction
    return_to: str | None = None  # for sign-ins that are not an authorization request
    extra: dict[str, Any] = field(default_factory=dict)


_TX_FIELDS = tuple(f.name for f in fields(Transaction))


def _encode(tx: Transaction) -> bytes:
    # orjson from the fields themselves: asdict() deep-copies params and extra first, and the
    # standard encoder takes several times orjson's CPU on a sign-in's path.
    record = {name: getattr(tx, name) for name in _TX_FIELDS}
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)


async def save_transaction(services: Services, tx: Transaction) -> str:
    tx_id = secrets.token_urlsafe(24)
    await services.expiring.put(kv_keys.transaction(tx_id), _encode(tx), TX_TTL)
    return tx_id


async def update_transaction(services: Services, tx_id: str, tx: Transaction) -> None:
    await services.expiring.put(*transaction_entry(tx_id, tx))


def transaction_entry(tx_id: str, tx: Transaction) -> tuple[str, bytes, float]:
    """The transaction's write as (key, value, ttl), to go with others in one round trip."""
    return kv_keys.transaction(tx_id), _encode(tx), TX_TTL


def could_be_transaction(tx_id: str | None) -> bool:
    """Whether ``tx_id`` is worth looking up: present and no longer than any we issue."""
    return tx_id is not None and 0 < len(tx_id) <= 64


async def load_transaction(
    services: Services, request: Request, tx_id: str | None
) -> Transaction | None:
    """The transaction, only in the browser that started it."""
    if not could_be_transaction(tx_id):
        return None
    return transaction_in_browser(
        services, request, await services.expiring.get(kv_keys.transaction(tx_id))
    )


def transaction_in_browser(
    services: Services, request: Request, raw: bytes | None
) -> Transaction | None:
    """``load_transaction`` for a transaction's stored value read by the caller."""
    if raw is None:
        return None
    tx = Transaction(**orjson.loads(raw))
    browser = request.cookies.get(services.csrf.cookie_name)
    # Bytes: compare_digest refuses non-ASCII str, and a cookie can hold anything.
    same = browser is not None and secrets.compare_digest(browser.encode(), tx.browser.encode())
    return tx if same else None


@dataclass
class SignedInStep:
    """A form posted inside an authorization by the person signed in: the act-for choice, the
    second factor's code."""

    form: dict[str, str]
    tx_id: str
    tx: Transaction
    session: SsoSession


async def posted_form(request: Request, purpose: str) -> tuple[dict[str, str], str] | None:
    """The posted form and the id of its transaction, when the form is readable and its CSRF
    token is right for ``purpose`` in this browser (the transaction itself is not read)."""
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError:
        return None
    tx_id = form.get("tx", "")
    if not services.csrf.valid(request, form.get("csrf_token"), f"{purpose}:{tx_id}"):
        return None
    return form, tx_id


async def submitted_form(
    request: Request, purpose: str
) -> tuple[dict[str, str], str, Transaction] | None:
    """The posted form and its transaction, when the form is readable, the transaction lives
    in this browser and the CSRF token is right for ``purpose``."""
    posted = await posted_form(request, purpose)
    if posted is None:
        return None
    form, tx_id = posted
    tx = await load_transaction(request.app.state.services, request, tx_id)
    return None if tx is None else (form, tx_id, tx)


async def signed_in_step(request: Request, purpose: str) -> SignedInStep | None:
    """The posted form with its transaction (in this browser), the signed-in session and a
    CSRF token valid for ``purpose``; None when any is missing or wrong."""
    submitted = await submitted_form(request, purpose)
    if submitted is None:
        return None
    services: Services = request.app.state.services
    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    if session is None:
        return None
    form, tx_id, tx = submitted
    return SignedInStep(form, tx_id, tx, session)
