"""Passkeys (WebAuthn Level 3 with discoverable credentials), through the ``webauthn`` library:
registration and sign-in options, and the verification of what the browser answers.

Each challenge is random, kept in the expiring store under the session or sign-in transaction
it was issued to, lives a few minutes and is taken on first use: an answer counts once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import InvalidJSONStructure, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore
from store.passkeys import Passkey, PasskeyStore

CHALLENGE_TTL = 300.0  # seconds: the browser's own prompt times out before this
TIMEOUT_MS = 120_000
MAX_NAME = 64
MAX_PER_ACCOUNT = 20
REGISTER, SIGN_IN, SECOND_FACTOR = "register", "sign-in", "second-factor"


class PasskeyError(Exception):
    """The browser's answer was refused; ``reason`` is a word for the audit log and the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PasskeySignIn:
    account_id: str
    credential_id: str
    amr: list[str]  # RFC 8176


def methods_for(passkey: Passkey, user_verified: bool) -> list[str]:
    """``swk`` for a synced passkey (its private key leaves the device), ``hwk`` for one bound to
    its authenticator; ``user`` too when the authenticator verified the person (PIN, biometric)."""
    key = "swk" if passkey.backed_up else "hwk"
    return [key, "user"] if user_verified else [key]


def _transports(raw: object) -> list[str]:
    known = {t.value for t in AuthenticatorTransport}
    return (
        [t for t in raw if isinstance(t, str) and t in known][:8] if isinstance(raw, list) else []
    )


class PasskeyService:
    def __init__(
        self, store: PasskeyStore, expiring: ExpiringStore, clock: Clock, issuer: str, name: str
    ) -> None:
        parts = urlsplit(issuer)
        self.rp_id = parts.hostname or "localhost"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._rp_name = name
        self._store = store
        self._expiring = expiring
        self._clock = clock

    async def of_account(self, account_id: str) -> list[Passkey]:
        return await self._store.of_account(account_id)

    async def _challenge(self, purpose: str, binding: str, challenge: bytes) -> None:
        await self._expiring.put(
            kv_keys.passkey_challenge(purpose, binding), challenge, CHALLENGE_TTL
        )

    async def _take_challenge(self, purpose: str, binding: str) -> bytes:
        challenge = await self._expiring.take(kv_keys.passkey_challenge(purpose, binding))
        if challenge is None:
            raise PasskeyError("expired")
        return challenge

    async def registration_options(
        self, account_id: str, user_name: str, display_name: str, binding: str
    ) -> str:
        """Options for ``navigator.credentials.create`` (JSON), excluding the account's passkeys."""
        existing = await self._store.of_account(account_id)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self._rp_name,
            user_id=account_id.encode(),
            user_name=user_name,
            user_display_name=display_name or user_name,
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                for p in existing
            ],
        )
        await self._challenge(REGISTER, binding, options.challenge)
        return options_to_json(options)

    async def register(self, account_id: str, binding: str, answer: str, name: str) -> Passkey:
        """Verify the browser's new credential and keep it under ``name``."""
        challenge = await self._take_challenge(REGISTER, binding)
        name = " ".join(name.split())[:MAX_NAME] or "Passkey"
        if await self._store.count(account_id) >= MAX_PER_ACCOUNT:
            raise PasskeyError("too_many")
        try:
            verified = verify_registration_response(
                credential=answer,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
            )
            transports = _transports(json.loads(answer).get("response", {}).get("transports"))
        except (WebAuthnException, InvalidJSONStructure, ValueError, AttributeError, TypeError):
            raise PasskeyError("invalid") from None
        passkey = Passkey(
            credential_id=bytes_to_base64url(verified.credential_id),
            account_id=account_id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=transports,
            aaguid=verified.aaguid,
            backed_up=verified.credential_backed_up,
            name=name,
            created_at=self._clock.now(),
            last_used_at=None,
        )
        if not await self._store.add(passkey):
            raise PasskeyError("exists")
        return passkey

    async def sign_in_options(self, binding: str) -> str:
        """Options for ``navigator.credentials.get`` (JSON): no credentials listed, so the
        browser offers the passkeys it holds for this site (discoverable credentials)."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=TIMEOUT_MS,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        await self._challenge(SIGN_IN, binding, options.challenge)
        return options_to_json(options)

    async def has_any(self, account_id: str) -> bool:
        return await self._store.count(account_id) > 0

    async def second_factor_options(self, account_id: str, binding: str) -> str:
        """Options for a passkey as the second factor of a signed-in session: the account's
        own passkeys only, and the authenticator must verify the person (RFC 8176 ``user``)."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=TIMEOUT_MS,
            allow_credentials=[
                PublicKeyCredentialDescriptor(
                    id=base64url_to_bytes(p.credential_id),
                    transports=[AuthenticatorTransport(t) for t in p.transports],
                )
                for p in await self._store.of_account(account_id)
            ],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        await self._challenge(SECOND_FACTOR, binding, options.challenge)
        return options_to_json(options)

    async def second_factor(self, account_id: str, binding: str, answer: str) -> PasskeySignIn:
        """A user-verifying assertion by one of ``account_id``'s passkeys, once."""
        proven = await self.authenticate(binding, answer, SECOND_FACTOR, verified_user=True)
        if proven.account_id != account_id:
            raise PasskeyError("other_account")
        return proven

    async def authenticate(
        self, binding: str, answer: str, purpose: str = SIGN_IN, verified_user: bool = False
    ) -> PasskeySignIn:
        """The account a passkey assertion proves, once: the challenge is spent and the
        signature counter must move forward (a cloned authenticator falls behind)."""
        challenge = await self._take_challenge(purpose, binding)
        try:
            credential = parse_authentication_credential_json(answer)
        except (WebAuthnException, InvalidJSONStructure, ValueError, TypeError):
            raise PasskeyError("invalid") from None
        passkey = await self._store.get(bytes_to_base64url(credential.raw_id))
        if passkey is None:
            raise PasskeyError("unknown")
        handle = credential.response.user_handle
        if handle is not None and handle != passkey.account_id.encode():
            raise PasskeyError("invalid")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=verified_user,
            )
        except WebAuthnException:
            raise PasskeyError("invalid") from None
        if not await self._store.use(
            passkey.credential_id, verified.new_sign_count, self._clock.now()
        ):
            raise PasskeyError("replayed")
        return PasskeySignIn(
            passkey.account_id, passkey.credential_id, methods_for(passkey, verified.user_verified)
        )

    async def rename(self, account_id: str, credential_id: str, name: str) -> bool:
        name = " ".join(name.split())[:MAX_NAME]
        return bool(name) and await self._store.rename(account_id, credential_id, name)

    async def remove(self, account_id: str, credential_id: str) -> bool:
        return await self._store.remove(account_id, credential_id)
