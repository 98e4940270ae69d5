"""A stand-in for the city's real-name service (which cannot exist here): a local HTTP server
that checks the request's signature as docs/real-name.md says (HMAC-SHA256 over
``timestamp + "." + body``, the timestamp within five minutes) and answers from its register."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RealNameService:
    url: str
    received: list[dict] = field(default_factory=list)  # the checks it answered
    refused: int = 0  # requests whose signature was wrong
    failing: bool = False  # answer 503 to everything


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers.get("x-yihaotong-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v1={mac}", headers.get("x-yihaotong-signature", ""))


@contextmanager
def real_name_service(secret: str, register: dict[str, str]) -> Iterator[RealNameService]:
    """``register``: ID number -> name of the people the service knows."""
    service = RealNameService("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if service.failing:
                status, answer = 503, {}
            elif not signature_ok(secret, headers, body):
                service.refused += 1
                status, answer = 401, {"error": "bad signature"}
            else:
                asked = json.loads(body)
                service.received.append(asked)
                match = register.get(asked["national_id"]) == asked["name"]
                status, answer = 200, {"match": match, "reference": f"city-{len(service.received)}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}/check"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
