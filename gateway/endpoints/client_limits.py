"""Per-client request limits at the token, introspection and UserInfo endpoints: counted after
the client is known to be who it says (no one can use up another client's budget by naming
it), each client on its own counter, each endpoint on its own."""

from __future__ import annotations

from starlette.responses import Response

from gateway.identity.metrics import CLIENT_LIMITED
from gateway.identity.rate_limits import client_over_limit
from gateway.server.responses import oauth_error
from gateway.server.services import Services
from store.records import Client


def limit_of(services: Services, client: Client | None) -> int:
    """Requests a minute ``client`` may make at each endpoint (0: no limit)."""
    own = client.requests_per_minute if client is not None else 0
    return own or services.settings.client_requests_per_minute


async def refused_for_rate(services: Services, endpoint: str, client: Client) -> Response | None:
    """The 429 to answer when ``client`` is over its limit at ``endpoint``; else None."""
    per_minute = limit_of(services, client)
    if per_minute <= 0:
        return None
    wait = await client_over_limit(services.expiring, endpoint, client.client_id, per_minute)
    if wait is None:
        return None
    CLIENT_LIMITED.labels(endpoint, client.client_id).inc()
    # RFC 6749 §5.2 and RFC 6750 §3.1 define no code for "too many requests";
    # temporarily_unavailable (registered, RFC 6749 §4.1.2.1) is what the gateway already
    # answers when it cannot serve now, and Retry-After says when to come back (RFC 6585 §4).
    return oauth_error(
        "temporarily_unavailable",
        "The client is over its request limit. Try again later.",
        429,
        {"Retry-After": str(wait)},
    )
