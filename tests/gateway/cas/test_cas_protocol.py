"""The CAS server's endpoints (CAS Protocol 3.0) with python-cas as the validating client, and
every error case answered with the protocol's own code, never a 500."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cas import CASClient

from tests.gateway.cas.conftest import PASSWORD

SERVICE = "https://estate.example.gov.cn/cas/callback"
OTHER = "https://permits.example.gov.cn/sso/"


def _ticket_of(response: httpx.Response, service: str = SERVICE) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(service)
    return parse_qs(urlsplit(location).query)["ticket"][0]


async def _sign_in(world, service: str = SERVICE, **extra: str) -> httpx.Response:
    query = urlencode({"service": service, **extra})
    return await world["browser"].go(
        f"{world['live'].url}/cas/login?{query}", username="wang", password=PASSWORD
    )


async def _verify(live, service: str, ticket: str, version: int = 3):
    client = CASClient(version=version, service_url=service, server_url=f"{live.url}/cas/")
    return await asyncio.to_thread(client.verify_ticket, ticket)


async def _validate(live, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url) as http:
        return await http.get(f"/cas/{path}", params=params)


def _failure(response: httpx.Response) -> str:
    assert response.status_code == 200
    document = json.loads(response.text)["serviceResponse"]
    return document["authenticationFailure"]["code"]


async def test_sign_in_and_python_cas_validates_the_ticket(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("不动产登记", SERVICE)
    ticket = _ticket_of(await _sign_in(cas_world))
    assert ticket.startswith("ST-") and len(ticket) > 40
    user, attributes, pgt_iou = await _verify(live, SERVICE, ticket)
    assert user == cas_world["account"].id and pgt_iou is None
    assert attributes["name"] == "王小明" and attributes["preferred_username"] == "wang"
    assert attributes["acr"] == "L1" and attributes["isFromNewLogin"] == "true"
    assert "email" not in attributes  # not registered with the email scope
    # Single use: the same ticket a second time is refused, whatever the first outcome.
    again = await _validate(
        live, "p3/serviceValidate", service=SERVICE, ticket=ticket, format="JSON"
    )
    assert _failure(again) == "INVALID_TICKET"


async def test_the_sso_session_gives_the_next_app_a_ticket_without_a_page(cas_world) -> None:
    live, command, browser = cas_world["live"], cas_world["command"], cas_world["browser"]
    await command.cas_app("不动产登记", SERVICE)
    await command.cas_app("建设审批", OTHER + "*")
    await _sign_in(cas_world)
    browser.pages.clear()
    response = await browser.go(f"{live.url}/cas/login?{urlencode({'service': OTHER + 'a/b?x=1'})}")
    ticket = _ticket_of(response, OTHER + "a/b?x=1")
    assert browser.pages == []
    user, attributes, _ = await _verify(live, OTHER + "a/b?x=1", ticket, version=2)
    assert user == cas_world["account"].id and attributes["isFromNewLogin"] == "false"
    # renew=true at validation: this ticket did not come from a sign-in just made.
    response = await browser.go(f"{live.url}/cas/login?{urlencode({'service': SERVICE})}")
    renewed = await _validate(live, "serviceValidate", service=SERVICE,
                              ticket=_ticket_of(response), renew="true", format="JSON")  # fmt: skip
    assert _failure(renewed) == "INVALID_TICKET"


async def test_renew_asks_for_the_password_again(cas_world) -> None:
    live, command, browser = cas_world["live"], cas_world["command"], cas_world["browser"]
    await command.cas_app("不动产登记", SERVICE)
    await _sign_in(cas_world)
    browser.pages.clear()
    ticket = _ticket_of(await _sign_in(cas_world, renew="true"))
    assert browser.pages == ["/login"]
    ok = await _validate(live, "p3/serviceValidate", service=SERVICE, ticket=ticket, renew="true")
    assert "<cas:authenticationSuccess>" in ok.text


async def test_gateway_goes_back_without_a_ticket_and_without_a_page(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("不动产登记", SERVICE)
    query = urlencode({"service": SERVICE, "gateway": "true"})
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.get(f"/cas/login?{query}")
    assert response.status_code == 303 and response.headers["location"] == SERVICE


async def test_unknown_services_get_a_page_and_never_a_redirect(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("建设审批", OTHER + "*")
    async with httpx.AsyncClient(base_url=live.url) as http:
        for service in (
            "https://evil.example.com/",
            "https://permits.example.gov.cn/ssox",  # beside the prefix, not below it
            "https://permits.example.gov.cn/sso/../admin/",  # climbing out of it
            "https://permits.example.gov.cn/sso/%2e%2e/admin/",
            "https://permits.example.gov.cn.evil.com/sso/",
        ):
            response = await http.get("/cas/login", params={"service": service})
            assert response.status_code == 400 and "location" not in response.headers, service
        # And none of them may be validated against either.
        refused = await _validate(live, "p3/serviceValidate", service="https://evil.example.com/",
                                  ticket="ST-nothing", format="JSON")  # fmt: skip
        assert _failure(refused) == "INVALID_TICKET"


async def test_validation_errors_have_the_protocols_codes(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("不动产登记", SERVICE)
    await command.cas_app("建设审批", OTHER + "*")
    for params, code in (
        ({}, "INVALID_REQUEST"),
        ({"service": SERVICE}, "INVALID_REQUEST"),
        ({"ticket": "ST-1"}, "INVALID_REQUEST"),
        ({"service": SERVICE, "ticket": "ST-unknown"}, "INVALID_TICKET"),
        ({"service": SERVICE, "ticket": "TGT-not-a-service-ticket"}, "INVALID_TICKET"),
        ({"service": SERVICE, "ticket": "ST-" + "x" * 300}, "INVALID_TICKET"),
        ({"service": SERVICE, "ticket": "ST-" + "x" * 5000}, "INVALID_REQUEST"),
    ):
        response = await _validate(live, "p3/serviceValidate", format="JSON", **params)
        assert _failure(response) == code, params
    # A ticket presented for another service is refused, and spent.
    ticket = _ticket_of(await _sign_in(cas_world))
    wrong = await _validate(live, "p3/serviceValidate", service=OTHER, ticket=ticket)
    assert 'code="INVALID_SERVICE"' in wrong.text
    assert wrong.headers["content-type"].startswith("application/xml")
    right = await _validate(live, "p3/serviceValidate", service=SERVICE, ticket=ticket)
    assert 'code="INVALID_TICKET"' in right.text
    # A malformed query (a repeated parameter) is INVALID_REQUEST too.
    async with httpx.AsyncClient(base_url=live.url) as http:
        broken = await http.get("/cas/serviceValidate?service=a&service=b&ticket=ST-x")
    assert broken.status_code == 200 and "INVALID_REQUEST" in broken.text


async def test_cas_1_validation_only_for_apps_that_enable_it(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("不动产登记", SERVICE)
    await command.cas_app("建设审批", OTHER + "*", options=("--cas-v1",))
    ticket = _ticket_of(await _sign_in(cas_world))
    refused = await _validate(live, "validate", service=SERVICE, ticket=ticket)
    assert refused.text == "no\n\n"
    # The refusal did not spend the ticket of an app without CAS 1.0.
    ok = await _validate(live, "serviceValidate", service=SERVICE, ticket=ticket)
    assert "<cas:authenticationSuccess>" in ok.text
    ticket = _ticket_of(await _sign_in(cas_world, service=OTHER), OTHER)
    accepted = await _validate(live, "validate", service=OTHER, ticket=ticket)
    assert accepted.text == f"yes\n{cas_world['account'].id}\n"


async def test_pairwise_users_and_json_attributes(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("不动产登记", SERVICE)
    await command.cas_app(
        "建设审批", OTHER + "*", options=("--subject-type", "pairwise", "--scope", "email")
    )
    plain = _ticket_of(await _sign_in(cas_world))
    pairwise = _ticket_of(await _sign_in(cas_world, service=OTHER), OTHER)
    first = await _validate(
        live, "p3/serviceValidate", service=SERVICE, ticket=plain, format="JSON"
    )
    second = await _validate(live, "p3/serviceValidate", service=OTHER, ticket=pairwise,
                             format="JSON")  # fmt: skip
    one = first.json()["serviceResponse"]["authenticationSuccess"]
    other = second.json()["serviceResponse"]["authenticationSuccess"]
    assert one["user"] == cas_world["account"].id
    assert other["user"] not in (one["user"], "") and len(other["user"]) == 43
    assert other["attributes"]["email"] == "wang@example.gov.cn"


async def test_logout_goes_only_to_registered_services(cas_world) -> None:
    live, command, browser = cas_world["live"], cas_world["command"], cas_world["browser"]
    await command.cas_app("不动产登记", SERVICE)
    ticket = _ticket_of(await _sign_in(cas_world))
    response = await browser.http.get("/cas/logout", params={"service": SERVICE})
    assert response.status_code == 303 and response.headers["location"] == SERVICE
    # The session is gone: its tickets with it, and the next login asks for the password.
    gone = await _validate(live, "p3/serviceValidate", service=SERVICE, ticket=ticket)
    assert "INVALID_TICKET" in gone.text
    response = await browser.http.get("/cas/login", params={"service": SERVICE})
    assert response.headers["location"].startswith("/login?tx=")
    elsewhere = await browser.http.get("/cas/logout", params={"service": "https://evil.example/"})
    # No redirect to it and no link that leads there (the language link keeps the query, on
    # this page of ours).
    assert elsewhere.status_code == 200 and "location" not in elsewhere.headers
    assert 'href="https://evil.example' not in elsewhere.text


@pytest.mark.parametrize("path", ["proxyValidate", "p3/proxyValidate"])
async def test_apps_that_may_not_proxy_get_no_pgt(cas_world, path) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("不动产登记", SERVICE)
    ticket = _ticket_of(await _sign_in(cas_world))
    response = await _validate(live, path, service=SERVICE, ticket=ticket, pgtUrl=SERVICE)
    assert 'code="UNAUTHORIZED_SERVICE_PROXY"' in response.text


async def test_a_cas_app_gets_nothing_from_the_oauth_endpoints(cas_world) -> None:
    live, command = cas_world["live"], cas_world["command"]
    app = await command.cas_app("不动产登记", SERVICE)
    async with httpx.AsyncClient(base_url=live.url) as http:
        authorize = await http.get("/oauth/authorize", params={
            "response_type": "code", "client_id": app["client_id"], "redirect_uri": SERVICE,
            "scope": "openid"})  # fmt: skip
        assert authorize.status_code == 400 and "location" not in authorize.headers
        token = await http.post("/oauth/token", data={
            "grant_type": "client_credentials", "client_id": app["client_id"]})  # fmt: skip
        assert token.status_code in (400, 401) and "error" in token.json()
