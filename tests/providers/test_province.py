"""The province's ticket-style login against a small platform on a real socket that checks our
signatures while we check its answers."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers.base import ProviderError, ProviderUnavailable
from providers.province_signing import canonical, sign, signature_holds
from providers.registry import ValidationError, parse_config
from tests.providers.province_platform import APP_ID, APP_SECRET, COMPANY, RunningPlatform

CALLBACK = "https://yihaotong.city.gov.cn/login/callback/prov"
SM4_KEY = "0123456789abcdeffedcba9876543210"


def config(platform_url: str, **extra: object):
    data = {"name": "省统一身份认证平台", "base_url": platform_url, "app_id": APP_ID}
    return parse_config("province", {"app_secret": APP_SECRET, **data, **extra})


async def sign_in(provider, state: str = "st-1") -> object:
    """Follow the platform's login page as a browser would; the Identity after the callback."""
    url = await provider.login_url(CALLBACK, state, "n", "v")
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    back = urlsplit(response.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    assert params["state"] == state
    return await provider.callback(CALLBACK, params, "n", "v")


def test_the_default_recipe_is_md5_over_sorted_parameters_with_the_key() -> None:
    params = {"ticket": "ST-1", "appId": "a", "timestamp": "1700000000000", "sign": "x", "e": ""}
    assert canonical(params, exclude="sign") == "appId=a&ticket=ST-1&timestamp=1700000000000"
    wanted = hashlib.md5(
        b"appId=a&ticket=ST-1&timestamp=1700000000000&key=secret-1", usedforsecurity=False
    ).hexdigest()
    assert sign(params, "secret-1", "md5") == wanted.upper()
    assert signature_holds({**params, "sign": wanted}, "secret-1", "md5")
    assert not signature_holds({**params, "sign": wanted}, "secret-2", "md5")
    assert not signature_holds({**params, "ticket": "ST-2", "sign": wanted}, "secret-1", "md5")


async def test_a_person_at_level_3_signs_in_with_verified_id_number() -> None:
    with RunningPlatform() as platform:
        provider = config(platform.url).open("prov")
        try:
            login = await provider.login_url(CALLBACK, "st-1", "n", "v")
            query = parse_qs(urlsplit(login).query)
            assert query["appId"] == [APP_ID]
            assert query["redirectUrl"] == [f"{CALLBACK}?state=st-1"]
            identity = await sign_in(provider)
        finally:
            await provider.aclose()
    assert identity.subject == "P-1001" and identity.name == "王芳"
    assert identity.national_id == "11010519491231002X" and identity.phone == "13800138000"
    assert identity.assurance == "L3"
    assert identity.verified == frozenset({"national_id"})
    assert [path for path, _ in platform.seen] == ["/api/token", "/api/user"]
    assert all("sign" in params and "nonce" in params for _, params in platform.seen)
    assert not platform.refused


@pytest.mark.parametrize(
    ("algorithm", "encryption"), [("sm3", "sm4"), ("hmac-sha256", "rsa"), ("md5", "sm4")]
)
async def test_other_provinces_recipes(tmp_path, algorithm: str, encryption: str) -> None:
    extra: dict[str, object] = {
        "signature": {"algorithm": algorithm, "sign_login": algorithm == "sm3"},
        "encryption": encryption,
        "http_method": "GET" if algorithm == "hmac-sha256" else "POST",
    }
    options: dict[str, object] = {"algorithm": algorithm, "login_signed": algorithm == "sm3"}
    if encryption == "sm4":
        extra["sm4_key"] = SM4_KEY
        options["sm4_key"] = bytes.fromhex(SM4_KEY)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = tmp_path / "ours.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        extra["rsa_private_key_file"] = str(pem)
        options["rsa_public"] = key.public_key()
    with RunningPlatform(**options) as platform:
        provider = config(platform.url, **extra).open("prov")
        try:
            identity = await sign_in(provider)
        finally:
            await provider.aclose()
    assert identity.subject == "P-1001" and identity.national_id == "11010519491231002X"
    assert not platform.refused


async def test_a_legal_person_and_levels_mapped_and_capped() -> None:
    with RunningPlatform(user=dict(COMPANY)) as platform:
        provider = config(platform.url).open("prov")
        try:
            company = await sign_in(provider)
            platform.user = {"userId": "P-9", "authLevel": "1", "idCardNo": "11010519491231002X"}
            self_declared = await sign_in(provider)
        finally:
            await provider.aclose()
        capped = config(platform.url, assurance="L2", levels={"A": "L3"}).open("prov")
        try:
            platform.user = {"userId": "P-7", "authLevel": "A", "name": "赵六"}
            at_cap = await sign_in(capped)
        finally:
            await capped.aclose()
    assert company.subject == "legal:E-2002" and company.uscc == "91350100M000100Y43"
    assert company.name == "济南明湖科技有限公司" and company.verified == frozenset({"uscc"})
    assert company.assurance == "L2"
    # Level 1 is self-declared: nothing it says is vouched for.
    assert self_declared.assurance == "L1" and self_declared.verified == frozenset()
    assert at_cap.assurance == "L2"


async def test_signatures_are_checked_both_ways() -> None:
    with RunningPlatform() as platform:
        ours_wrong = config(platform.url, app_secret="not-the-province-secret").open("prov")
        try:
            with pytest.raises(ProviderError):
                await sign_in(ours_wrong)
        finally:
            await ours_wrong.aclose()
        assert platform.refused == ["sign"]  # the platform refused our signature
        platform.answer_secret = "forged-by-someone-else"
        provider = config(platform.url).open("prov")
        try:
            with pytest.raises(ProviderError, match="wrong signature"):
                await sign_in(provider)
        finally:
            await provider.aclose()


async def test_expired_and_replayed_tickets_are_refused() -> None:
    with RunningPlatform(ticket_seconds=-1) as platform:
        provider = config(platform.url).open("prov")
        try:
            with pytest.raises(ProviderError, match="refused"):
                await sign_in(provider)
            platform.ticket_seconds = 300
            url = await provider.login_url(CALLBACK, "st-2", "n", "v")
            async with httpx.AsyncClient() as http:
                back = (await http.get(url)).headers["location"]
            params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
            await provider.callback(CALLBACK, params, "n", "v")
            with pytest.raises(ProviderError, match="refused"):
                await provider.callback(CALLBACK, params, "n", "v")
            with pytest.raises(ProviderError, match="not completed"):
                await provider.callback(CALLBACK, {"state": "st-2"}, "n", "v")
        finally:
            await provider.aclose()
    assert platform.refused == ["ticket", "ticket"]


async def test_an_unreachable_or_failing_platform_is_unavailable() -> None:
    with RunningPlatform() as platform:
        provider = config(platform.url).open("prov")
        try:
            platform.down = True
            with pytest.raises(ProviderUnavailable, match="503"):
                await sign_in(provider)
        finally:
            await provider.aclose()
    gone = config(platform.url).open("prov")
    try:
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            await gone.callback(CALLBACK, {"ticket": "ST-1", "state": "s"}, "n", "v")
    finally:
        await gone.aclose()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"encryption": "sm4"}, "sm4_key"),
        ({"sm4_key": "abcd"}, "sm4_key"),
        ({"encryption": "rsa", "rsa_private_key_file": "/nonexistent.pem"}, "rsa_private_key_file"),
        ({"paths": {"token": "https://elsewhere/x"}}, "must be a path"),
        ({"base_url": "http://platform.example.cn"}, "https"),
        ({"signature": {"algorithm": "sha1"}}, "algorithm"),
        ({"user": {"person_fields": {"password": "pw"}}}, "unknown identity fields"),
        ({"app_secret": "short"}, "app_secret"),
    ],
)
def test_configuration_mistakes_are_named(extra: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        config("https://platform.example.cn", **extra)
