"""``yihaotong clients create --protocol cas``: CAS apps as the contract names them
(``--service-url`` repeatable), and the refusals that keep OAuth and CAS apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.cli.test_cli import in_process, ok_json, refused


@pytest.fixture
def cli(tmp_path: Path):
    return in_process(tmp_path / "var")


def test_a_cas_app_has_service_urls_and_no_secret_or_grants(cli) -> None:
    app = ok_json(
        cli(
            "clients", "create", "--name", "不动产登记", "--protocol", "cas",
            "--service-url", "https://estate.city.gov.cn/cas/login",
            "--service-url", "https://estate.city.gov.cn/portal/*", "--cas-proxy", "--json",
        )
    )  # fmt: skip
    assert app["protocol"] == "cas" and app["client_secret"] is None
    assert app["service_urls"] == [
        "https://estate.city.gov.cn/cas/login",
        "https://estate.city.gov.cn/portal/*",
    ]
    assert app["grant_types"] == [] and app["redirect_uris"] == []
    assert app["cas_proxy"] is True and app["cas_v1"] is False
    oidc = ok_json(
        cli("clients", "create", "--name", "x", "--redirect-uri", "https://a.gov.cn/cb", "--json")
    )
    assert oidc["protocol"] == "oidc" and oidc["service_urls"] == []
    listed = cli("clients", "list")
    assert f"{app['client_id']}  不动产登记  cas" in listed.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--protocol", "cas"), ("service URL",)),
        (("--protocol", "cas", "--service-url", "https://a.gov.cn/^.*$"), ("regular",)),
        (("--protocol", "cas", "--service-url", "http://a.gov.cn/"), ("https",)),
        (
            (
                "--protocol",
                "cas",
                "--service-url",
                "https://a.gov.cn/",
                "--redirect-uri",
                "https://a.gov.cn/cb",
            ),
            ("OAuth",),
        ),
        (("--service-url", "https://a.gov.cn/", "--redirect-uri", "https://a.gov.cn/cb"), ("cas",)),
        (("--protocol", "ldap", "--service-url", "https://a.gov.cn/"), ("protocol",)),
    ],
)
def test_refusals(cli, args, words) -> None:
    refused(cli("clients", "create", "--name", "x", *args), *words)


def test_a_service_url_another_app_holds_is_refused(cli) -> None:
    ok_json(cli("clients", "create", "--name", "西区", "--protocol", "cas",
                "--service-url", "https://west.city.gov.cn/app/", "--json"))  # fmt: skip
    for url in ("https://west.city.gov.cn/app/", "https://west.city.gov.cn/*"):
        taken = cli("clients", "create", "--name", "东区", "--protocol", "cas",
                    "--service-url", url)  # fmt: skip
        refused(taken, "already registered by another app")
