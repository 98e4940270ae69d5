"""A lean client for one Redis server: one pipelined connection a process, replies parsed by
hiredis (Redis's own parser, which redis-py uses too).

The expiring store's commands are short and never block, so one connection can carry every
caller's commands at once, as ioredis does: replies come back in the order the commands were
written, each to its caller. redis-py's single-server client spends about four times the CPU of
this on each command (pool, retry and observability layers, a timeout armed around every read;
docs/scaling.md has the figures); Sentinel and Cluster deployments still go through redis-py.

Failures never resend a command (an INCR must not count twice): a lost connection, a reply
that is not back within ``timeout``, or a reply that cannot be parsed fails every command in
flight with redis-py's own exceptions, and the next command connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import socket
from collections import deque
from typing import Any

import hiredis
from redis.connection import parse_url
from redis.exceptions import AuthenticationError, InvalidResponse, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a redis:// or unix:// URL may say for this client; any other option (TLS settings, pool
# sizes, timeouts) is redis-py's to honour.
URL_PARTS = frozenset({"host", "port", "path", "db", "username", "password", "connection_class"})


class _Pipe(asyncio.Protocol):
    """One connection: commands written in order, replies handed out in the same order."""

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.lost: Exception | None = None
        self._timeout = timeout
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A peer that vanished without a word is found out even while the pipe is idle.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.lost is not None:
            raise RedisConnectionError("the connection to Redis was lost") from self.lost
        future = self.loop.create_future()
        self._waiting.append((future, self.loop.time() + self._timeout))
        if not self._outgoing:
            self.loop.call_soon(self._write_outgoing)
        self._outgoing.append(command)
        if self._timer is None:
            self._timer = self.loop.call_at(self._waiting[0][1], self._check_deadline)
        return future

    def _write_outgoing(self) -> None:
        # The commands of every request that ran in this turn of the loop, in one system call.
        outgoing, self._outgoing = self._outgoing, []
        if self.lost is None:
            self._transport.write(b"".join(outgoing))  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except InvalidResponse as error:
                self._fail(error)
                return
            if reply is False:
                return
            if not self._waiting:
                self._fail(InvalidResponse("Redis sent a reply nobody asked for"))
                return
            future, _ = self._waiting.popleft()
            if future.done():  # its caller was cancelled; the reply is its, not the next one's
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError("Redis closed the connection"))

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._waiting:
            return
        deadline = self._waiting[0][1]
        if deadline <= self.loop.time():
            self._fail(RedisTimeoutError(f"no reply from Redis within {self._timeout:g} s"))
        else:
            self._timer = self.loop.call_at(deadline, self._check_deadline)

    def _fail(self, error: Exception) -> None:
        """The connection is done for: every command in flight fails, none is sent again."""
        if self.lost is None:
            self.lost = error
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, deque()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(_own_copy(self.lost))
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        # RuntimeError: its event loop is closed already, and its socket with it.
        with contextlib.suppress(RuntimeError):
            self._fail(RedisConnectionError("the client was closed"))


def _own_copy(error: Exception) -> Exception:
    """An exception object for one waiter: raised in several tasks, one object would gather
    every task's traceback (and keep their frames alive) for as long as the client keeps it."""
    try:
        return copy.copy(error)
    except Exception:  # an exception class that cannot be rebuilt from its arguments
        return error


class Script:
    """A Lua script run by its SHA-1, sent again in full when the server does not know it."""

    def __init__(self, client: RespClient, source: str) -> None:
        self._client = client
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis's script id

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._client.execute("EVALSHA", self._sha, len(keys), *keys, *args)
        except ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        return await self._client.execute("EVAL", self._source, len(keys), *keys, *args)


