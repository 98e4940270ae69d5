"""The DPoP twins of Yihaotong's bearer scenarios: the same server in the same run, a public mobile
app whose tokens are bound to its key (RFC 9449), each request with a fresh proof
(``bench.dpop``). The runner interleaves them with their bearer twins like the peer's side.

- ``authorization_code``: the app's code exchange with a proof (PKCE, no secret);
- ``refresh_token``: rotation, the refresh token bound to the app's key;
- ``userinfo``: ``Authorization: DPoP`` with the bound access token and a proof with ``ath``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.dpop import ProofKey, Proofs
from bench.sides import FORM, REDIRECT_URI, VERIFIER, Side, Yihaotong, _authorize_query, _code_of
from bench.wrk import Request, read_lines

# Proofs made for each second of a measurement (more than a worker answers; a thread whose
# proofs run out stops, and its rate is counted over its own window).
PROOFS_PER_SECOND = {"userinfo": 7000, "refresh_token": 2000}


class DPoPTwin(Side):
    name = "yihaotong-dpop"

    def __init__(self, bearer: Yihaotong, work: Path, workers: int) -> None:
        self.bearer = bearer
        self.port = bearer.port
        self.work = work
        self.workers = workers
        self.token_path, self.userinfo_path = bearer.token_path, bearer.userinfo_path
        self.authorize_path = bearer.authorize_path
        self.web = (bearer.app_id, "")
        self.key = ProofKey()

    @property
    def server(self):  # type: ignore[override]
        return self.bearer.server  # the same process: its CPU is read for both twins

    @property
    def cookie(self) -> str:  # type: ignore[override]
        return self.bearer.cookie

    def _url(self, path: str) -> str:
        return self.base_url + path

    def sign_in(self) -> None:
        """A code for the app in the bearer twin's signed-in browser, exchanged with a proof
        (again with the server's nonce when it asks for one)."""
        with httpx.Client(base_url=self.base_url) as http:
            query = _authorize_query(self.web[0], {"prompt": "none"})
            visit = http.get(f"{self.authorize_path}?{query}", headers={"Cookie": self.cookie})
            body = self.code_body(_code_of(visit.headers["location"]), encoded=False)
            for _ in range(2):
                proof = self.key.proof("POST", self._url(self.token_path))
                answer = http.post(self.token_path, data=body, headers={"DPoP": proof})
                if not self.key.learn_nonce(answer):
                    break
        tokens = answer.json()
        if answer.status_code != 200 or tokens.get("token_type") != "DPoP":
            raise RuntimeError(f"DPoP code exchange: {answer.status_code} {answer.text[:200]}")
        self.access_token = tokens["access_token"]

    def _fresh_nonce(self) -> None:
        """Where the server wants nonces: the current one, from a refused probe."""
        if self.key.nonce is None:
            return
        self.key.nonce = None
        with httpx.Client(base_url=self.base_url) as http:
            proof = self.key.proof("POST", self._url(self.token_path))
            body = {"grant_type": "refresh_token", "client_id": self.web[0], "refresh_token": "-"}
            self.key.learn_nonce(http.post(self.token_path, data=body, headers={"DPoP": proof}))

    def _proofs(self, name: str, method: str, path: str, count: object, token: str | None) -> Path:
        """The request's proofs, made afresh before each of its runs (``Request.before``)."""
        prefix = self.work / f"proofs-{name}"

        def make(seconds: float) -> None:
            self._fresh_nonce()
            wanted = int(count(seconds) if callable(count) else count)  # type: ignore[arg-type]
            Proofs(self.key, method, self._url(path), prefix, wanted, token).write()

        self._before = make
        return prefix

    def code_body(self, code: str, encoded: bool = True) -> str | dict[str, str]:
        body = {"grant_type": "authorization_code", "code": code, "client_id": self.web[0],
                "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER}  # fmt: skip
        return urlencode(body) if encoded else body

    def userinfo(self) -> Request:
        per_run = PROOFS_PER_SECOND["userinfo"] * self.workers
        prefix = self._proofs("userinfo", "GET", self.userinfo_path,
                              lambda s: per_run * (s + 1), self.access_token)  # fmt: skip
        return Request("GET", self.userinfo_path, proofs=prefix, before=self._before,
                       headers={"Authorization": f"DPoP {self.access_token}"})  # fmt: skip

    def exchange(self, codes: Path, refresh_out: Path, keep: int) -> Request:
        count = len(read_lines(codes, 2)) + 10
        prefix = self._proofs(f"code-{codes.name}", "POST", self.token_path, count, None)
        return Request("POST", self.token_path, headers=FORM, bodies=codes,
                       capture="body:refresh_token", out=refresh_out, capture_limit=keep,
                       proofs=prefix, before=self._before)  # fmt: skip

    def refresh(self, tokens: Path) -> Request:
        per_run = PROOFS_PER_SECOND["refresh_token"] * self.workers
        prefix = self._proofs(f"refresh-{tokens.name}", "POST", self.token_path,
                              lambda s: per_run * (s + 1), None)  # fmt: skip
        chain = f"grant_type=refresh_token&client_id={self.web[0]}&refresh_token=%s"
        return Request("POST", self.token_path, headers=FORM, bodies=tokens, chain=chain,
                       proofs=prefix, before=self._before)  # fmt: skip
