"""The SAML department provider against a real pysaml2 identity provider on a socket: the
AuthnRequest it sends is signed and verified there; the Response is accepted only when its
assertion is signed by the department's key, meant for us, current, untampered and the answer
to this very request; attributes and the authentication class map as configured."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import required

saml = pytest.importorskip("providers.saml")

from gateway.saml.idp import available, key_pair  # noqa: E402
from providers.base import AnswerRefused, ProviderError, Site  # noqa: E402
from tests.gateway.saml.identity_provider import (  # noqa: E402
    SMARTCARD_CLASS,
    IdentityProvider,
    posted_form,
)

ACS = "http://127.0.0.1:8000/saml/sp/dept/acs"
ENTITY = "http://127.0.0.1:8000/saml/sp/dept/metadata"


@pytest.fixture
def idp(tmp_path):
    required(available(), "pysaml2 and xmlsec1 (pip install '.[saml]')")
    department = IdentityProvider(tmp_path / "idp")
    yield department
    department.close()


def site(tmp_path) -> Site:
    key_file, cert_file = key_pair(tmp_path / "sp", "yihaotong", "sp")
    return Site(entity_id=ENTITY, answer_url=ACS, key_file=key_file, cert_file=cert_file)


async def opened(idp: IdentityProvider, tmp_path, **config) -> saml.SamlProvider:
    settings = {"name": "市人社局", "metadata_url": f"{idp.url}/metadata", **config}
    provider = saml.SamlConfig(**settings).open_at("dept", lambda _: site(tmp_path))
    idp.trust(provider.sp_metadata())
    return provider


async def round_trip(provider, idp) -> tuple[dict[str, str], str]:
    """Out to the IdP and back: the posted fields, and the nonce the sign-in started with."""
    nonce, state = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    url = await provider.login_url("unused", state, nonce, "")
    assert url.startswith(f"{idp.url}/sso?SAMLRequest=")
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
    assert page.status_code == 200, page.text
    action, fields = posted_form(page.text)
    assert action == ACS and fields["RelayState"] == state
    return fields, nonce


async def test_a_signed_assertion_becomes_the_identity(idp, tmp_path) -> None:
    provider = await opened(idp, tmp_path, verified=["email"])
    try:
        fields, nonce = await round_trip(provider, idp)
        identity = await provider.callback(ACS, fields, nonce, "")
    finally:
        await provider.aclose()
    assert (identity.subject, identity.username, identity.name) == ("dept-0001", "lisi", "李四")
    assert (identity.email, identity.phone) == ("lisi@dept.example.gov.cn", "13800138000")
    assert identity.verified == frozenset({"email"})
    assert identity.assurance is None  # no levels mapped: the department's own level applies
    # The request went out signed, for our ACS, from our entity ID.
    request = idp.requests[-1]
    assert request.issuer.text == ENTITY and request.assertion_consumer_service_url == ACS


async def test_the_authentication_class_maps_to_a_level_capped_by_assurance(idp, tmp_path) -> None:
    levels = {SMARTCARD_CLASS: "L3"}
    provider = await opened(idp, tmp_path, levels=levels, assurance="L2")
    try:
        found = []
        for class_ref in (SMARTCARD_CLASS, "urn:example:unknown-class"):
            idp.class_ref = class_ref
            fields, nonce = await round_trip(provider, idp)
            found.append((await provider.callback(ACS, fields, nonce, "")).assurance)
    finally:
        await provider.aclose()
    assert found == ["L2", "L1"]


async def test_the_subject_may_come_from_an_attribute(idp, tmp_path) -> None:
    provider = await opened(idp, tmp_path, subject_attribute="uid")
    try:
        fields, nonce = await round_trip(provider, idp)
        identity = await provider.callback(ACS, fields, nonce, "")
    finally:
        await provider.aclose()
    assert identity.subject == "lisi"


def tampered(fields: dict[str, str]) -> dict[str, str]:
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert "dept-0001" in xml
    forged = xml.replace("dept-0001", "dept-0002")
    return {**fields, "SAMLResponse": base64.b64encode(forged.encode()).decode()}


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&c;</samlp:Response>'
)


@pytest.mark.parametrize(
    ("knob", "check"),
    [
        ("unsigned", "signature"),
        ("tampered", "signature"),
        ("another_key", "signature"),
        ("audience", "audience"),
        ("expired", "expired"),
        ("another_request", "not_requested"),
        ("bomb", "malformed"),
    ],
)
async def test_a_bad_answer_is_refused_with_the_check_named(idp, tmp_path, knob, check) -> None:
    provider = await opened(idp, tmp_path)
    if knob == "unsigned":  # the Response is signed, its assertion is not
        idp.sign_assertion = False
    elif knob == "audience":
        idp.audience = "https://another.example.gov.cn/sp"
    elif knob == "expired":
        idp.lifetime_minutes, idp.issued_minutes_ago = -10, 20
    elif knob == "another_key":  # signed, but not with the key the metadata names
        await provider.check()
        idp.keys = key_pair(tmp_path / "forger", "forger")
    try:
        fields, nonce = await round_trip(provider, idp)
        if knob == "tampered":
            fields = tampered(fields)
        elif knob == "another_request":
            nonce = secrets.token_urlsafe(32)  # a captured answer brought to a new sign-in
        elif knob == "bomb":
            fields = {**fields, "SAMLResponse": base64.b64encode(BOMB.encode()).decode()}
        with pytest.raises(AnswerRefused) as refused:
            await provider.callback(ACS, fields, nonce, "")
    finally:
        await provider.aclose()
    assert refused.value.check == check


async def test_an_answer_that_is_not_base64_or_missing_is_refused(idp, tmp_path) -> None:
    provider = await opened(idp, tmp_path)
    try:
        with pytest.raises(AnswerRefused):
            await provider.callback(ACS, {"SAMLResponse": "%%%not base64"}, "n", "")
        with pytest.raises(ProviderError):
            await provider.callback(ACS, {}, "n", "")
    finally:
        await provider.aclose()


def test_metadata_by_file_is_read_at_validation(idp, tmp_path) -> None:
    document = tmp_path / "idp.xml"
    document.write_text(idp.metadata(), encoding="utf-8")
    config = saml.SamlConfig(name="市人社局", metadata_file=str(document))
    assert config.metadata_file == str(document)
    with pytest.raises(ValueError, match="one of metadata_url and metadata_file"):
        saml.SamlConfig(name="市人社局")
    with pytest.raises(ValueError, match="names no identity provider"):
        saml.SamlConfig(name="x", metadata_file=str(document), idp_entity_id="urn:other")
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(BOMB, encoding="utf-8")
    with pytest.raises(ValueError, match="metadata_file"):
        saml.SamlConfig(name="x", metadata_file=str(bomb))
    with pytest.raises(ValueError, match="https"):
        saml.SamlConfig(name="x", metadata_url="http://idp.example.gov.cn/metadata")


async def test_our_metadata_names_the_acs_and_signing_key(idp, tmp_path) -> None:
    provider = await opened(idp, tmp_path)
    await provider.aclose()
    metadata = provider.sp_metadata()
    assert f'entityID="{ENTITY}"' in metadata
    assert f'Location="{ACS}"' in metadata and "HTTP-POST" in metadata
    assert 'AuthnRequestsSigned="true"' in metadata and 'WantAssertionsSigned="true"' in metadata
    assert urlsplit(ENTITY).path == "/saml/sp/dept/metadata"
