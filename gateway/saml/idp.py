"""The identity provider's pysaml2 ``Server``: its key pair, its own metadata and the service
providers it knows (from the registered apps' metadata). pysaml2 signs and verifies through the
``xmlsec1`` program, so every call into it runs in a worker thread, never on the event loop."""

from __future__ import annotations

import datetime
import shutil
import warnings
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

try:
    with warnings.catch_warnings():
        # pysaml2 7.5 names a cipher mode cryptography has moved (it still works there).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="CFB has been moved")
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.metadata import entity_descriptor
        from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
        from saml2.server import Server
        from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
except ImportError:  # pragma: no cover - the optional extra
    Server = None  # type: ignore[assignment,misc]

METADATA_PATH = "/saml/metadata"
SSO_PATH = "/saml/sso"
SLO_PATH = "/saml/slo"
ASSERTION_MINUTES = 5
MISSING = "SAML needs the extra and xmlsec1: pip install 'yihaotong[saml]', apt install xmlsec1"


def signing() -> dict[str, str]:
    """pysaml2 signs with RSA-SHA1 wherever a call does not name the algorithms."""
    return {"sign_alg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256}


def available() -> bool:
    return Server is not None and shutil.which("xmlsec1") is not None


def key_pair(directory: Path, common_name: str) -> tuple[Path, Path]:
    """The IdP's signing key and self-signed certificate (metadata carries the certificate,
    so SPs trust it from there), made once in the data directory."""
    key_file, cert_file = directory / "idp-key.pem", directory / "idp-cert.pem"
    if key_file.exists() and cert_file.exists():
        return key_file, cert_file
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def idp_config(issuer: str, keys: tuple[Path, Path], sp_metadata: list[str]) -> dict[str, Any]:
    """pysaml2's configuration: SHA-256 signatures (its default is RSA-SHA1), responses and
    assertions signed, persistent and transient NameIDs, attribute names as URIs."""
    key_file, cert_file = (str(path) for path in keys)
    sso, slo = issuer + SSO_PATH, issuer + SLO_PATH
    return {
        "entityid": issuer + METADATA_PATH,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "key_file": key_file,
        "cert_file": cert_file,
        "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
        "metadata": {"inline": sp_metadata},
        "allow_unknown_attributes": True,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (sso, BINDING_HTTP_REDIRECT),
                        (sso, BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [
                        (slo, BINDING_HTTP_REDIRECT),
                        (slo, BINDING_HTTP_POST),
                    ],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
                "sign_response": True,
                "sign_assertion": True,
                "want_authn_requests_signed": False,  # per SP, from its metadata
                "policy": {
                    "default": {
                        "lifetime": {"minutes": ASSERTION_MINUTES},
                        "name_form": NAME_FORMAT_URI,
                        "attribute_restrictions": None,
                    }
                },
            }
        },
    }


def requiring_signatures(config: dict[str, Any]) -> dict[str, Any]:
    idp_service = {**config["service"]["idp"], "want_authn_requests_signed": True}
    return {"idp": idp_service}


def build_server(config: dict[str, Any]) -> Server:
    if Server is None:
        raise RuntimeError(MISSING)
    return Server(config=IdPConfig().load(config))


def own_metadata(server: Server) -> str:
    return str(entity_descriptor(server.config))
