"""A department's SAML identity provider for the SAML department tests: a pysaml2 ``Server``
with its own key pair and metadata, served over real HTTP. Its SingleSignOnService
(HTTP-Redirect) checks the signed AuthnRequest against the SP's metadata and answers with the
HTML form a browser would post to the SP's AssertionConsumerService.

What a department might get wrong is a knob: an unsigned assertion, another audience, an
assertion already expired, another authentication class."""

from __future__ import annotations

import base64
import html
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs

import saml2.assertion
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.time_util import instant
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from gateway.saml.idp import key_pair
from tests.conftest import free_port

PASSWORD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
SMARTCARD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"
_LOCK = threading.Lock()
PERSON = {
    "uid": "lisi",
    "displayName": "李四",
    "mail": "lisi@dept.example.gov.cn",
    "mobile": "13800138000",
}


class IdentityProvider:
    def __init__(self, directory: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.entity_id = f"{self.url}/metadata"
        self.keys = key_pair(directory, "department idp")
        self.person = dict(PERSON)
        self.name_id = "dept-0001"
        self.class_ref = PASSWORD_CLASS
        self.sign_assertion = True
        self.sign_response = True
        self.audience: str | None = None  # another SP's entity ID instead of the asker's
        self.lifetime_minutes = 5
        self.issued_minutes_ago = 0  # with a negative lifetime: an assertion already expired
        self.requests: list[Any] = []  # the AuthnRequests received, as pysaml2 parsed them
        self._trusted: list[str] = []
        self.server = self._server([])
        self._http = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def _config(self, sp_metadata: list[str]) -> dict[str, Any]:
        key_file, cert_file = (str(path) for path in self.keys)
        return {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": key_file,
            "cert_file": cert_file,
            "metadata": {"inline": sp_metadata},
            "allow_unknown_attributes": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{self.url}/sso", BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "want_authn_requests_signed": bool(sp_metadata),
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": self.lifetime_minutes},
                            "name_form": NAME_FORMAT_URI,
                            "attribute_restrictions": None,
                        }
                    },
                }
            },
        }

    def _server(self, sp_metadata: list[str]) -> Server:
        return Server(config=IdPConfig().load(self._config(sp_metadata)))

    def metadata(self) -> str:
        return str(entity_descriptor(self.server.config))

    def trust(self, sp_metadata: str) -> None:
        """Register the SP (一号通's metadata for this department), as its administrator would."""
        self._trusted = [sp_metadata]
        self.server = self._server(self._trusted)

    def answer(self, query: str) -> tuple[str, str, str]:
        """The ACS URL, SAMLResponse and RelayState for an AuthnRequest in a redirect's query."""
        fields = {k: v[0] for k, v in parse_qs(query).items()}
        trusted = self._trusted
        if self.audience and trusted:  # that other SP, known here by the same metadata
            sp = re.search(r'entityID="([^"]+)"', trusted[0])
            assert sp is not None
            trusted = [*trusted, trusted[0].replace(sp.group(1), self.audience)]
        self.server = self._server(trusted)  # with the knobs as they are now
        request = self.server.parse_authn_request(
            fields["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=fields.get("RelayState"),
            sigalg=fields.get("SigAlg"),
            signature=fields.get("Signature"),
        )
        self.requests.append(request.message)
        args = self.server.response_args(request.message, [BINDING_HTTP_POST])
        issued = time.time() - 60 * self.issued_minutes_ago
        # pysaml2 dates NotBefore with its own instant(): moved back for an expired assertion.
        with (
            _LOCK,
            mock.patch.object(saml2.assertion, "instant", lambda: instant(time_stamp=issued)),
        ):
            response = self._response(args)
        encoded = base64.b64encode(str(response).encode("utf-8")).decode()
        return args["destination"], encoded, fields.get("RelayState", "")

    def _response(self, args: dict[str, Any]) -> Any:
        return self.server.create_authn_response(
            {name: [value] for name, value in self.person.items()},
            in_response_to=args["in_response_to"],
            destination=args["destination"],
            sp_entity_id=self.audience or args["sp_entity_id"],
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=self.name_id),
            authn={"class_ref": self.class_ref, "authn_auth": self.entity_id},
            sign_response=self.sign_response,
            sign_assertion=self.sign_assertion,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == "/metadata":
                    self._send(200, idp.metadata(), "application/samlmetadata+xml")
                    return
                try:
                    acs, response, relay_state = idp.answer(query)
                except Exception as error:
                    self._send(400, f"refused: {type(error).__name__}", "text/plain")
                    return
                self._send(200, _form(acs, response, relay_state), "text/html; charset=utf-8")

            def _send(self, status: int, body: str, media_type: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _form(action: str, response: str, relay_state: str) -> str:
    """The auto-posting form of the HTTP-POST binding (SAML 2.0 Bindings §3.5.4)."""
    return (
        '<!DOCTYPE html><html lang="en"><head><title>Signing in</title></head>'
        '<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="SAMLResponse" value="{html.escape(response)}">'
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
        '<input type="submit" value="Continue"></form></body></html>'
    )


def posted_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the form a browser would post."""
    action = re.search(r'action="([^"]*)"', page)
    assert action, page
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


__all__ = ["IdentityProvider", "posted_form"]
