"""Driving the 短信登录 pages as a person would, the code read from the development outbox."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import httpx

from gateway.identity.phones import canonical
from tests.gateway.browser import Browser, hidden


def outbox(data_dir: Path) -> list[dict]:
    path = data_dir / "sms-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def last_code(data_dir: Path, phone: str) -> str:
    """The code of the latest SMS to ``phone``; waits for one sent after the page answered
    (找回密码 sends in the background)."""
    deadline = time.monotonic() + 10
    while not (sent := [m for m in outbox(data_dir) if m["phone"] == canonical(phone)]):
        assert time.monotonic() < deadline, f"no SMS to {phone}"
        time.sleep(0.05)
    return sent[-1]["code"]


def solve(salt: str, bits: int) -> str:
    """The proof-of-work the page's script finds."""
    nonce = 0
    while True:
        digest = hashlib.sha256(f"{salt}:{nonce}".encode()).digest()
        if 256 - int.from_bytes(digest, "big").bit_length() >= bits:
            return str(nonce)
        nonce += 1


def challenge_of(html: str) -> tuple[str, int] | None:
    found = re.search(r'var salt = "([0-9a-f]+)", bits = (\d+)', html)
    return (found.group(1), int(found.group(2))) if found else None


async def sms_page(browser: Browser, authorize_url: str) -> httpx.Response:
    """From the app's authorization request to the 短信登录 form."""
    response = await browser.http.get(authorize_url)
    while response.status_code in (302, 303):
        response = await browser.http.get(response.headers["location"])
    assert response.request.url.path == "/login", response.text
    page = await browser.http.get(f"/login/sms?tx={hidden(response.text, 'tx')}")
    assert page.status_code == 200, page.text
    return page


async def send(browser: Browser, page: httpx.Response, phone: str, **extra: str) -> httpx.Response:
    return await browser.http.post(
        "/login/sms/send",
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "phone": phone,
            **extra,
        },
    )


async def confirm(
    browser: Browser, page: httpx.Response, phone: str, code: str, agree: bool = True
) -> httpx.Response:
    response = await browser.http.post(
        "/login/sms",
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "phone": phone,
            "code": code,
            **({"agree": "yes"} if agree else {}),
        },
    )
    while response.status_code in (302, 303) and response.headers["location"].startswith("/"):
        response = await browser.http.get(response.headers["location"])
    return response


async def sign_in_by_sms(
    browser: Browser, authorize_url: str, phone: str, data_dir: Path
) -> httpx.Response:
    """The whole flow; returns the redirect to the app."""
    page = await sms_page(browser, authorize_url)
    sent = await send(browser, page, phone)
    assert sent.status_code == 200, sent.text
    return await confirm(browser, sent, phone, last_code(data_dir, phone))


async def forget_minute(live, phone: str) -> None:
    """Let a minute pass for the number's one-send-a-minute limit (the other limits stay)."""
    from store import kv_keys
    from tests.gateway.helpers import second_instance

    async with second_instance(live.settings) as admin:
        key = kv_keys.sms_sends_per_number(admin.phone_accounts.blind_index(canonical(phone)), "m")
        store = admin.expiring if live.settings.redis_url else live.services.expiring
        await store.delete(key)
