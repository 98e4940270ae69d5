"""The apps a session was used with, by protocol, on both expiring-store backends: what single
logout reads when the session ends."""

from __future__ import annotations

from gateway.identity.sessions import SessionApp, SessionService
from gateway.server.settings import Settings
from store import kv_keys
from store.clock import FakeClock


async def test_apps_of_each_protocol_come_back_at_the_end(expiring_store) -> None:
    sessions = SessionService(expiring_store, Settings(), FakeClock())
    _, session = sessions.new("acct-1", ["pwd"], "L1", "ua", "127.0.0.1")
    await sessions.store(session)
    # A member written before sessions knew protocols is a bare OIDC client id.
    await expiring_store.set_add(kv_keys.session_clients(session.sid), "old-oidc", 3600)
    await sessions.add_client(session, "tax")
    for ticket in ("ST-1", "ST-2"):
        app = SessionApp(
            "cas", "estate", (("service", "https://e.gov.cn/?a=1&b=2"), ("ticket", ticket))
        )
        await sessions.add_app(session.sid, app)
    assert await sessions.clients_of(session.sid) == ["estate", "old-oidc", "tax"]
    ended = await sessions.end(session.sid)
    assert ended is not None
    apps = ended[1]
    assert {(a.protocol, a.client_id) for a in apps} == {
        ("oidc", "old-oidc"), ("oidc", "tax"), ("cas", "estate")
    }  # fmt: skip
    cas = sorted(a.detail("ticket") for a in apps if a.protocol == "cas")
    assert cas == ["ST-1", "ST-2"]
    assert {a.detail("service") for a in apps if a.protocol == "cas"} == {
        "https://e.gov.cn/?a=1&b=2"
    }
    assert await sessions.end(session.sid) is None  # once
