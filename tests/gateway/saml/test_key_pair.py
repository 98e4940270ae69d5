"""The SAML key pairs (the IdP's, the SP's) are made once in the data directory, and workers
starting together agree on one: each file appears whole or not at all, the first linked wins,
and the certificate is always that of the key on disk."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.saml.idp import key_pair


def _public(pem: bytes) -> bytes:
    return (
        pem_key(pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def pem_key(pem: bytes):
    return serialization.load_pem_private_key(pem, password=None)


def _cert_public(pem: bytes) -> bytes:
    return (
        x509.load_pem_x509_certificate(pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_workers_starting_together_get_one_key_pair(tmp_path) -> None:
    directory = tmp_path / "saml"
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: key_pair(directory, "gateway", "sp"), range(4)))
    assert len(set(found)) == 1
    key_file, cert_file = found[0]
    assert _public(key_file.read_bytes()) == _cert_public(cert_file.read_bytes())
    assert key_file.stat().st_mode & 0o777 == 0o600
    # No temporary file is left behind, and a later start keeps the same key.
    assert sorted(p.name for p in directory.iterdir()) == ["sp-cert.pem", "sp-key.pem"]
    before = key_file.read_bytes()
    assert key_pair(directory, "gateway", "sp") == found[0] and key_file.read_bytes() == before


def test_a_key_without_its_certificate_gets_a_matching_one(tmp_path) -> None:
    """A worker stopped between the two files: the next one certifies the key on disk."""
    key_file, cert_file = key_pair(tmp_path, "gateway")
    key = key_file.read_bytes()
    cert_file.unlink()
    assert key_pair(tmp_path, "gateway") == (key_file, cert_file)
    assert key_file.read_bytes() == key
    assert _public(key) == _cert_public(cert_file.read_bytes())