class RespClient:
    """The commands the expiring store uses, with redis-py's names and return values."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5,
        connect_timeout: float = 5,
    ) -> None:
        self._address = (host, port)
        self._path = path
        self._db = db
        self._username = username
        self._password = password
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._pipe: _Pipe | None = None
        self._attempt: asyncio.Task[_Pipe] | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str, timeout: float = 5, connect_timeout: float = 5) -> RespClient:
        if not url.startswith(("redis://", "unix://")):
            raise ValueError("this client takes redis:// and unix:// URLs (no TLS)")
        parts = parse_url(url)
        unknown = set(parts) - URL_PARTS
        if unknown:
            raise ValueError(f"options this client does not take: {sorted(unknown)}")
        return cls(
            host=parts.get("host") or "localhost",
            port=int(parts.get("port") or 6379),
            path=parts.get("path"),
            db=int(parts.get("db") or 0),
            username=parts.get("username"),
            password=parts.get("password"),
            timeout=timeout,
            connect_timeout=connect_timeout,
        )

    async def execute(self, *args: Any) -> Any:
        if self._closed:
            raise RedisConnectionError("the client was closed")
        pipe = self._pipe
        if pipe is None or pipe.lost is not None or pipe.loop is not asyncio.get_running_loop():
            pipe = await self._reconnect()
        return await pipe.send(hiredis.pack_command(args))

    async def _reconnect(self) -> _Pipe:
        """Callers arriving while the connection is down share one attempt and its outcome: a
        server that does not answer costs each of them one connect timeout, not one each."""
        loop = asyncio.get_running_loop()
        attempt = self._attempt
        if attempt is None or attempt.get_loop() is not loop:
            if self._pipe is not None:
                self._pipe.close()
                self._pipe = None
            attempt = self._attempt = loop.create_task(self._open())
            attempt.add_done_callback(self._attempt_done)
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if attempt.cancelled() and task is not None and not task.cancelling():
                # The attempt was called off (the client closed), not this caller.
                raise RedisConnectionError("the client was closed") from None
            raise

    def _attempt_done(self, attempt: asyncio.Task[_Pipe]) -> None:
        opened = not attempt.cancelled() and attempt.exception() is None
        if self._attempt is not attempt:  # superseded (another loop) or the client was closed
            if opened:
                attempt.result().close()
            return
        self._attempt = None
        if opened:
            self._pipe = attempt.result()

    async def _open(self) -> _Pipe:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._path:
                    _, pipe = await loop.create_unix_connection(
                        lambda: _Pipe(self._timeout), self._path
                    )
                else:
                    _, pipe = await loop.create_connection(
                        lambda: _Pipe(self._timeout), *self._address
                    )
        except TimeoutError as error:
            raise RedisTimeoutError("connecting to Redis timed out") from error
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise RedisConnectionError(f"cannot connect to Redis: {reason}") from error
        try:
            await self._hello(pipe)
        except BaseException:
            pipe.close()
            raise
        return pipe

    async def _hello(self, pipe: _Pipe) -> None:
        """AUTH and SELECT, written together before any other command."""
        greetings = []
        authenticating = self._password is not None or bool(self._username)
        if authenticating:
            # As redis-py does: a user named without a password is sent with an empty one.
            credentials = [self._password or ""]
            if self._username:
                credentials.insert(0, self._username)
            greetings.append(pipe.send(hiredis.pack_command(("AUTH", *credentials))))
        if self._db:
            greetings.append(pipe.send(hiredis.pack_command(("SELECT", self._db))))
        answers = await asyncio.gather(*greetings, return_exceptions=True)
        for index, answer in enumerate(answers):
            if index == 0 and authenticating and isinstance(answer, ResponseError):
                code = str(answer).split(" ", 1)[0]  # WRONGPASS, NOPERM, ...: never the secret
                raise AuthenticationError(f"Redis refused the credentials ({code})") from answer
            if isinstance(answer, BaseException):
                raise answer

    # -- the commands, as redis-py names them --------------------------------------------------

    def register_script(self, source: str) -> Script:
        return Script(self, source)

    async def get(self, name: str) -> bytes | None:
        return await self.execute("GET", name)

    async def set(
        self, name: str, value: bytes, px: int | None = None, nx: bool = False, xx: bool = False
    ) -> bool | None:
        args: list[Any] = ["SET", name, value]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        return True if await self.execute(*args) == b"OK" else None

    async def mget(self, names: list[str]) -> list[bytes | None]:
        return await self.execute("MGET", *names)

    async def getdel(self, name: str) -> bytes | None:
        return await self.execute("GETDEL", name)

    async def delete(self, *names: str) -> int:
        return await self.execute("DEL", *names)

    async def srem(self, name: str, *members: str) -> int:
        return await self.execute("SREM", name, *members)

    async def smembers(self, name: str) -> set[bytes]:
        return set(await self.execute("SMEMBERS", name))

    async def pttl(self, name: str) -> int:
        return await self.execute("PTTL", name)

    async def ping(self) -> bool:
        return await self.execute("PING") == b"PONG"

    async def aclose(self) -> None:
        self._closed = True
        if self._attempt is not None:
            self._attempt.cancel()
            self._attempt = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
