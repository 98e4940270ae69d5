"""SSO session lifetimes on both expiring stores, with an injected clock for the memory one."""

from __future__ import annotations

import pytest

from gateway.identity.sessions import SessionService, SsoSession
from gateway.server.settings import Settings
from store.clock import FakeClock
from store.memory import MemoryStore


def service(clock: FakeClock, **settings: object) -> SessionService:
    values = {"session_idle_seconds": 600, "session_max_seconds": 3600, **settings}
    return SessionService(MemoryStore(clock), Settings(**values), clock)


async def started(sessions: SessionService, *made: object) -> tuple[str, SsoSession]:
    """A session made and stored, as a sign-in does."""
    cookie, session = sessions.new(*made)  # type: ignore[arg-type]
    await sessions.store(session)
    return cookie, session


async def test_cookie_secret_is_checked_not_just_the_sid() -> None:
    clock = FakeClock()
    sessions = service(clock)
    cookie, session = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.1")
    assert (await sessions.from_cookie(cookie)).sid == session.sid
    assert await sessions.from_cookie(f"{session.sid}.guessed") is None
    assert await sessions.from_cookie(session.sid) is None
    assert await sessions.from_cookie(None) is None


async def test_idle_timeout_and_its_refresh() -> None:
    clock = FakeClock()
    sessions = service(clock)
    cookie, _ = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.1")
    clock.advance(599)
    assert await sessions.from_cookie(cookie) is not None  # use refreshes the idle timer
    clock.advance(599)
    assert await sessions.from_cookie(cookie) is not None
    clock.advance(601)
    assert await sessions.from_cookie(cookie) is None


async def test_absolute_lifetime_ends_even_a_busy_session() -> None:
    clock = FakeClock()
    sessions = service(clock)
    cookie, _ = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.1")
    for _ in range(8):  # used every 500 s, ending past the 3600 s limit
        clock.advance(500)
        if clock.now() - 1_800_000_000.0 < 3600:
            assert await sessions.from_cookie(cookie) is not None
    assert await sessions.from_cookie(cookie) is None


async def test_sessions_of_an_account_and_ending_one() -> None:
    clock = FakeClock()
    sessions = service(clock)
    _, first = await started(sessions, "acct", ["pwd"], "L1", "phone", "10.0.0.1")
    clock.advance(1)
    _, second = await started(sessions, "acct", ["pwd"], "L1", "laptop", "10.0.0.2")
    await started(sessions, "other", ["pwd"], "L1", "x", "10.0.0.3")
    assert [s.sid for s in await sessions.of_account("acct")] == [second.sid, first.sid]
    await sessions.add_client(first, "tax")
    await sessions.add_client(first, "health")
    ended = await sessions.end(first.sid)
    assert ended is not None
    assert ended[0].user_agent == "phone"
    assert [app.client_id for app in ended[1]] == ["health", "tax"]
    assert [s.sid for s in await sessions.of_account("acct")] == [second.sid]
    assert await sessions.end(first.sid) is None


@pytest.mark.parametrize(
    ("issuer", "name", "secure"),
    [
        ("http://localhost:8000", "yht_session", False),
        ("https://id.city.gov.cn", "__Host-yht_session", True),
    ],
)
def test_cookie_name_follows_the_issuer_scheme(issuer: str, name: str, secure: bool) -> None:
    sessions = SessionService(MemoryStore(), Settings(issuer=issuer), FakeClock())
    assert (sessions.cookie_name, sessions.secure) == (name, secure)


async def test_an_update_never_revives_an_ended_session() -> None:
    clock = FakeClock()
    sessions = service(clock)
    cookie, session = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.1")
    in_flight = await sessions.from_cookie(cookie)  # a request still holding the record
    assert in_flight is not None
    await sessions.end(session.sid)
    clock.advance(120)
    await sessions.touch(in_flight)  # would rewrite the record with a plain put
    assert await sessions.reauthenticate(in_flight, ["pwd"], "L1") is None
    assert await sessions.get(session.sid) is None
    assert await sessions.from_cookie(cookie) is None


async def test_reauthentication_keeps_the_sid_and_renews_the_secret() -> None:
    clock = FakeClock()
    sessions = service(clock)
    cookie, session = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.1")
    clock.advance(300)
    renewed = await sessions.reauthenticate(session, ["pwd", "otp"], "L2")
    assert renewed is not None and renewed != cookie
    assert renewed.split(".")[0] == session.sid
    assert await sessions.from_cookie(cookie) is None, "the old cookie secret is dead"
    current = await sessions.from_cookie(renewed)
    assert current is not None and current.auth_time == clock.now() and current.acr == "L2"


async def test_the_apps_of_a_session_are_listed_for_its_whole_life_and_per_session() -> None:
    """A logout notifies every app the session visited: each session lists its own apps, and an
    app listed once stays listed until the session ends, however often it comes back."""
    clock = FakeClock()
    sessions = service(clock)
    _, first = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.1")
    _, second = await started(sessions, "acct", ["pwd"], "L1", "UA", "10.0.0.2")
    await sessions.add_client(first, "portal")
    clock.advance(3000)
    await sessions.add_client(first, "portal")  # a visit late in the session's life
    await sessions.add_client(second, "portal")
    await sessions.add_client(first, "tax")
    clock.advance(599)  # the first session's last second (max 3600)
    assert await sessions.clients_of(first.sid) == ["portal", "tax"]
    assert await sessions.clients_of(second.sid) == ["portal"]
