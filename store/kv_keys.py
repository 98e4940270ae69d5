"""The name of every key kept in the expiring store, each spelt here and nowhere else.

Whoever writes a key and whoever reads or clears it (a sign-in page and the admin's unlock, a
session and its logout) call the same function, so they cannot drift apart. The Redis backend
adds its own prefix in front of these names.
"""

from __future__ import annotations

import hashlib

# -- SSO sessions (gateway/identity/sessions.py) --------------------------------------------------


def session(sid: str) -> str:
    """The session's record, living until the absolute limit."""
    return f"sso:{sid}"


def session_seen(sid: str) -> str:
    """The session's idle timer: the session lives while this and its record do."""
    return f"sso-seen:{sid}"


def session_clients(sid: str) -> str:
    """The set of clients that got tokens in the session (for logout notices)."""
    return f"sso-clients:{sid}"


def sessions_of(account_id: str) -> str:
    """The set of an account's session ids."""
    return f"sso-of:{account_id}"


# -- authorization -----------------------------------------------------------------------------


def transaction(tx_id: str) -> str:
    """An authorization request while the person signs in and consents."""
    return f"authz:{tx_id}"


def authorization_code(code_digest: str) -> str:
    """An authorization code, by the digest of the code (never the code itself)."""
    return f"code:{code_digest}"


def upstream_state(state: str) -> str:
    """A sign-in sent to a department's own login page, by its ``state``."""
    return f"upstream:{state}"


def upstream_answer(state: str) -> str:
    """A department's answer posted back (a SAML Response), kept for the callback of ``state``."""
    return f"upstream-answer:{state}"


def cas_ticket(ticket_digest: str) -> str:
    """A CAS service or proxy ticket, by its digest (CAS 3.0 §3.1, §3.2)."""
    return f"cas-st:{ticket_digest}"


def cas_proxy_granting_ticket(ticket_digest: str) -> str:
    """A CAS proxy-granting ticket, by its digest (CAS 3.0 §3.3)."""
    return f"cas-pgt:{ticket_digest}"


# -- access tokens and revocations -------------------------------------------------------------


def opaque_access_token(jti: str) -> str:
    """The sealed claims of an opaque access token."""
    return f"at:{jti}"


def revoked_access_token(jti: str) -> str:
    return f"revoked:{jti}"


def ended_session(sid: str) -> str:
    """Marks an ended session, so that access tokens carrying its sid stop working."""
    return f"ended-sid:{sid}"


def dpop_proof(jkt: str, jti: str) -> str:
    """A DPoP proof's jti seen with its key, kept while the proof could be replayed."""
    return f"dpop-jti:{hashlib.sha256(f'{jkt}:{jti}'.encode()).hexdigest()[:40]}"


def pushed_request(reference: str) -> str:
    """A pushed authorization request (RFC 9126), by the random part of its request_uri."""
    return f"par:{reference}"


# -- failure counters (lockout) ----------------------------------------------------------------


def name_failures(sign_in_name: str) -> str:
    """Failed sign-ins for a sign-in name (``policies.lockout.sign_in_name``), hashed so that
    no typed name is kept in clear."""
    return f"fail-user:{hashlib.sha256(sign_in_name.encode()).hexdigest()[:32]}"


def address_failures(ip: str) -> str:
    """Failed sign-ins from one client address, across names."""
    return f"fail-ip:{ip}"


def device_failures(device_id: str) -> str:
    """Failed sign-ins through one device cookie (``gateway.pages.device_cookies``)."""
    return f"fail-device:{device_id}"


def otp_failures(account_id: str) -> str:
    """Wrong authenticator codes for an account."""
    return f"fail-otp:{account_id}"


def close_failures(account_id: str) -> str:
    """Wrong passwords or codes confirming that an account be closed."""
    return f"fail-close:{account_id}"


def sms_code(tx_id: str) -> str:
    """The digest of the SMS code sent in a sign-in transaction, and its number."""
    return f"sms-code:{tx_id}"


def sms_code_tries(tx_id: str) -> str:
    """Tries at the SMS code of a sign-in transaction."""
    return f"sms-tries:{tx_id}"


def sms_sends_per_number(blind_index: str, window: str) -> str:
    """Codes sent to one number (by its blind index, never in clear) in a window ("m", "d")."""
    return f"sms-num-{window}:{blind_index[:40]}"


def sms_sends_per_address(ip: str) -> str:
    return f"sms-ip:{ip}"


def sms_sends_per_browser(browser: str) -> str:
    """Codes sent through one browser (its CSRF cookie, hashed)."""
    return f"sms-browser:{hashlib.sha256(browser.encode()).hexdigest()[:32]}"


