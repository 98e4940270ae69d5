"""A console list a page at a time: the offset a page asks for (``?offset=``) and what the
pager (``console_pager.html``) needs to link the pages before and after it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

MAX_OFFSET = 1_000_000


def offset_of(request: Request) -> int:
    """The offset asked for; 0 for anything that is not a number."""
    raw = request.query_params.get("offset", "0")
    # str.isdigit() alone admits "²" and "①", which int() refuses.
    return min(int(raw), MAX_OFFSET) if raw.isascii() and raw.isdigit() else 0


def pager(offset: int, total: int, size: int, **keep: str | None) -> dict[str, Any]:
    """The page's place in the list; ``keep``: the query parameters (a search, a filter) that
    the links to the other pages carry over."""
    kept = urlencode({name: value for name, value in keep.items() if value})
    return {"offset": offset, "total": total, "page_size": size, "pager_keep": kept}
