"""Stand-ins for the SMS vendors' APIs: a local HTTP server that checks each request's
signature the way the vendor documents it and answers as the vendor would.

Alibaba Cloud V3 (ACS3-HMAC-SHA256): CanonicalRequest = method, path, sorted percent-encoded
query, the signed headers (lower-case, sorted, ``name:value``), their names, and the hex
SHA-256 of the body; signature = hex HMAC-SHA256(secret, "ACS3-HMAC-SHA256\\n" + hex
SHA-256(CanonicalRequest)). Tencent Cloud TC3-HMAC-SHA256: the key is derived as
HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request") and signs "TC3-HMAC-SHA256\\n" +
timestamp + "\\n" + date/service/tc3_request + "\\n" + hex SHA-256(CanonicalRequest)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit


@dataclass
class Vendor:
    url: str
    received: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def aliyun_check(method: str, target: str, headers: dict[str, str], body: bytes, secret: str):
    """The request's parameters when its ACS3-HMAC-SHA256 signature is right, else None."""
    auth = headers.get("authorization", "")
    if not auth.startswith("ACS3-HMAC-SHA256 "):
        return None
    parts = dict(p.split("=", 1) for p in auth[len("ACS3-HMAC-SHA256 ") :].split(","))
    signed = parts["SignedHeaders"].split(";")
    if not {"host", "x-acs-date", "x-acs-content-sha256"} <= set(signed):
        return None
    if headers.get("x-acs-content-sha256") != _sha256(body):
        return None
    url = urlsplit(target)
    query = sorted(parse_qsl(url.query, keep_blank_values=True))
    canonical_query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in query)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical = "\n".join(
        [
            method,
            url.path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed),
            _sha256(body),
        ]
    )
    to_sign = f"ACS3-HMAC-SHA256\n{_sha256(canonical.encode())}"
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["Signature"]):
        return None
    return dict(query) | dict(parse_qsl(body.decode(), keep_blank_values=True))


def tencent_check(method: str, target: str, headers: dict[str, str], body: bytes, secret: str):
    """The JSON payload when its TC3-HMAC-SHA256 signature is right, else None."""
    auth = headers.get("authorization", "")
    if not auth.startswith("TC3-HMAC-SHA256 "):
        return None
    parts = dict(p.strip().split("=", 1) for p in auth[len("TC3-HMAC-SHA256 ") :].split(","))
    _, date, service, terminator = parts["Credential"].split("/")
    timestamp = headers.get("x-tc-timestamp", "")
    if terminator != "tc3_request" or not timestamp.isdigit():
        return None
    if datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") != date:
        return None
    signed = parts["SignedHeaders"].split(";")
    url = urlsplit(target)
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed)
    canonical = "\n".join(
        [method, url.path or "/", url.query, canonical_headers, ";".join(signed), _sha256(body)]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256(canonical.encode())}"
    key = hmac.new(f"TC3{secret}".encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, service.encode(), hashlib.sha256).digest()
    key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["Signature"]):
        return None
    return json.loads(body) | {"Action": headers.get("x-tc-action")}


def _aliyun_answer(params: dict | None) -> tuple[int, dict]:
    if params is None:
        return 400, {"Code": "SignatureDoesNotMatch", "Message": "signature mismatch",
                     "RequestId": "R-1"}  # fmt: skip
    return 200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
                 "RequestId": "R-2"}  # fmt: skip


def _tencent_answer(params: dict | None) -> tuple[int, dict]:
    if params is None:
        return 200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
                     "Message": "signature mismatch"}, "RequestId": "R-1"}}  # fmt: skip
    statuses = [
        {"SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": phone, "Fee": 1,
         "SessionContext": "", "Code": "Ok", "Message": "send success", "IsoCode": "CN"}
        for phone in params.get("PhoneNumberSet", [])
    ]  # fmt: skip
    return 200, {"Response": {"SendStatusSet": statuses, "RequestId": "R-2"}}


@contextmanager
def vendor(kind: str, secret: str) -> Iterator[Vendor]:
    check = aliyun_check if kind == "aliyun" else tencent_check
    answer = _aliyun_answer if kind == "aliyun" else _tencent_answer
    state = Vendor("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            params = check("POST", self.path, headers, body, secret)
            if params is None:
                state.refused.append(self.path)
            else:
                state.received.append(params)
            status, payload = answer(params)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
