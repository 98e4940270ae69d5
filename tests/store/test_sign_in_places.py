"""The places an account signed in from, on both databases: each arrival answers with what was
known before it, and each kind keeps at most its bound, the most recent."""

from __future__ import annotations

from store.database import Database
from store.sign_in_places import KEEP, SignInPlaceStore


async def test_an_arrival_answers_what_was_known_before_it_and_keeps_the_bound(
    database: Database,
) -> None:
    places = SignInPlaceStore(database)
    assert await places.arrive("a1", {"device": "d0", "province": "CN-44"}, 1.0) == {
        "device": set(),
        "province": set(),
    }
    known = await places.arrive("a1", {"device": "d1", "province": ""}, 2.0)
    assert known == {"device": {"d0"}, "province": {"CN-44"}}
    bound = KEEP["device"]
    for n in range(2, bound + 3):
        await places.arrive("a1", {"device": f"d{n}", "province": "CN-44"}, float(n + 1))
    devices = (await places.known("a1"))["device"]
    assert devices == {f"d{n}" for n in range(3, bound + 3)}, "the oldest are forgotten"
    assert await places.known("a2") == {"device": set(), "province": set()}
