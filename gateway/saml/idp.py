"""The identity provider's pysaml2 ``Server``: its key pair, its own metadata and the service
providers it knows (from the registered apps' metadata). pysaml2 signs and verifies through the
``xmlsec1`` program, so every call into it runs in a worker thread, never on the event loop."""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib.util
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

METADATA_PATH = "/saml/metadata"
SSO_PATH = "/saml/sso"
SLO_PATH = "/saml/slo"
ASSERTION_MINUTES = 5
MISSING = "SAML needs the extra and xmlsec1: pip install 'yihaotong[saml]', apt install xmlsec1"
# pysaml2 7.5 names a cipher mode cryptography has moved (it still works there). Set once here:
# pysaml2 is imported later, in whichever thread first needs it, and catch_warnings is not
# thread-safe.
warnings.filterwarnings("ignore", "CFB has been moved", UserWarning, r"saml2\.")


@functools.cache
def pysaml2() -> SimpleNamespace:
    """pysaml2's parts the IdP uses, imported on first use: its XML schema takes seconds to
    load, and most processes (the command, most gateways) never speak SAML."""
    if not available():
        raise RuntimeError(MISSING)
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, xmldsig
    from saml2.config import IdPConfig
    from saml2.metadata import entity_descriptor
    from saml2.server import Server

    return SimpleNamespace(
        POST=BINDING_HTTP_POST,
        REDIRECT=BINDING_HTTP_REDIRECT,
        saml=saml,
        xmldsig=xmldsig,
        IdPConfig=IdPConfig,
        entity_descriptor=entity_descriptor,
        Server=Server,
    )


def signing() -> dict[str, str]:
    """pysaml2 signs with RSA-SHA1 wherever a call does not name the algorithms."""
    xmldsig = pysaml2().xmldsig
    return {"sign_alg": xmldsig.SIG_RSA_SHA256, "digest_alg": xmldsig.DIGEST_SHA256}


def available() -> bool:
    return importlib.util.find_spec("saml2") is not None and shutil.which("xmlsec1") is not None


def key_pair(directory: Path, common_name: str, prefix: str = "idp") -> tuple[Path, Path]:
    """A signing key and its self-signed certificate (metadata carries the certificate, so the
    peers trust it from there), made once in ``directory``. Several workers starting at once
    agree: each file appears whole or not at all, and the first one linked in place wins."""
    key_file, cert_file = directory / f"{prefix}-key.pem", directory / f"{prefix}-cert.pem"
    if key_file.exists() and cert_file.exists():
        return key_file, cert_file
    directory.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _create_once(key_file, pem)
    # The certificate of whichever key won: made from the file, so a worker that lost the
    # race (or one that stopped between the two files) still writes a matching one.
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not cert_file.exists():
        _create_once(cert_file, _certificate(key, common_name))
    return key_file, cert_file


def _certificate(key: Any, common_name: str) -> bytes:
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
    return cert.public_bytes(serialization.Encoding.PEM)


def _create_once(path: Path, content: bytes) -> None:
    """Write a private temporary file in full, then link it to ``path`` unless that exists
    (``link`` fails on an existing name: the file already there is kept)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:  # mkstemp's file is 0600
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def idp_config(issuer: str, keys: tuple[Path, Path], sp_metadata: list[str]) -> dict[str, Any]:
    """pysaml2's configuration: SHA-256 signatures (its default is RSA-SHA1), responses and
    assertions signed, persistent and transient NameIDs, attribute names as URIs."""
    key_file, cert_file = (str(path) for path in keys)
    sso, slo = issuer + SSO_PATH, issuer + SLO_PATH
    lib = pysaml2()
    post, redirect, saml = lib.POST, lib.REDIRECT, lib.saml
    return {
        "entityid": issuer + METADATA_PATH,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "key_file": key_file,
        "cert_file": cert_file,
        "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
        "metadata": {"inline": sp_metadata},
        "allow_unknown_attributes": True,
        "signing_algorithm": lib.xmldsig.SIG_RSA_SHA256,
        "digest_algorithm": lib.xmldsig.DIGEST_SHA256,
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (sso, redirect),
                        (sso, post),
                    ],
                    "single_logout_service": [
                        (slo, redirect),
                        (slo, post),
                    ],
                },
                "name_id_format": [saml.NAMEID_FORMAT_PERSISTENT, saml.NAMEID_FORMAT_TRANSIENT],
                "sign_response": True,
                "sign_assertion": True,
                "want_authn_requests_signed": False,  # per SP, from its metadata
                "policy": {
                    "default": {
                        "lifetime": {"minutes": ASSERTION_MINUTES},
                        "name_form": saml.NAME_FORMAT_URI,
                        "attribute_restrictions": None,
                    }
                },
            }
        },
    }


def requiring_signatures(config: dict[str, Any]) -> dict[str, Any]:
    idp_service = {**config["service"]["idp"], "want_authn_requests_signed": True}
    return {"idp": idp_service}


def build_server(config: dict[str, Any]) -> Any:
    lib = pysaml2()
    return lib.Server(config=lib.IdPConfig().load(config))


def own_metadata(server: Any) -> str:
    return str(pysaml2().entity_descriptor(server.config))
