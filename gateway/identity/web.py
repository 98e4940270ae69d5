"""What identity's services read of a request and write on a response, as protocols: the room
depends on no web framework, and Starlette's objects fit these shapes."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol


class Peer(Protocol):
    @property
    def host(self) -> str: ...


class RequestFacts(Protocol):
    """A request, as far as the audit log reads it: the peer and the per-request state."""

    @property
    def client(self) -> Peer | None: ...

    @property
    def scope(self) -> MutableMapping[str, Any]: ...


class CookieJar(Protocol):
    """A response, as far as a session cookie is set on it or cleared."""

    def set_cookie(self, key: str, value: str = "", *args: Any, **kwargs: Any) -> None: ...

    def delete_cookie(self, key: str, *args: Any, **kwargs: Any) -> None: ...
