"""Every ``error_description`` the gateway can send stays within RFC 6749 §5.2's characters
(%x20-21 / %x23-5B / %x5D-7E; RFC 6750 §3 has the same rule for ``WWW-Authenticate``).

Three ways: every text written in the source (ours, and Authlib's for the grants we run) is read
statically; the endpoints are driven into their errors over HTTP; and the one function every
error passes through is shown to repair a bad text it is handed."""

from __future__ import annotations

import ast
import base64
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import authlib
import authlib.oauth2.rfc6749
import authlib.oauth2.rfc6750
import authlib.oauth2.rfc7009
import authlib.oauth2.rfc7636
import authlib.oauth2.rfc7662
import authlib.oidc.core
import httpx
import pytest
from authlib.common.errors import AuthlibBaseError
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Error

from gateway.oauth.models import FormRequest
from gateway.server.responses import DESCRIPTION, description_text, oauth_error
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, pkce_pair
from tests.gateway.helpers import second_instance
from tests.support import parse_python

ROOT = Path(__file__).resolve().parents[3]
GATEWAY, POLICIES = ROOT / "gateway", ROOT / "policies"
AUTHLIB = Path(authlib.__file__).parent
# Authlib's modules whose errors reach our clients (the grants, PKCE, OIDC, the endpoints).
AUTHLIB_PARTS = ["oauth2/rfc6749", "oauth2/rfc7636", "oauth2/rfc7009", "oauth2/rfc7662"]
AUTHLIB_PARTS += ["oauth2/rfc9068", "oauth2/rfc9207", "oidc/core"]
# Raised only by create_response_mode_response, which only the implicit and hybrid grants
# call; the gateway registers neither (and the guard would repair it).
UNREACHED = {'Invalid "response_mode" value'}


def _error_classes() -> set[str]:
    found: set[str] = set()
    pending = [AuthlibBaseError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.add(sub.__name__)
            pending.append(sub)
    return found


# Callable name -> (position of the description argument, its keyword).
CARRIERS: dict[str, tuple[int, str | None]] = {
    "oauth_error": (1, "description"),
    "oauth_error_fields": (1, "description"),
    "_bearer_error": (2, "description"),
    "unauthenticated": (0, "description"),
    "insufficient": (1, "description"),
    "description_text": (0, "description"),
    "FormError": (0, "description"),
    "BadClientAuth": (0, None),
    "Decision": (2, "reason"),  # a denial's reason is sent as access_denied's description
    **{name: (0, "description") for name in _error_classes()},
}
# Variables that hold a description before it is passed on: their texts are collected too.
HOLDERS = {"reason", "description"}
# Values interpolated into f-string descriptions: numbers, ASCII-only names, or names from a
# fixed vocabulary (account kinds, assurance levels, admin scopes).
SAFE_INTERPOLATIONS = {"_ascii(name)", "MAX_FIELDS", "max_bytes", "scope", "facts.kind"}
SAFE_INTERPOLATIONS |= {"policy.min_acr", "requested_acr", "facts.requested_acr"}
# Descriptions passed on from a carrier or holder collected here, or the guard's own input.
PASSED_ON = {"str(error)", "error.description", "description", "decision.reason", "reason"}
PASSED_ON |= {"description or ''", "body['error_description']", "error.description or error.error"}


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _description_arguments(tree: ast.AST) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) in CARRIERS:
            position, keyword = CARRIERS[_callee(node)]  # type: ignore[index]
            if len(node.args) > position and not isinstance(node.args[position], ast.Starred):
                yield node.args[position]
            yield from (k.value for k in node.keywords if keyword and k.arg == keyword)
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            literal = isinstance(node.value, ast.Constant | ast.JoinedStr)
            if literal and isinstance(target, ast.Name) and target.id in HOLDERS:
                yield node.value
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "error_description":
                    yield value


