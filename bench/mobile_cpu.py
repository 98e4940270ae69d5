"""The mobile scenarios of ``bench.cpu``: device-code polls (RFC 8628) and DPoP-bound refresh and
UserInfo (RFC 9449), each request's CPU time in-process.

- ``device_poll``: each of many pending device codes polled once (``authorization_pending``);
- ``device_slow_down``: the same codes polled again at once (``slow_down``);
- ``dpop_refresh_token``, ``dpop_userinfo``: a public app's DPoP-bound refresh (rotation, the
  refresh token bound to the key) and UserInfo with its bound access token, a fresh proof each
  (made before the measured loop, so the client's signing is not counted).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import httpx

from bench.dpop import ProofKey
from bench.sides import REDIRECT_URI, VERIFIER

FORM = {"content-type": "application/x-www-form-urlencoded"}
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
Call = Callable[..., Awaitable[tuple[int, dict[str, str], bytes]]]
SignIn = Callable[[httpx.AsyncClient, str, str], Awaitable[str]]
MOBILE = ["device_poll", "device_slow_down", "dpop_refresh_token", "dpop_userinfo"]


class MobileScenarios:
    def __init__(self, app: object, call: Call, issuer: str) -> None:
        self._services = app.state.services  # type: ignore[attr-defined]
        self._app = app
        self._call = call
        self._issuer = issuer
        self._codes: list[bytes] = []
        self._polled: list[bytes] = []
        self._key = ProofKey()
        self._access = ""
        self._refresh: list[str] = []
        self._proofs: list[str] = []
        self.kiosk = self.app_id = ""

    async def register(self) -> None:
        clients = self._services.clients
        kiosk = await clients.register(name="Kiosk", grant_types=[DEVICE], public=True)
        app = await clients.register(
            name="App",
            redirect_uris=[REDIRECT_URI],
            public=True,
            subject_type="public",
            access_token_format="opaque",  # noqa: S106 - as the bearer twins' web app
        )
        self.kiosk, self.app_id = kiosk.client.client_id, app.client.client_id

    async def prepare(self, name: str, count: int, sign_in: SignIn, user: str) -> None:
        if name == "device_poll":
            await self._new_codes(count)
        elif name == "device_slow_down":
            await self._new_codes(count)
            self._polled.clear()
            for _ in range(count):  # polled once, oldest first: slow_down comes in that order
                await self.poll()
        else:
            if not self._access:
                await self.sign_in(sign_in, user)
            self.prepare_proofs(count, userinfo=name == "dpop_userinfo")

    # -- device polls ------------------------------------------------------------------------

    async def _new_codes(self, count: int) -> None:
        """Pending device codes, as the poll bodies that name them (made before the measured
        loop, so the client's encoding is not counted)."""
        body = urlencode({"client_id": self.kiosk}).encode()
        for _ in range(count):
            _, _, answer = await self._call("POST", "/oauth/device_authorization", FORM, body)
            code = json.loads(answer)["device_code"]
            poll = {"grant_type": DEVICE, "client_id": self.kiosk, "device_code": code}
            self._codes.append(urlencode(poll).encode())

    async def _poll(self, body: bytes, expected: str) -> int:
        status, _, answer = await self._call("POST", "/oauth/token", FORM, body)
        if expected.encode() not in answer:
            raise SystemExit(f"device poll: {answer!r}")
        return status

    async def poll(self) -> int:
        code = self._codes.pop()
        self._polled.append(code)
        return await self._poll(code, "authorization_pending")

    async def poll_again(self) -> int:
        return await self._poll(self._polled.pop(0), "slow_down")

    # -- DPoP --------------------------------------------------------------------------------

    async def sign_in(self, sign_in: SignIn, user: str) -> None:
        """The app's own sign-in (a browser of its own), then its DPoP-bound code exchange."""
        transport = httpx.ASGITransport(app=self._app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=self._issuer) as http:
            code = await sign_in(http, self.app_id, user)
        body = {"grant_type": "authorization_code", "code": code, "client_id": self.app_id,
                "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER}  # fmt: skip
        proof = self._key.proof("POST", f"{self._issuer}/oauth/token")
        status, _, answer = await self._call(
            "POST", "/oauth/token", {**FORM, "dpop": proof}, urlencode(body).encode()
        )
        tokens = json.loads(answer)
        if status != 200 or tokens.get("token_type") != "DPoP":
            raise SystemExit(f"DPoP code exchange: {status} {answer!r}")
        self._access, self._refresh = tokens["access_token"], [tokens["refresh_token"]]

    def prepare_proofs(self, count: int, userinfo: bool) -> None:
        if userinfo:
            url, method, token = f"{self._issuer}/oauth/userinfo", "GET", self._access
        else:
            url, method, token = f"{self._issuer}/oauth/token", "POST", None
        self._proofs = [self._key.proof(method, url, token) for _ in range(count)]

    async def refresh(self) -> int:
        token = self._refresh.pop()
        body = urlencode(
            {"grant_type": "refresh_token", "client_id": self.app_id, "refresh_token": token}
        )
        headers = {**FORM, "dpop": self._proofs.pop()}
        status, _, answer = await self._call("POST", "/oauth/token", headers, body.encode())
        if status == 200:
            self._refresh.append(json.loads(answer)["refresh_token"])
        return status

    async def userinfo(self) -> int:
        headers = {"authorization": f"DPoP {self._access}", "dpop": self._proofs.pop()}
        return (await self._call("GET", "/oauth/userinfo", headers))[0]