def admin_denials(actor: str | None) -> str:
    """Refused admin requests audited for one caller (None: callers without a valid token)."""
    return f"admin-denied:{actor or 'anonymous'}"


def client_requests(endpoint: str, client_id: str) -> str:
    """Requests one client made of one endpoint (token, introspection, userinfo) this window."""
    return f"client-requests:{endpoint}:{client_id}"


def revocations_loaded() -> str:
    """Written once every durable revocation mark was copied into the expiring store; its
    absence means the store lost them (gateway/oauth/revocations.py reloads them)."""
    return "revocations-loaded"


# -- passkeys (gateway/identity/passkeys.py) ---------------------------------------------------


def passkey_challenge(purpose: str, binding: str) -> str:
    """A WebAuthn challenge waiting for its answer: ``purpose`` "register" or "sign-in",
    ``binding`` the session or sign-in transaction it was issued to."""
    return f"passkey:{purpose}:{binding}"


# -- recovery and real-name levels (gateway/identity/real_name/, gateway/account/) ---------------


def real_name_failures(account_id: str) -> str:
    """Failed real-name checks of an account."""
    return f"fail-realname:{account_id}"


def real_name_failures_per_address(ip: str) -> str:
    return f"fail-realname-ip:{ip}"


def password_change_failures(account_id: str) -> str:
    """Wrong current passwords given on the change-password page."""
    return f"fail-pwchange:{account_id}"


def phone_change(sid: str) -> str:
    """A change of phone under way in one session: the new number (sealed) and what was proven."""
    return f"phone-change:{sid}"


# -- the admin console (gateway/console/) ------------------------------------------------------


def console_sign_in(state: str) -> str:
    """A console sign-in on its way through the authorization endpoint, by its ``state``."""
    return f"console-flow:{state}"


def console_session(secret_digest: str) -> str:
    """A console session (its administrator's tokens), by the digest of its cookie."""
    return f"console:{secret_digest}"


# -- the device authorization grant (gateway/oauth/device_codes.py) --------------------------------


def device_code(code_digest: str) -> str:
    """A device authorization (RFC 8628), by the digest of its device code: pending, allowed
    or refused, read once a poll."""
    return f"device:{code_digest}"


def device_polled(code_digest: str) -> str:
    """Present for one poll interval after a device code's poll was answered (§3.5)."""
    return f"device-polled:{code_digest}"


def device_interval(code_digest: str) -> str:
    """A device code's poll interval once ``slow_down`` raised it (seconds, as text)."""
    return f"device-interval:{code_digest}"


def device_user_code(user_code: str) -> str:
    """The digest of the device code a user code stands for (the user code normalised)."""
    return f"device-user:{user_code}"


def device_user_code_tries(ip: str) -> str:
    """User codes typed at the verification page from one address."""
    return f"device-tries-ip:{ip}"


def device_user_code_tries_overall() -> str:
    """User codes typed at the verification page from anywhere: a crowd of addresses cannot
    together guess faster than this allows."""
    return "device-tries-all"


# -- scan to sign in (gateway/mobile/tickets.py) --------------------------------------------------


def scan_ticket(ticket_digest: str) -> str:
    """A scan-to-sign-in ticket shown to a PC, by the digest of the ticket: its sign-in
    transaction and what the app is shown of the PC."""
    return f"scan:{ticket_digest}"


def scan_claim(ticket_digest: str) -> str:
    """The one app (account, client, token) that scanned the ticket: written once."""
    return f"scan-by:{ticket_digest}"


def scan_outcome(ticket_digest: str) -> str:
    """The app's answer, written once: confirmed (with the app session's sign-in) or refused."""
    return f"scan-outcome:{ticket_digest}"


def scan_moved_channel() -> str:
    """The pub/sub channel that carries the digest of a ticket an app scanned or answered."""
    return "scan-moved"


def scan_tickets_per_browser(browser: str) -> str:
    """Tickets made for one browser (its CSRF cookie, hashed)."""
    return f"scan-new:{hashlib.sha256(browser.encode()).hexdigest()[:32]}"


def scans_per_account(account_id: str) -> str:
    """Tickets one person's app scanned."""
    return f"scan-by-account:{account_id}"


def console_import(token: str) -> str:
    """A checked import file waiting for its administrator's confirmation."""
    return f"console-import:{token}"


# -- expiry ledgers (counting what expired unused) ---------------------------------------------


def expiry_ledger(kind: str) -> str:
    """The keys of one kind of single-use credential (``code``, ``cas_ticket``,
    ``device_code``, ``scan_ticket``, ``pushed_request``) by expiry."""
    return f"expiry-ledger:{kind}"


def expiry_sweep_lock() -> str:
    """Held by the one process that sweeps the expiry ledgers this period."""
    return "expiry-sweep-lock"
