"""A department's SAML 2.0 identity provider, with 一号通 as its service provider (pysaml2): an
AuthnRequest (signed, HTTP-Redirect) goes out, a Response comes back by HTTP-POST. Assertions
must be signed by the key in the department's metadata, meant for us (audience), current, and
the answer to this very request (InResponseTo): anything else is refused, with the check named.

pysaml2 signs and verifies through the ``xmlsec1`` program, so every call into it runs in a
worker thread. Its parser is defusedxml's: entity expansion and external references are refused.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import shutil
import time
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from providers.base import (
    AnswerRefused,
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    Site,
    SiteMaker,
    identity_mapping,
    text,
    text_values,
    web_url,
)

try:
    with warnings.catch_warnings():
        # pysaml2 7.5 names a cipher mode cryptography has moved (it still works there).
        warnings.simplefilter("ignore", DeprecationWarning)
        from defusedxml import ElementTree
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.client import Saml2Client
        from saml2.config import SPConfig
        from saml2.metadata import entity_descriptor
        from saml2.response import StatusError, UnsolicitedResponse
        from saml2.saml import NAMEID_FORMAT_PERSISTENT
        from saml2.sigver import SignatureError, SigverError
        from saml2.validate import ResponseLifetimeExceed, ToEarly
        from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "SAML providers need the saml extra: pip install 'yihaotong[saml]'"
    ) from error

Level = Literal["L1", "L2", "L3"]
_RANK = {"L1": 1, "L2": 2, "L3": 3}
_MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
_LEEWAY = 60  # seconds of clock difference tolerated with the department's IdP
MAX_RESPONSE = 256 * 1024  # characters of a posted SAMLResponse (base64)


def idp_entity_ids(document: bytes) -> list[str]:
    """The entity IDs of the identity providers a metadata document describes (defusedxml:
    a document with entities or a DTD raises ValueError)."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as error:
        raise ValueError(f"is not XML ({error})") from None
    entities = (
        [root] if root.tag == f"{_MD}EntityDescriptor" else root.iter(f"{_MD}EntityDescriptor")
    )
    return [
        e.get("entityID", "")
        for e in entities
        if e.find(f"{_MD}IDPSSODescriptor") is not None and e.get("entityID")
    ]


def _chosen_idp(document: bytes, wanted: str | None) -> str:
    """The IdP of the metadata to use; raises ValueError saying why there is none."""
    found = idp_entity_ids(document)
    if wanted is not None:
        if wanted not in found:
            raise ValueError(f"names no identity provider {wanted!r}")
        return wanted
    if len(found) != 1:
        raise ValueError(f"names {len(found)} identity providers: set idp_entity_id")
    return found[0]


