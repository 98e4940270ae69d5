"""A TOTP second factor (RFC 6238, the codes of authenticator apps): enrolment with a code from
the new secret, verification that accepts each code once and one step of clock drift."""

from __future__ import annotations

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from keys.master import MasterKey
from store.clock import Clock
from store.otp import OtpStore

ISSUER_NAME = "一号通"
_STEP = 30  # seconds: what every authenticator app uses
_DRIFT_STEPS = 1  # accept the previous and the next code too


class OtpService:
    def __init__(self, store: OtpStore, master_key: MasterKey, clock: Clock) -> None:
        self._store = store
        self._master = master_key
        self._clock = clock

    def _open(self, account_id: str, sealed: str) -> pyotp.TOTP:
        secret = self._master.decrypt(sealed, f"otp:{account_id}").decode()
        return pyotp.TOTP(secret, interval=_STEP)

    async def enrolled(self, account_id: str) -> bool:
        found = await self._store.get(account_id)
        return found is not None and found[1]

    async def begin(self, account_id: str, label: str) -> tuple[str, str] | None:
        """The secret being set up for the account (base32, and the otpauth:// URI for a QR
        code): the unconfirmed one already shown, or a fresh one; None when a confirmed one
        exists already."""
        found = await self._store.get(account_id)
        if found is None:
            sealed = self._master.encrypt(
                pyotp.random_base32(length=32).encode(), f"otp:{account_id}"
            )
            await self._store.begin(account_id, sealed, self._clock.now())
            # Read back: of two set-ups started at once, both show the secret that was stored.
            found = await self._store.get(account_id)
        if found is None or found[1]:
            return None
        secret = self._master.decrypt(found[0], f"otp:{account_id}").decode()
        uri = pyotp.TOTP(secret, interval=_STEP).provisioning_uri(
            name=label, issuer_name=ISSUER_NAME
        )
        return secret, uri

    async def verify(self, account_id: str, code: str, confirming: bool = False) -> bool:
        """True once per code: the code matches a step within the drift window that is later
        than any step used before (which is then recorded)."""
        code = code.strip().replace(" ", "")
        if len(code) != 6 or not code.isdigit():
            return False
        found = await self._store.get(account_id)
        if found is None or found[1] == confirming:
            return False  # confirming needs an unconfirmed secret, and signing in a confirmed one
        totp = self._open(account_id, found[0])
        now = self._clock.now()
        for offset in range(-_DRIFT_STEPS, _DRIFT_STEPS + 1):
            at = now + offset * _STEP
            if totp.verify(code, for_time=at, valid_window=0):
                step = int(at // _STEP)
                return await self._store.use_step(account_id, step, confirm=confirming)
        return False

    async def remove_in(self, session: AsyncSession, account_id: str) -> bool:
        return await self._store.remove_in(session, account_id)

    async def remove(self, account_id: str) -> bool:
        return await self._store.remove(account_id)
