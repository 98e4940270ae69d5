"""Which CAS service URLs may be registered and which services they take (CAS 3.0 §2.2.1):
exact URLs or prefixes ending in *, never regular expressions, never a way out of a prefix."""

from __future__ import annotations

import pytest

from policies.cas_services import (
    entries_overlap,
    service_matches,
    service_url_problem,
    service_urls_problem,
)
from policies.clients import registration_problem

EXACT = "https://estate.city.gov.cn/cas/login"
PREFIX = "https://permits.city.gov.cn/sso/*"


@pytest.mark.parametrize(
    ("service", "taken"),
    [
        (EXACT, True),
        (EXACT + "?next=%2Fprivate%2F", True),  # the app's own state in the query
        (EXACT + "/", False),
        (EXACT + "x", False),
        ("http://estate.city.gov.cn/cas/login", False),
        ("https://estate.city.gov.cn:8443/cas/login", False),
        (EXACT + "#f", False),
        ("https://permits.city.gov.cn/sso/", True),
        ("https://permits.city.gov.cn/sso/a/b?c=d", True),
        ("https://permits.city.gov.cn/ssox", False),
        ("https://permits.city.gov.cn/sso/../admin", False),
        ("https://permits.city.gov.cn/sso/%2e%2e/admin", False),
        ("https://permits.city.gov.cn/sso/%252e%252e/admin", False),
        ("https://permits.city.gov.cn/sso/..%5cadmin", False),
        # Servers that drop ;params from a segment (Tomcat) read these as "..".
        ("https://permits.city.gov.cn/sso/..;/admin/", False),
        ("https://permits.city.gov.cn/sso/%2e%2e;/admin", False),
        ("https://permits.city.gov.cn/sso/%2E%2E%3B/admin", False),
        ("https://permits.city.gov.cn/sso/.;x/admin", False),
        ("https://permits.city.gov.cn/sso/..%00/x", False),
        ("https://permits.city.gov.cn/sso/a%0d%0aSet-Cookie:x", False),
        ("https://permits.city.gov.cn/sso/%25252e%25252e/admin", False),
        ("https://permits.city.gov.cn/sso/%2525252e%2525252e;/admin", False),
        ("https://permits.city.gov.cn/sso/a..b/c;v=1", True),
        ("https://permits.city.gov.cn/sso/...;/x", True),
        ("https://permits.city.gov.cn.evil.example/sso/", False),
        ("https://user@permits.city.gov.cn/sso/", False),
        ("https://permits.city.gov.cn/sso/ spaced", False),
        ("https://permits.city.gov.cn/sso/中文", False),
    ],
)
def test_services_taken_by_exact_urls_and_prefixes(service: str, taken: bool) -> None:
    assert service_matches(service, (EXACT, PREFIX)) is taken


def test_a_registered_query_is_matched_exactly() -> None:
    registered = "https://a.city.gov.cn/login?app=1"
    assert service_matches(registered, (registered,))
    assert not service_matches("https://a.city.gov.cn/login?app=2", (registered,))


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("https://a.city.gov.cn/sso*", "ending with /"),
        ("https://a.city.gov.cn/*/x", "one * only"),
        ("https://a.city.gov.cn/sso/.*", "ending with /"),
        ("^https://a\\.city\\.gov\\.cn/.*$", "one * only"),
        ("http://a.city.gov.cn/sso/", "use https"),
        ("https://a.city.gov.cn/sso/?x=1*", "ending with /"),
        ("https://a.city.gov.cn/a/../b", ". or .."),
        ("https://u:p@a.city.gov.cn/", "user information"),
    ],
)
def test_what_cannot_be_registered(entry: str, words: str) -> None:
    problem = service_url_problem(entry)
    assert problem is not None and words in problem


def test_registrations_of_cas_apps() -> None:
    base = {"name": "不动产登记", "public": True, "redirect_uris": [],
            "post_logout_redirect_uris": [], "backchannel_logout_uri": None, "grant_types": (),
            "token_endpoint_auth_method": None, "scopes": []}  # fmt: skip
    assert registration_problem(**base, protocol="cas", service_urls=[EXACT, PREFIX]) is None
    assert registration_problem(**base, protocol="cas", service_urls=[])[0] == "service_urls"
    assert registration_problem(**base, protocol="wsfed", service_urls=[EXACT])[0] == "protocol"
    assert registration_problem(**base, protocol="saml", service_urls=[EXACT])[0] == "sp_metadata"
    oauth = {**base, "grant_types": ("authorization_code",), "redirect_uris": [EXACT]}
    assert registration_problem(**oauth, protocol="cas", service_urls=[EXACT])[0] == "grant_type"
    # Service URLs and CAS options belong to CAS apps only.
    assert registration_problem(**oauth, service_urls=[EXACT])[0] == "service_urls"
    assert registration_problem(**oauth, cas_options=True)[0] == "service_urls"
    assert service_urls_problem([EXACT] * 51) == "at most 50 service URLs"


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        (EXACT, EXACT, True),
        (EXACT, EXACT + "?next=1", True),  # the exact URL without a query takes that one too
        (EXACT + "?app=1", EXACT + "?app=2", False),
        (EXACT, EXACT + "/", False),
        (EXACT, "https://estate.city.gov.cn/*", True),
        (EXACT, "https://estate.city.gov.cn/cas/login/*", False),
        (PREFIX, "https://permits.city.gov.cn/*", True),
        (PREFIX, "https://permits.city.gov.cn/sso/inner/*", True),
        (PREFIX, "https://permits.city.gov.cn/ssx/*", False),
        (PREFIX, "https://permits.city.gov.cn/sso/page", True),
        ("https://a.city.gov.cn/*", "https://a.city.gov.cn.evil.example/*", False),
    ],
)
def test_entries_that_two_apps_cannot_both_hold(first: str, second: str, overlap: bool) -> None:
    assert entries_overlap(first, second) is overlap
    assert entries_overlap(second, first) is overlap
