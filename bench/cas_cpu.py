"""CAS ticket validation for ``bench.cpu`` (``cas_validate``): each service ticket, got by the
signed-in browser's visit to ``/cas/login`` before the measured loop, validated once at
``/cas/p3/serviceValidate`` (the request ``bench.cas`` sends over HTTP)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

SERVICE = "https://estate.city.gov.cn/cas/login"
Call = Callable[..., Awaitable[tuple[int, dict[str, str], bytes]]]


class CasValidations:
    def __init__(self, call: Call) -> None:
        self._call = call
        self._queries: list[str] = []
        self._registered = False

    def register(self) -> None:
        """The app, as an operator registers it (the command, on the same database)."""
        command = [str(Path(sys.executable).parent / "yihaotong"), "clients", "create", "--name",
                   "estate", "--protocol", "cas", "--service-url", SERVICE, "--json"]  # fmt: skip
        subprocess.run(command, env=os.environ, check=True, capture_output=True)
        self._registered = True

    async def prepare(self, count: int, cookie: str) -> None:
        """``count`` service tickets from the signed-in browser's visits (not measured)."""
        if not self._registered:
            self.register()
        login = "/cas/login?" + urlencode({"service": SERVICE})
        for _ in range(count):
            status, headers, _ = await self._call("GET", login, {"cookie": cookie})
            if status != 303:
                raise SystemExit(f"cas login: {status}")
            ticket = parse_qs(urlsplit(headers["location"]).query)["ticket"][0]
            self._queries.append(urlencode({"service": SERVICE, "ticket": ticket}))

    async def validate(self) -> int:
        """200 for an ``authenticationSuccess``, 0 for any other answer."""
        query = self._queries.pop()
        status, _, body = await self._call("GET", f"/cas/p3/serviceValidate?{query}", {})
        return status if b"authenticationSuccess" in body else 0
