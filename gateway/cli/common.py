"""What every command shares: settings, running a piece of async work on opened services,
errors as one ``error: …`` line on standard error, and printing a result."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from gateway.admin.changes import Actor
from gateway.admin.http import validated
from gateway.admin.reach import Reach
from gateway.identity.errors import GatewayError
from gateway.server.responses import Problem
from gateway.server.services import Services, initialize, open_services, require_initialized
from gateway.server.settings import Settings
from keys.master import MasterKeyError
from keys.ring import KeyRingError
from store.kv import ExpiringStoreError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
# The operator of the machine administers the whole city, with every check the API makes.
EVERYWHERE = Reach.everywhere()
_WHERE = ("body", "path", "query")  # the API's locations; a command has none


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def problem_text(problem: Problem, flags: dict[str, str] | None = None) -> str:
    """The admin problem as one line, each field named as in the API's documents (or by the
    command's flag for it, from ``flags``)."""
    if not problem.errors:
        return problem.detail
    found = []
    for error in problem.errors[:5]:
        loc = [str(part) for part in error["loc"]]
        loc = loc[1:] if loc and loc[0] in _WHERE else loc
        if loc and flags and loc[0] in flags:
            loc[0] = flags[loc[0]]
        field = ".".join(loc)
        found.append(f"{field}: {error['message']}" if field else error["message"])
    return "; ".join(found)


def operator() -> Actor:
    """Who runs the command: the operating-system user, audited with ``via`` "cli"."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        name = f"uid:{os.getuid()}"
    return Actor(name, via="cli")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"YIHAOTONG_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        fail(f"invalid configuration: {problems}", 2)


def run(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(work())
    except Problem as problem:
        fail(problem_text(problem))
    except (GatewayError, MasterKeyError, KeyRingError) as error:
        fail(str(error))
    except (SQLAlchemyError, ExpiringStoreError) as error:
        fail(f"a store did not answer ({type(error).__name__}); try again")


def with_services(
    settings: Settings, action: Callable[[Services], Awaitable[T]], *, read_only: bool = False
) -> T:
    """Run ``action`` on opened services. Writing commands initialize first (as ``serve``
    does); read-only ones never create anything and say so when there is nothing yet."""

    async def work() -> T:
        if read_only:
            await require_initialized(settings)
        else:
            await initialize(settings)
        services = await open_services(settings)
        try:
            return await action(services)
        finally:
            await services.close()

    return run(work)


def checked(
    model: type[M], data: dict[str, Any], flags: dict[str, str] | None = None
) -> tuple[M, dict[str, Any]]:
    """``data`` checked by the admin API's request model, as the API checks a body; with the
    values given (what the API passes on to its service)."""
    try:
        body = validated(model, data, "body")
    except Problem as problem:
        fail(problem_text(problem, flags))
    assert isinstance(body, model)
    return body, {name: getattr(body, name) for name in body.model_fields_set}


def read_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        fail(f"{where} is not valid JSON ({str(error)[:200] or 'nested too deeply'})")


def emit(as_json: bool, document: BaseModel | dict[str, Any], lines: list[str]) -> None:
    """The result: with ``--json`` one object (an admin API document as the API sends it),
    otherwise lines for people."""
    if as_json:
        if isinstance(document, BaseModel):
            document = document.model_dump(mode="json")
        typer.echo(json.dumps(document, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def documents(items: list[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]
