from __future__ import annotations

import pytest

from policies.redirect_uris import (
    https_or_loopback_problem,
    is_loopback_host,
    redirect_uri_matches,
    redirect_uri_problem,
)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.gov.cn/cb",
        "https://app.example.gov.cn:8443/cb?tenant=1",
        "http://127.0.0.1/cb",
        "http://[::1]:9000/cb",
        "http://localhost:3000/cb",
        "cn.gov.city.office:/oauth2redirect",
    ],
)
def test_acceptable_redirect_uris(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://app.example.gov.cn/cb", "loopback"),
        ("http://127.0.0.1.nip.io/cb", "loopback"),
        ("https://app.example.gov.cn/cb#x", "fragment"),
        ("https://app.example.gov.cn/cb#", "fragment"),
        ("https://*.example.gov.cn/cb", "wildcard"),
        ("javascript:alert(1)", "scheme"),
        ("data:text/html,hi", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("myapp://cb", "scheme"),  # private-use schemes are reverse domain names
        ("/cb", "absolute"),
        ("https:///cb", "host"),
        ("https://app.example.gov.cn/c b", "whitespace"),
        ("https://app.example.gov.cn:99999/cb", "valid"),
        ("https://a.example/" + "x" * 2000, "longer"),
        ("https://例子.cn/cb", "non-ASCII"),
        ("https://rp.example/回调", "non-ASCII"),
        ("https://user:pw@rp.example/cb", "user information"),
        ("https://rp.example./cb", "empty label"),
        ("https://rp..example/cb", "empty label"),
        ("http://127.0.0.1./cb", "empty label"),
    ],
)
def test_refused_redirect_uris(uri: str, reason: str) -> None:
    problem = redirect_uri_problem(uri)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://localhost:3000/cb", "8252"),
        ("http://LOCALHOST/cb", "8252"),
        ("cn.gov.city.app://callback", "authority"),
    ],
)
def test_native_apps_follow_rfc_8252_strictly(uri: str, reason: str) -> None:
    assert redirect_uri_problem(uri) is None  # a web client may (matched exactly)
    problem = redirect_uri_problem(uri, native=True)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "uri",
    [
        "cn.gov.city.app:/callback",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb",
        "https://app.city.gov.cn/native/cb",
    ],
)
def test_native_redirects_a_public_client_may_register(uri: str) -> None:
    assert redirect_uri_problem(uri, native=True) is None


def test_server_uris_never_take_private_schemes() -> None:
    assert https_or_loopback_problem("cn.gov.app:/logout") is not None
    assert https_or_loopback_problem("https://app.example.gov.cn/bcl") is None


def test_loopback_hosts() -> None:
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.5")
    assert is_loopback_host("[::1]") and is_loopback_host("::1")
    assert not is_loopback_host("example.gov.cn") and not is_loopback_host(None)
    assert not is_loopback_host("10.0.0.1")


def test_matching_is_exact() -> None:
    registered = ("https://app.example.gov.cn/cb",)
    assert redirect_uri_matches("https://app.example.gov.cn/cb", registered, native=False)
    assert redirect_uri_matches("https://app.example.gov.cn/cb", registered, native=True)
    for near in (
        "https://app.example.gov.cn/cb/",
        "https://app.example.gov.cn/cb?x=1",
        "https://APP.example.gov.cn/cb",
        "https://app.example.gov.cn/CB",
        "https://app.example.gov.cn:443/cb",
        "https://app.example.gov.cn/cb#",
        "http://app.example.gov.cn/cb",
        "https://app.example.gov.cn.evil.example/cb",
    ):
        for native in (False, True):
            assert not redirect_uri_matches(near, registered, native=native), near


def test_loopback_ip_matches_on_any_port_only_for_native_apps() -> None:
    registered = ("http://127.0.0.1/cb", "http://[::1]:8080/cb", "http://localhost:3000/cb")

    def matches(uri: str, among: tuple[str, ...] = registered) -> bool:
        return redirect_uri_matches(uri, among, native=True)

    assert matches("http://127.0.0.1:51234/cb")
    assert matches("http://[::1]:1/cb")
    assert not matches("http://127.0.0.1:51234/other")
    assert not matches("http://127.0.0.1:51234/cb?x=1")
    assert not matches("http://[::1]:1/cb", ("http://127.0.0.1/cb",))
    # "localhost" is a name anyone's resolver may answer for: exact match only (RFC 8252 §8.3).
    assert not matches("http://localhost:4000/cb")
    assert matches("http://localhost:3000/cb")
    assert not matches("https://127.0.0.1:51234/cb")
    assert not matches("http://127.0.0.1:bad/cb")
    # Only the port may vary: no user information, no fragments, no odd characters.
    assert not matches("http://x@127.0.0.1:9999/cb")
    assert not matches("http://例@127.0.0.1:9999/cb")
    assert not matches("http://127.0.0.1:9999/cb#x")


@pytest.mark.parametrize(
    ("registered", "requested"),
    [
        ("http://127.0.0.1:9/cb", "http://127.0.0.1:10/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"),
        ("http://[::1]:9/cb", "http://[::1]:10/cb"),
        ("http://[::1]/cb", "http://[::1]:51234/cb"),
        ("http://localhost:9/cb", "http://localhost:10/cb"),
    ],
)
def test_a_web_clients_loopback_uri_is_matched_exactly(registered: str, requested: str) -> None:
    """RFC 8252 §7.3's any port is for native apps: a web client's code goes to the port it
    registered and to no other."""
    assert redirect_uri_matches(registered, (registered,), native=False)
    assert not redirect_uri_matches(requested, (registered,), native=False)
    native_may = "localhost" not in registered
    assert redirect_uri_matches(requested, (registered,), native=True) is native_may
