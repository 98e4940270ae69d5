"""OAuth client registrations: creating them, and reading them fast on the token path."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.identity.errors import AlreadyExists, InvalidInput
from policies.app_lifecycle import in_service
from policies.clients import JWT, registration_problem
from store.clients import ClientStore
from store.clock import Clock
from store.errors import Conflict
from store.records import Client

_NEGATIVE_CACHE_SECONDS = 5.0


def secret_digest(secret: str) -> str:
    """Client secrets are 256 random bits, so a fast hash is enough (a slow one would only cost
    the token endpoint)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(client: Client, presented: str) -> bool:
    if client.secret_digest is None:
        return False
    return hmac.compare_digest(secret_digest(presented), client.secret_digest)


@dataclass(frozen=True)
class Registered:
    client: Client
    client_secret: str | None  # shown once, never stored


class ClientService:
    def __init__(self, store: ClientStore, clock: Clock, cache_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Client | None, float]] = {}

    async def register(
        self,
        *,
        name: str,
        redirect_uris: Sequence[str] = (),
        post_logout_redirect_uris: Sequence[str] = (),
        backchannel_logout_uri: str | None = None,
        frontchannel_logout_uri: str | None = None,
        grant_types: Sequence[str] | None = None,
        subject_type: str = "pairwise",
        sector_identifier: str | None = None,
        public: bool = False,
        require_consent: bool = False,
        token_endpoint_auth_method: str | None = None,
        scopes: Sequence[str] = (),
        access_token_format: str = JWT,
        resource_server: bool = False,
        admin_console: bool = False,
        dpop_bound_access_tokens: bool = False,
        require_pushed_authorization_requests: bool = False,
        requests_per_minute: int = 0,
    ) -> Registered:
        grants = tuple(dict.fromkeys(grant_types or ("authorization_code", "refresh_token")))
        problem = registration_problem(
            name=name,
            public=public,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            grant_types=grants,
            token_endpoint_auth_method=token_endpoint_auth_method,
            scopes=scopes,
            frontchannel_logout_uri=frontchannel_logout_uri,
            subject_type=subject_type,
            sector_identifier=sector_identifier,
            access_token_format=access_token_format,
            resource_server=resource_server,
        )
        if problem:
            raise InvalidInput(*problem)
        secret = None if public else secrets.token_urlsafe(32)
        now = self._clock.now()
        client = Client(
            client_id=str(uuid.uuid4()),
            name=name.strip(),
            public=public,
            secret_digest=None if secret is None else secret_digest(secret),
            token_endpoint_auth_method="none" if public else token_endpoint_auth_method,
            redirect_uris=tuple(dict.fromkeys(redirect_uris)),
            post_logout_redirect_uris=tuple(dict.fromkeys(post_logout_redirect_uris)),
            backchannel_logout_uri=backchannel_logout_uri,
            frontchannel_logout_uri=frontchannel_logout_uri,
            subject_type=subject_type,
            sector_identifier=sector_identifier,
            grant_types=grants,
            scopes=tuple(dict.fromkeys(scopes)),
            require_consent=require_consent,
            access_token_format=access_token_format,
            resource_server=resource_server,
            admin_console=admin_console,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
            require_pushed_authorization_requests=require_pushed_authorization_requests,
            requests_per_minute=requests_per_minute,
            created_at=now,
            updated_at=now,
        )
        try:
            await self._store.create(client)
        except Conflict as error:
            raise AlreadyExists(str(error)) from error
        self._cache.pop(client.client_id, None)
        return Registered(client, secret)

    async def get(self, client_id: str) -> Client | None:
        """A client record, from this instance's cache when fresh (changes made elsewhere show
        after at most ``cache_seconds``)."""
        now = self._clock.now()
        cached = self._cache.get(client_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        client = await self._store.get(client_id)
        ttl = self._cache_seconds if client else min(self._cache_seconds, _NEGATIVE_CACHE_SECONDS)
        if ttl > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (client, now + ttl)
        return client

    async def in_service(self, client_id: str) -> Client | None:
        """The client when it is live: a draft, suspended or retired app is, to the OAuth
        endpoints, no client at all (``invalid_client``)."""
        client = await self.get(client_id)
        return client if client is not None and in_service(client.state) else None

    def forget(self, client_id: str) -> None:
        self._cache.pop(client_id, None)

    async def list(self) -> list[Client]:
        return await self._store.list()
