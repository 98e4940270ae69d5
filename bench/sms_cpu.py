"""The SMS-code sign-in for ``bench.cpu``: each sign-in is a send (POST /login/sms/send, the
``log`` sender writing its outbox) and a verification (POST /login/sms), by a known number.

Every sign-in comes from its own browser, address and number, as many people at once would:
the per-browser, per-address and per-number send limits then never refuse or challenge one."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from bench.sides import _authorize_query

FORM = {"content-type": "application/x-www-form-urlencoded"}
Call = Callable[..., Awaitable[tuple[int, dict[str, str], bytes]]]


class SmsSignIns:
    def __init__(self, app: object, call: Call, web_id: str, data_dir: Path) -> None:
        from gateway.server.csrf import Csrf
        from keys.master import MasterKey

        self._services = app.state.services  # type: ignore[attr-defined]
        self._call = call
        self._web_id = web_id
        key = MasterKey.from_file(data_dir / "master.key").derive("csrf")
        self._csrf = Csrf(key, secure=False)
        self._ready: list[tuple[str, str, str, str]] = []  # tx, browser, address, phone
        self._codes: dict[str, str] = {}
        sender = self._services.sms
        original = sender.send

        async def send_and_keep(message: object) -> None:  # the code, as the phone reads it
            await original(message)
            self._codes[message.phone] = message.code  # type: ignore[attr-defined]

        sender.send = send_and_keep

    async def prepare(self, count: int) -> None:
        """``count`` transactions, each in a fresh browser, for a number that has an account."""
        plain = f"/oauth/authorize?{_authorize_query(self._web_id)}"
        for _ in range(count):
            browser = secrets.token_urlsafe(24)
            phone = f"139{secrets.randbelow(10**8):08d}"
            await self._services.phone_accounts.register(phone, {})
            _, headers, _ = await self._call("GET", plain, {"cookie": f"yht_browser={browser}"})
            tx = parse_qs(urlsplit(headers["location"]).query)["tx"][0]
            address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{len(self._ready)}"
            self._ready.append((tx, browser, address, phone))

    async def sign_in(self) -> int:
        """One send and one verification; 303 (on to the app) when both went through."""
        tx, browser, address, phone = self._ready.pop()
        headers = {**FORM, "cookie": f"yht_browser={browser}"}
        csrf = self._csrf.token(browser, f"sms:{tx}")
        sent = urlencode({"tx": tx, "csrf_token": csrf, "phone": phone})
        status, _, _ = await self._call(
            "POST", "/login/sms/send", headers, sent.encode(), client=address
        )
        if status != 200:
            return status
        form = {"tx": tx, "csrf_token": csrf, "phone": phone, "agree": "yes"}
        form["code"] = self._codes.pop(phone)
        status, _, _ = await self._call(
            "POST", "/login/sms", headers, urlencode(form).encode(), client=address
        )
        return status
