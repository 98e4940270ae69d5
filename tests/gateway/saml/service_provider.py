"""A pysaml2 service provider for the IdP's tests: its own key pair and metadata, signed
requests (RSA-SHA256), and a small local server at its SingleLogoutService that hands the
IdP's logout requests to pysaml2 and forgets the person, as a real SP would."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from gateway.saml.idp import available, key_pair
from tests.conftest import free_port

__all__ = ["BINDING_HTTP_POST", "BINDING_HTTP_REDIRECT", "ServiceProvider", "available"]


class ServiceProvider:
    def __init__(
        self, directory: Path, *, encrypt: bool = False, sign_requests: bool = True
    ) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.entity_id = f"{self.url}/saml/metadata"
        self.keys = key_pair(directory, "sp")
        self.encrypt, self.sign_requests = encrypt, sign_requests
        self.logouts: list[Any] = []
        self.client: Saml2Client | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def config(self, idp_metadata: str | None) -> SPConfig:
        key_file, cert_file = (str(path) for path in self.keys)
        config: dict[str, Any] = {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": key_file,
            "cert_file": cert_file,
            "allow_unknown_attributes": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(f"{self.url}/acs", BINDING_HTTP_POST)],
                        "single_logout_service": [(f"{self.url}/slo", BINDING_HTTP_POST)],
                    },
                    "authn_requests_signed": self.sign_requests,
                    "want_response_signed": True,
                    "want_assertions_signed": True,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
                }
            },
        }
        if self.encrypt:
            config["encryption_keypairs"] = [{"key_file": key_file, "cert_file": cert_file}]
        if idp_metadata:
            config["metadata"] = {"inline": [idp_metadata]}
        return SPConfig().load(config)

    def metadata(self) -> str:
        return str(entity_descriptor(self.config(None)))

    def trust(self, idp_metadata: str) -> None:
        self.client = Saml2Client(config=self.config(idp_metadata))

    def login_request(
        self, binding: str, name_id_format: str | None = None, sign: bool | None = None
    ) -> tuple[str, dict[str, Any]]:
        assert self.client is not None
        idp = next(iter(self.client.metadata.identity_providers()))
        sign = self.sign_requests if sign is None else sign
        return self.client.prepare_for_authenticate(
            entityid=idp,
            relay_state="/private/",
            binding=binding,
            nameid_format=name_id_format,
            sign=sign,
            sigalg=SIG_RSA_SHA256 if sign else None,
            digest_alg=DIGEST_SHA256 if sign else None,
        )

    def accept(self, saml_response: str, request_id: str) -> Any:
        assert self.client is not None
        return self.client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: "/private/"}
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                assert sp.client is not None
                try:
                    request = sp.client.parse_logout_request(
                        form["SAMLRequest"][0], BINDING_HTTP_POST
                    )
                    sp.logouts.append(request.message)
                    sp.client.local_logout(request.message.name_id)  # the SP's own session
                    self.send_response(200)
                except Exception:
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
