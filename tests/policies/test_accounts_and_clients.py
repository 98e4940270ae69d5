from __future__ import annotations

import pytest

from policies.accounts import (
    canonical_phone,
    canonical_username,
    email_problem,
    password_problem,
    username_problem,
)
from policies.clients import registration_problem


def test_usernames_compare_in_one_form() -> None:
    assert canonical_username(" Ａｌｉｃｅ ") == "alice"
    assert username_problem("alice.wang@dept") is None
    for bad in ("a", "-alice", "张三", "alice wang", "x" * 65):
        assert username_problem(canonical_username(bad)) is not None, bad


def test_password_rules() -> None:
    assert password_problem("long enough") is None
    assert "at least" in (password_problem("short") or "")
    assert "at most" in (password_problem("x" * 1025) or "")
    assert "username" in (password_problem("Alice123", "alice123") or "")


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("(138) 0013 8000", "13800138000"),
        ("+85291234567", "+85291234567"),
        ("12345", None),
        ("23800138000", None),
        ("+0123456789", None),
    ],
)
def test_phone_numbers(raw: str, canonical: str | None) -> None:
    assert canonical_phone(raw) == canonical


def test_email() -> None:
    assert email_problem("wang@example.gov.cn") is None
    for bad in ("wang", "wang@", "@example.gov.cn", "a b@example.gov.cn", "wang@localhost"):
        assert email_problem(bad) is not None, bad


def registration(**changes: object) -> tuple[str, str] | None:
    values: dict[str, object] = {
        "name": "市民服务",
        "public": False,
        "redirect_uris": ["https://app.example.gov.cn/cb"],
        "post_logout_redirect_uris": [],
        "backchannel_logout_uri": None,
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": None,
        "scopes": [],
    }
    values.update(changes)
    return registration_problem(**values)  # type: ignore[arg-type]


def test_a_good_registration_passes() -> None:
    assert registration() is None
    assert registration(grant_types=["client_credentials"], redirect_uris=[]) is None
    assert registration(public=True, redirect_uris=["cn.gov.app:/cb"]) is None
    assert registration(subject_type="pairwise", sector_identifier="tax.city.gov.cn") is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"grant_types": []}, "grant_type"),
        ({"grant_types": ["implicit"]}, "grant_type"),
        ({"grant_types": ["refresh_token"]}, "grant_type"),
        ({"public": True, "grant_types": ["client_credentials"]}, "grant_type"),
        ({"redirect_uris": []}, "redirect_uri"),
        ({"redirect_uris": ["cn.gov.app:/cb"]}, "redirect_uri"),
        ({"post_logout_redirect_uris": ["http://evil.example/"]}, "post_logout_redirect_uri"),
        ({"backchannel_logout_uri": "cn.gov.app:/bcl"}, "backchannel_logout_uri"),
        (
            {"public": True, "token_endpoint_auth_method": "client_secret_basic"},
            "token_endpoint_auth_method",
        ),
        ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method"),
        ({"scopes": ["ok", "not ok"]}, "scope"),
        ({"sector_identifier": "tax.city.gov.cn"}, "sector_identifier"),  # public subjects
        ({"subject_type": "pairwise", "sector_identifier": "https://x/"}, "sector_identifier"),
        ({"subject_type": "secret"}, "subject_type"),
        (
            {
                "subject_type": "pairwise",
                "redirect_uris": ["https://a.example/cb", "https://b.example/cb"],
            },
            "sector_identifier",
        ),
    ],
)
def test_registration_problems_name_the_field(changes: dict, field: str) -> None:
    problem = registration(**changes)
    assert problem is not None and problem[0] == field