class SamlConfig(ProviderConfig):
    type: Literal["saml"] = "saml"
    metadata_url: str | None = Field(None, description="The department IdP's metadata URL.")
    metadata_file: str | None = Field(None, description="Or its metadata as a file.")
    idp_entity_id: str | None = Field(None, description="Needed when the metadata names several.")
    subject_attribute: str | None = Field(
        None, description="Unset: the (persistent) NameID is the department's subject."
    )
    attributes: dict[str, str] = Field(
        default_factory=lambda: {
            "username": "uid",
            "name": "displayName",
            "email": "mail",
            "phone": "mobile",
        },
        description="Identity field -> SAML attribute (its Name or FriendlyName).",
    )
    levels: dict[str, Level] = Field(
        default_factory=dict,
        description="AuthnContextClassRef -> L1-L3 (unlisted: L1); empty: every login is "
        "at assurance.",
    )
    sign_requests: bool = Field(True, description="Sign AuthnRequests (RSA-SHA256).")
    want_response_signed: bool = Field(
        False, description="Require the Response to be signed too (assertions always are)."
    )
    metadata_seconds: int = Field(3600, ge=60, le=86400, description="Re-read metadata_url.")

    @field_validator("metadata_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else web_url(value, query=True)

    @field_validator("idp_entity_id", "subject_attribute")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else text(value)

    @field_validator("attributes")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return identity_mapping(text_values(value))

    @field_validator("levels")
    @classmethod
    def _class_refs(cls, value: dict[str, str]) -> dict[str, str]:
        text_values({ref: ref for ref in value})
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SamlConfig:
        if (self.metadata_url is None) == (self.metadata_file is None):
            raise ValueError("give one of metadata_url and metadata_file")
        if self.metadata_file is not None:
            try:
                _chosen_idp(Path(self.metadata_file).read_bytes(), self.idp_entity_id)
            except OSError:
                raise ValueError("metadata_file cannot be read") from None
            except ValueError as error:
                raise ValueError(f"metadata_file {error}") from None
        return self

    def open(self, provider_id: str) -> SamlProvider:
        raise ProviderError(f"{self.name}: a SAML department needs the gateway's site")

    def open_at(self, provider_id: str, site: SiteMaker) -> SamlProvider:
        if shutil.which("xmlsec1") is None:
            raise ProviderError(f"{self.name}: SAML needs the xmlsec1 program")
        return SamlProvider(provider_id, self, site(provider_id))


def _refusal(error: Exception) -> str:
    """The check a Response failed, by pysaml2's exception."""
    if isinstance(error, SignatureError | SigverError):
        return "signature"
    if isinstance(error, ResponseLifetimeExceed | ToEarly):
        return "expired"
    if isinstance(error, UnsolicitedResponse):
        return "not_requested"
    if isinstance(error, StatusError):
        return "idp_status"
    # pysaml2 raises a bare Exception for the audience, and names it in the message.
    if "AudienceRestriction" in str(error):
        return "audience"
    if "Signature missing" in str(error) or "not signed" in str(error).lower():
        return "signature"
    return "malformed"


class SamlProvider:
    def __init__(self, provider_id: str, config: SamlConfig, site: Site) -> None:
        self.id = provider_id
        self.config = config
        self.site = site
        self._http = httpx.AsyncClient(timeout=config.timeout_seconds, follow_redirects=False)
        self._client: tuple[float, Saml2Client, str] | None = None
        self._lock = asyncio.Lock()

    def _sp_config(self, idp_metadata: str | None) -> SPConfig:
        key_file, cert_file = str(self.site.key_file), str(self.site.cert_file)
        config: dict[str, Any] = {
            "entityid": self.site.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": key_file,
            "cert_file": cert_file,
            "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
            "allow_unknown_attributes": True,
            "accepted_time_diff": _LEEWAY,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(self.site.answer_url, BINDING_HTTP_POST)]
                    },
                    "authn_requests_signed": self.config.sign_requests,
                    "want_assertions_signed": True,
                    "want_response_signed": self.config.want_response_signed,
                    "allow_unsolicited": False,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                }
            },
        }
        if idp_metadata is not None:
            config["metadata"] = {"inline": [idp_metadata]}
        return SPConfig().load(config)

    def sp_metadata(self) -> str:
        """Our own metadata, for the department to register (entity ID, ACS, certificate)."""
        return str(entity_descriptor(self._sp_config(None)))

    async def _metadata(self) -> bytes:
        config = self.config
        if config.metadata_file is not None:
            try:
                return await asyncio.to_thread(Path(config.metadata_file).read_bytes)
            except OSError as error:
                raise ProviderUnavailable(
                    config.name, "its metadata file cannot be read"
                ) from error
        assert config.metadata_url is not None  # one of the two, by validation
        try:
            response = await self._http.get(config.metadata_url)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                config.name, f"metadata unreachable ({type(error).__name__})"
            ) from error
        return response.content

    async def _saml_client(self) -> tuple[Saml2Client, str]:
        """pysaml2's client trusting the department's metadata (read again when it is old)."""
        async with self._lock:
            now = time.monotonic()
            if self._client is None or self._client[0] <= now:
                document = await self._metadata()
                try:
                    idp = _chosen_idp(document, self.config.idp_entity_id)
                    client = await asyncio.to_thread(
                        lambda: Saml2Client(config=self._sp_config(document.decode("utf-8")))
                    )
                except Exception as error:  # unreadable metadata: this department only
                    raise ProviderUnavailable(
                        self.config.name, f"its metadata is not usable ({type(error).__name__})"
                    ) from error
                self._client = (now + self.config.metadata_seconds, client, idp)
            return self._client[1], self._client[2]

    async def login_url(self, callback_url: str, state: str, nonce: str, code_verifier: str) -> str:
        """The department's SSO address with our AuthnRequest; its ID is made of the nonce, so
        only the answer to this request (InResponseTo) is taken back."""
        client, idp = await self._saml_client()
        sign = self.config.sign_requests

        def prepare() -> dict[str, Any]:
            return client.prepare_for_authenticate(
                entityid=idp,
                relay_state=state,
                binding=BINDING_HTTP_REDIRECT,
                message_id=_request_id(nonce),
                sign=sign,
                sigalg=SIG_RSA_SHA256 if sign else None,
                digest_alg=DIGEST_SHA256 if sign else None,
            )[1]

        try:
            info = await asyncio.to_thread(prepare)
        except Exception as error:  # metadata without a Redirect SSO endpoint, a broken key
            raise ProviderUnavailable(
                self.config.name, f"no sign-in request ({type(error).__name__})"
            ) from error
        return dict(info["headers"])["Location"]

    async def callback(
        self, callback_url: str, params: Mapping[str, str], nonce: str, code_verifier: str
    ) -> Identity:
        posted = params.get("SAMLResponse", "")
        if not posted or len(posted) > MAX_RESPONSE:
            raise ProviderError(f"{self.config.name}: sign-in was not completed")
        try:
            base64.b64decode(posted, validate=True)
        except (binascii.Error, ValueError):
            raise AnswerRefused(self.config.name, "malformed") from None
        client, idp = await self._saml_client()
        outstanding = {_request_id(nonce): "/"}
        try:
            response = await asyncio.to_thread(
                client.parse_authn_request_response, posted, BINDING_HTTP_POST, outstanding
            )
        except Exception as error:  # every refusal of pysaml2 and defusedxml
            refused = AnswerRefused(self.config.name, _refusal(error))
            _release_frames(error)
            raise refused from None
        if response is None or response.assertion is None:
            raise AnswerRefused(self.config.name, "malformed")
        if response.issuer() != idp:
            raise AnswerRefused(self.config.name, "issuer")
        return self._identity(response)

    def _identity(self, response: Any) -> Identity:
        assertion = response.assertion
        attributes = _attributes(assertion)
        name_id = response.name_id.text if response.name_id is not None else None
        wanted = self.config.subject_attribute
        subject = attributes.get(wanted) if wanted else name_id
        if not subject:
            raise AnswerRefused(self.config.name, "no_subject")
        fields = {
            field: attributes[name]
            for field, name in self.config.attributes.items()
            if attributes.get(name)
        }
        return Identity(
            provider_id=self.id,
            subject=subject,
            verified=frozenset(f for f in self.config.verified if f in fields),
            assurance=self._level(assertion),
            raw=attributes,
            **fields,
        )

    def _level(self, assertion: Any) -> str | None:
        """The level of this login from its AuthnContextClassRef, where levels are mapped."""
        if not self.config.levels:
            return None
        refs = [
            statement.authn_context.authn_context_class_ref.text
            for statement in assertion.authn_statement
            if statement.authn_context is not None
            and statement.authn_context.authn_context_class_ref is not None
        ]
        mapped = self.config.levels.get((refs[0] or "").strip() if refs else "", "L1")
        return min(mapped, self.config.assurance, key=_RANK.__getitem__)

    async def check(self) -> str:
        _, idp = await self._saml_client()
        return f"identity provider {idp}; our entity ID {self.site.entity_id}"

    async def aclose(self) -> None:
        await self._http.aclose()


def _release_frames(error: BaseException) -> None:
    """pysaml2's frames hold its temporary files (on the way to the error, and in the errors it
    caught before): closed now, rather than warned about by a later garbage collection."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        traceback.clear_frames(found.__traceback__)
        found = found.__cause__ or found.__context__


def _request_id(nonce: str) -> str:
    # xsd:ID is an NCName: it may not start with a digit or "-".
    return f"_{nonce}"


def _attributes(assertion: Any) -> dict[str, str]:
    """The first value of each attribute, by its Name and by its FriendlyName."""
    found: dict[str, str] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [
                v.text.strip() for v in attribute.attribute_value if v.text and v.text.strip()
            ]
            if not values:
                continue
            for key in (attribute.name, attribute.friendly_name):
                if key:
                    found.setdefault(key, values[0])
    return found