def collect(root: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(where, literal text) of every description written under ``root``, and (where,
    source) of every description that is not a literal and not known to be passed on."""
    texts: list[tuple[str, str]] = []
    unknown: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.py")):
        tree = parse_python(path.read_text(encoding="utf-8"))
        for argument in _description_arguments(tree):
            where = f"{path.name}:{argument.lineno}"
            if isinstance(argument, ast.Constant):
                if isinstance(argument.value, str):
                    texts.append((where, argument.value))
            elif isinstance(argument, ast.JoinedStr):
                for part in argument.values:
                    if isinstance(part, ast.Constant):
                        texts.append((where, str(part.value)))
                    elif ast.unparse(part.value) not in SAFE_INTERPOLATIONS:
                        unknown.append((where, ast.unparse(argument)))
            elif ast.unparse(argument) not in PASSED_ON:
                unknown.append((where, ast.unparse(argument)))
    return texts, unknown


def test_every_description_written_in_the_gateway_is_within_the_rule() -> None:
    texts, unknown = collect(GATEWAY)
    from_policies, unknown_in_policies = collect(POLICIES)
    texts, unknown = texts + from_policies, unknown + unknown_in_policies
    written = {text for _, text in texts}
    # The collector sees the helpers and Authlib's classes (a collector that finds nothing
    # would pass everything).
    assert "Missing 'grant_type' parameter." in written
    assert "The code is invalid, expired or used." in written
    assert "The access token is invalid or expired." in written
    assert "Client authentication failed." in written
    assert "none of the required roles" in written
    assert len(texts) > 60
    bad = [(where, text) for where, text in texts if not DESCRIPTION.fullmatch(text)]
    assert bad == []
    assert unknown == []


def test_every_description_authlib_writes_for_our_grants_is_within_the_rule() -> None:
    texts: list[tuple[str, str]] = []
    for part in AUTHLIB_PARTS:
        found, _ = collect(AUTHLIB / part)
        texts += found
    assert any(text == "Missing 'code_verifier'" for _, text in texts)
    bad = [text for _, text in texts if not DESCRIPTION.fullmatch(text)]
    assert set(bad) == UNREACHED


def test_the_rule_itself() -> None:
    assert DESCRIPTION.fullmatch("Use one method (RFC 6749 section 2.3); 'quotes' ok!")
    for bad in ["§", '"', "\\", "\t", "\x7f", "é", "一"]:
        assert not DESCRIPTION.fullmatch(f"x{bad}y"), bad


# -- the guard ------------------------------------------------------------------------------------


def test_the_guard_repairs_a_bad_description_and_says_so(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="yihaotong")
    fixed = description_text('See RFC 6749 §2.3, "the" \\ rule: 一号通 é', "invalid_request")
    assert DESCRIPTION.fullmatch(fixed)
    assert fixed.startswith("See RFC 6749 section 2.3, 'the' / rule:")
    assert "一号通" not in caplog.text  # the text is not logged, only that it was replaced
    assert "replaced" in caplog.text
    assert description_text("Fine as it is.") == "Fine as it is."


def test_every_renderer_goes_through_the_guard(settings_for) -> None:
    import orjson

    bad = 'Bad § "text" \\ 中'
    body = orjson.loads(oauth_error("invalid_request", bad).body)
    assert DESCRIPTION.fullmatch(body["error_description"])
    with running_gateway(settings_for) as live:
        server = live.app.state.oauth
        request = FormRequest("POST", "/oauth/token", {}, {}, {})
        errors: list[OAuth2Error] = [
            InvalidRequestError(),
            OAuth2Error(error="x"),
            InvalidClientError(),
        ]
        for error in errors:
            error.description = bad  # Authlib's constructor refuses it; a later change would not
            answer = server.handle_error_response(request, error)
            text = orjson.loads(answer.body).get("error_description", "")
            assert DESCRIPTION.fullmatch(text), text
            challenge = answer.headers.get("www-authenticate", "")
            for value in re.findall(r'error_description="([^"]*)"', challenge):
                assert DESCRIPTION.fullmatch(value)


# -- the endpoints, over HTTP ------------------------------------------------------------------


def descriptions_in(response: httpx.Response) -> list[str]:
    """Every error_description in an answer: body, redirect and WWW-Authenticate."""
    found: list[str] = []
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and "error_description" in body:
            found.append(body["error_description"])
    location = response.headers.get("location")
    if location and "error_description" in httpx.URL(location).params:
        found.append(httpx.URL(location).params["error_description"])
    for challenge in response.headers.get_list("www-authenticate"):
        found += re.findall(r'error_description="((?:[^"\\]|\\.)*)', challenge)
    return found


async def test_the_endpoints_answer_only_descriptions_within_the_rule(settings_for) -> None:
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="li", password="correct horse battery")
            web = await admin.clients.register(
                name="web", redirect_uris=["https://app.example/cb"], scopes=["data.read"]
            )
            native = await admin.clients.register(
                name="native", redirect_uris=["http://127.0.0.1/cb"], public=True
            )
            service = await admin.clients.register(
                name="svc", grant_types=["client_credentials"], scopes=["data.read"]
            )
        seen: list[tuple[str, str]] = []
        web_auth = (web.client.client_id, web.client_secret)
        svc_auth = (service.client.client_id, service.client_secret)
        basic = "Basic " + base64.b64encode(b"a:b").decode()
        not_utf8 = "Basic " + base64.b64encode(b"\xff:b").decode()
        token_forms: list[tuple[dict[str, str], object]] = [
            ({}, web_auth),
            ({"grant_type": "password"}, web_auth),
            ({"grant_type": 'a"b\\c§\u4e2d'}, web_auth),
            ({"grant_type": "authorization_code"}, web_auth),
            ({"grant_type": "authorization_code", "code": "x"}, web_auth),
            ({"grant_type": "authorization_code", "code": "x", "client_secret": "s"}, web_auth),
            ({"grant_type": "authorization_code", "code": "x", "client_id": "other"}, web_auth),
            ({"grant_type": "refresh_token", "refresh_token": "x"}, web_auth),
            ({"grant_type": "refresh_token"}, web_auth),
            ({"grant_type": "client_credentials", "scope": "data.write §"}, svc_auth),
            ({"grant_type": "client_credentials"}, ("nobody", "nothing")),
            ({"grant_type": "client_credentials"}, None),
            ({"grant_type": "client_credentials", "client_id": native.client.client_id}, None),
            ({"grant_type": "authorization_code", "code": "x", "code_verifier": "v"}, web_auth),
        ]
        async with httpx.AsyncClient(base_url=live.url) as http:
            for form, auth in token_forms:
                answer = await http.post("/oauth/token", data=form, auth=auth)  # type: ignore[arg-type]
                assert answer.status_code in (400, 401), (form, answer.text)
                seen += [(f"token {form}", text) for text in descriptions_in(answer)]
            raw = [
                (b"grant_type=client_credentials&grant_type=x", {}),
                (b"grant_type=%ff%fe", {}),
                (b"a=\x01", {}),
                (b"grant_type=client_credentials", {"Authorization": basic + "%%%"}),
                (b"grant_type=client_credentials", {"Authorization": not_utf8}),
                (b"grant_type=client_credentials", {"Authorization": b"Basic \xe9"}),
            ]
            for body, headers in raw:
                answer = await http.post(
                    "/oauth/token",
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
                )
                assert answer.status_code in (400, 401, 413), (body, headers, answer.text)
                seen += [(f"token {body!r}", text) for text in descriptions_in(answer)]
            for path in ("/oauth/introspect", "/oauth/revoke"):
                for form, auth in [
                    ({}, svc_auth),
                    ({"token": "x"}, None),
                    ({"token": "x"}, web_auth),
                ]:
                    answer = await http.post(path, data=form, auth=auth)  # type: ignore[arg-type]
                    assert answer.status_code < 500, (path, form, answer.text)
                    seen += [(f"{path} {form}", text) for text in descriptions_in(answer)]
            for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}]:
                for path in ("/oauth/userinfo", "/admin/api/v1/departments"):
                    answer = await http.get(path, headers=headers)
                    assert answer.status_code in (400, 401, 403), (path, answer.text)
                    seen += [(f"{path} {headers}", text) for text in descriptions_in(answer)]
            answer = await http.post(
                "/oauth/userinfo", data={"access_token": "x"}, headers={"Authorization": "Bearer y"}
            )
            assert answer.status_code == 400
            seen += [("userinfo twice", text) for text in descriptions_in(answer)]
            for path in ("/oauth/introspect", "/oauth/revoke"):
                answer = await http.post(
                    path, data={"token": "x"}, headers={"Authorization": b"Basic \xe9"}
                )
                assert answer.status_code == 401, (path, answer.text)
                seen += [(f"{path} non-ASCII Basic", t) for t in descriptions_in(answer)]
            granted = await http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=svc_auth
            )
            bearer = {"Authorization": f"Bearer {granted.json()['access_token']}"}
            for path in ("/oauth/userinfo", "/admin/api/v1/departments"):
                answer = await http.get(path, headers=bearer)
                seen += [(f"{path} service token", text) for text in descriptions_in(answer)]

        browser = Browser(live.url)
        try:
            await browser.go(
                f"{live.url}/oauth/authorize?response_type=code&client_id={web.client.client_id}"
                "&redirect_uri=https://app.example/cb&scope=openid",
                username="li",
                password="correct horse battery",
            )
            verifier, _ = pkce_pair()
            authorize_errors = [
                {"response_type": 'to"ken§'},
                {"prompt": "none login"},
                {"prompt": "bogus§"},
                {"response_mode": "fragment"},
                {"max_age": "soon"},
                {"request": "eyJ"},
                {"request_uri": "urn:x"},
                {"claims": "{not json"},
                {"code_challenge": verifier, "code_challenge_method": "plain"},
                {"code_challenge": "short"},
                {"code_challenge_method": "S256"},
                {"scope": "openid unknown§"},
                {"acr_values": "\u00e9"},
            ]
            for extra in authorize_errors:
                params = {
                    "response_type": "code",
                    "client_id": web.client.client_id,
                    "redirect_uri": "https://app.example/cb",
                    "scope": "openid",
                    "state": "s",
                    **extra,
                }
                answer = await browser.go(f"{live.url}/oauth/authorize?" + _query(params))
                assert answer.status_code < 500, (extra, answer.text[:200])
                seen += [(f"authorize {extra}", text) for text in descriptions_in(answer)]
            params = {
                "response_type": "code",
                "client_id": native.client.client_id,
                "redirect_uri": "http://127.0.0.1:5000/cb",
                "scope": "openid",
            }
            answer = await browser.go(f"{live.url}/oauth/authorize?" + _query(params))
            seen += [("authorize public without PKCE", t) for t in descriptions_in(answer)]
        finally:
            await browser.close()
    assert len(seen) > 30  # the requests above did reach their errors
    assert [(where, text) for where, text in seen if not DESCRIPTION.fullmatch(text)] == []


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_description_quoting_the_request_stays_within_the_rule(live_server) -> None:
    """Text taken from the request (a parameter name) is cut down to the allowed set."""
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answer = await http.post(
            "/oauth/token",
            content=b"grant_type=x&%C2%A7%22%5C=1&%C2%A7%22%5C=2",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 400
    assert DESCRIPTION.fullmatch(answer.json()["error_description"])
