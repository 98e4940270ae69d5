"""Signing in to the console through the gateway itself: authorization code + PKCE, the
second factor the console's policy asks for, the console's own session cookie, sign-out."""

from __future__ import annotations

from tests.gateway.console.conftest import Console, console_sign_in


async def test_an_administrator_signs_in_with_the_second_factor(console: Console) -> None:
    http, answer = await console_sign_in(console, "root")
    try:
        assert answer.status_code == 200, answer.text
        assert answer.request.url.path == "/admin/"
        assert "管理控制台" in answer.text
    finally:
        await http.aclose()
