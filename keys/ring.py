"""The key ring: which key signs, which keys are published, and rotation.

Each algorithm has three kinds of key. The *next* key is published in the JWKS but does not sign,
so relying parties have it cached before it starts signing. The *active* key signs. *Retired* keys
stay published until every token they signed has expired. Rotation moves next → active →
retired and adds a new next key, as one compare-and-swap on the ring's generation, so of two
instances rotating at once exactly one does.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from dataclasses import dataclass

from joserfc.errors import SecurityWarning
from joserfc.jws import JWSRegistry

from keys.generate import SigningJWK, generate_key, load_private, private_pem, public_jwk
from keys.master import MasterKey
from keys.signer import JwsSigner
from store.clock import Clock
from store.records import SigningKey
from store.signing_keys import SigningKeyStore

# RFC 9864 prefers the fully-specified "Ed25519", but relying parties today know "EdDSA"; it is
# offered on purpose, so joserfc's warning on every signature is noise.
warnings.filterwarnings("ignore", "EdDSA is deprecated", SecurityWarning)

# How long after a rotation other instances may still sign with the old key (they reload the
# ring at least this often: the largest key_ring_reload_seconds allowed) plus clock skew.
RELOAD_SECONDS = 30
RETIRE_GRACE_SECONDS = RELOAD_SECONDS + 90


class KeyRingError(Exception):
    """The key ring cannot do what was asked."""


class KeyRotationTooSoon(KeyRingError):
    """The next key has not been published long enough for cached JWKS copies to hold it."""


@dataclass(frozen=True)
class RotationResult:
    alg: str
    rotated: bool  # False: another instance rotated first (or a condition did not hold)
    active_kid: str
    next_kid: str


@dataclass(frozen=True)
class _Loaded:
    generations: dict[str, int]
    records: list[SigningKey]
    signing: dict[str, JwsSigner]  # the active key of each algorithm


class KeyRing:
    def __init__(
        self,
        store: SigningKeyStore,
        master_key: MasterKey,
        clock: Clock,
        algs: list[str],
        longest_token_ttl: int,
        jwks_max_age: int,
        rotation_days: float = 0,
    ) -> None:
        self._store = store
        self._master = master_key
        self._clock = clock
        self.algs = list(algs)
        self.default_alg = self.algs[0]
        # joserfc builds a registry per call unless given one; ours are built once.
        self.registry = JWSRegistry(algorithms=self.algs)
        self._signing_registries = {alg: JWSRegistry(algorithms=[alg]) for alg in self.algs}
        self._longest_token_ttl = longest_token_ttl
        self._jwks_max_age = jwks_max_age
        self._rotation_seconds = rotation_days * 86400
        self._loaded = _Loaded({}, [], {})
        self._jwks: tuple[bytes, float] | None = None

    # -- reading -------------------------------------------------------------------------------

    async def reload(self) -> None:
        """Read the ring from the store; cheap enough to run every few seconds. A private key
        is decrypted and imported once per kid (a kid's key never changes): importing an RSA
        key checks it, which on the event loop stalls every request."""
        generations, records = await self._store.load()
        loaded = self._loaded
        if generations == loaded.generations and records == loaded.records:
            return
        signing = {}
        for record in records:
            if record.state == "active" and record.alg in self.algs:
                known = loaded.signing.get(record.alg)
                if known is not None and known.key.kid == record.kid:
                    signing[record.alg] = known
                    continue
                pem = self._master.decrypt(record.private_key, _context(record.kid, record.alg))
                key = await asyncio.to_thread(load_private, pem, record.alg, record.kid)
                signing[record.alg] = JwsSigner(
                    key, record.alg, self._signing_registries[record.alg]
                )
        self._loaded = _Loaded(generations, records, signing)
        self._jwks = None

    def _signer(self, alg: str | None) -> JwsSigner:
        alg = alg or self.default_alg
        try:
            return self._loaded.signing[alg]
        except KeyError:
            raise KeyRingError(f"no active {alg} signing key; run `yihaotong init`") from None

    def signing_key(self, alg: str | None = None) -> SigningJWK:
        """The active key of ``alg`` (the default algorithm when None)."""
        return self._signer(alg).key

    def sign(
        self, claims: dict[str, object], alg: str | None = None, typ: str | None = None
    ) -> str:
        """A compact JWS of ``claims`` by the active key of ``alg``, its kid in the header.
        (The algorithm is named explicitly: joserfc refuses EdDSA unless asked, RFC 9864.)"""
        return self._signer(alg).sign(claims, typ or "JWT")

    def records(self) -> list[SigningKey]:
        return list(self._loaded.records)

    def generation(self, alg: str) -> int | None:
        return self._loaded.generations.get(alg)

    def published(self) -> list[SigningKey]:
        now = self._clock.now()
        return [
            record
            for record in self._loaded.records
            if record.state != "retired" or (record.publish_until or 0) > now
        ]

    def jwks_json(self) -> bytes:
        """The JWKS document (public keys only), cached until a retired key drops out."""
        now = self._clock.now()
        if self._jwks is None or self._jwks[1] <= now:
            published = self.published()
            document = {"keys": [record.public_jwk for record in published]}
            ends = [r.publish_until for r in published if r.state == "retired" and r.publish_until]
            body = json.dumps(document, separators=(",", ":")).encode()
            self._jwks = (body, min(ends, default=float("inf")))
        return self._jwks[0]

    # -- writing -------------------------------------------------------------------------------

    async def ensure(self) -> None:
        """Give every configured algorithm an active and a next key (idempotent, race-safe)."""
        await self.reload()
        for alg in self.algs:
            if alg in self._loaded.generations:
                continue
            now = self._clock.now()
            active = await self._new_record(alg, "active", now)
            next_key = await self._new_record(alg, "next", now)
            await self._store.initialize(alg, active, next_key, now)
        await self.reload()

    async def rotate(
        self, alg: str | None = None, *, force: bool = False, expected_generation: int | None = None
    ) -> RotationResult:
        """Promote the next key of ``alg``. ``expected_generation`` rotates only if the ring is
        still there; ``force`` skips the wait for JWKS caches (for a compromised key)."""
        alg = alg or self.default_alg
        if alg not in self.algs:
            raise KeyRingError(f"{alg} is not one of the configured algorithms {self.algs}")
        await self.reload()
        generation = self._loaded.generations.get(alg)
        if generation is None:
            raise KeyRingError(f"the {alg} ring is empty; run `yihaotong init`")
        if expected_generation is not None and expected_generation != generation:
            return self._result(alg, rotated=False)
        now = self._clock.now()
        pending = self._one(alg, "next")
        published_for = now - pending.created_at
        if not force and published_for < self._jwks_max_age:
            raise KeyRotationTooSoon(
                f"the next {alg} key {pending.kid} has been published for {published_for:.0f} s; "
                f"relying parties may cache the JWKS for {self._jwks_max_age} s; wait "
                f"{self._jwks_max_age - published_for:.0f} s more (or force it if the key leaked)"
            )
        new_next = await self._new_record(alg, "next", now)
        rotated = await self._store.rotate(
            alg,
            generation,
            new_next,
            now,
            retired_publish_until=now + self._longest_token_ttl + RETIRE_GRACE_SECONDS,
        )
        await self.reload()
        return self._result(alg, rotated=rotated)

    async def rotate_if_due(self) -> list[RotationResult]:
        """Rotate each algorithm whose active key is older than the rotation period."""
        if not self._rotation_seconds:
            return []
        await self.reload()
        results = []
        now = self._clock.now()
        for alg in self.algs:
            active = self._one(alg, "active")
            if now - (active.activated_at or active.created_at) >= self._rotation_seconds:
                results.append(
                    await self.rotate(alg, expected_generation=self._loaded.generations[alg])
                )
        return results

    # -- helpers -------------------------------------------------------------------------------

    def _one(self, alg: str, state: str) -> SigningKey:
        for record in self._loaded.records:
            if record.alg == alg and record.state == state:
                return record
        raise KeyRingError(f"the {alg} ring has no {state} key")

    def _result(self, alg: str, rotated: bool) -> RotationResult:
        return RotationResult(
            alg, rotated, self._one(alg, "active").kid, self._one(alg, "next").kid
        )

    async def _new_record(self, alg: str, state: str, now: float) -> SigningKey:
        key = await asyncio.to_thread(generate_key, alg)
        kid = str(key.kid)
        return SigningKey(
            kid=kid,
            alg=alg,
            state=state,
            public_jwk=public_jwk(key, alg),
            private_key=self._master.encrypt(private_pem(key), _context(kid, alg)),
            created_at=now,
            activated_at=now if state == "active" else None,
        )


def _context(kid: str, alg: str) -> str:
    return f"signing-key:{alg}:{kid}"
