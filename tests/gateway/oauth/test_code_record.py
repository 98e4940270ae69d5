"""Authorization codes: what one is, and its grant's round trip through the expiring store."""

from __future__ import annotations

import dataclasses
import json
import re

from gateway.oauth.grants import AuthorizationCodeGrant
from gateway.oauth.models import CodeRecord


def test_a_code_carries_256_bits_from_the_os_and_never_repeats() -> None:
    grant = AuthorizationCodeGrant.__new__(AuthorizationCodeGrant)  # the method needs no state
    codes = {grant.generate_authorization_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", code) for code in codes)


def test_a_code_record_comes_back_as_it_was_stored() -> None:
    record = CodeRecord(
        client_id="app",
        redirect_uri="https://app.example/cb",
        scope="openid profile",
        account_id="acct",
        subject="sub",
        auth_time=1700000000.5,
        amr=["pwd", "otp"],
        acr="2",
        sid="sid",
        nonce="n-0S6",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
        claims={"id_token": {"email": None, "sub": {"value": "sub"}}, "userinfo": {}},
        act_for="ent-1",
        extra_claims={"roles": ["reviewer"], "department": {"id": "d1"}},
    )
    stored = record.to_bytes()
    assert CodeRecord.from_bytes(stored) == record
    assert json.loads(stored) == dataclasses.asdict(record)
