"""Bulk import of departments and accounts (shared by the REST API, the console and the command
line). A batch is all or nothing: every row is checked as a single create would check it
(inside the administrator's reach), in one transaction; if any row fails, or this is a dry run,
nothing is kept and the report says which rows fail and why. Rows are keyed by the department's
code or the account's username, so a second run of the same file changes nothing. A batch that
is kept is audited as one entry (counts, the file's SHA-256, the actor)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.changes import Actor, translated
from gateway.admin.denials import record_denial
from gateway.admin.http import validated
from gateway.admin.import_files import KEYS, ImportFile, Row
from gateway.admin.models_org import DepartmentCreate
from gateway.admin.org import path_of, target_department
from gateway.admin.policy_names import refuse_unless_city_wide
from gateway.admin.reach import Reach
from gateway.identity.accounts import checked_profile
from gateway.identity.errors import AlreadyExists, InvalidInput
from gateway.identity.pii import PiiVault
from gateway.server.responses import Forbidden, Problem
from gateway.server.services import Services
from policies.identifiers import national_id_problem, normalize_national_id
from store import errors as store_errors
from store import organisation
from store.accounts import get_account, insert_account
from store.identities import add_identifiers_in, holders
from store.records import Account, AccountIdentifier, AuditEvent
from store.tables import AccountRow


class RowFailed(Exception):
    """A row that cannot be imported; ``denied``: because it reaches outside the admin's reach."""

    def __init__(self, reason: str, *, denied: bool = False) -> None:
        super().__init__(reason)
        self.denied = denied


@dataclass(frozen=True)
class RowResult:
    row: int
    key: str | None
    outcome: str  # created, unchanged, failed
    reason: str | None = None
    denied: bool = False


@dataclass
class ImportReport:
    kind: str
    digest: str
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    applied: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def failures(self) -> list[RowResult]:
        return [r for r in self.rows if r.outcome == "failed"]


class _Undo(Exception):
    """Leaves the batch's transaction without keeping anything."""


def _reason(error: Exception) -> str:
    if isinstance(error, Problem):
        if error.errors:
            return "; ".join(f"{e['field'].split('.')[-1]}: {e['message']}" for e in error.errors)
        return error.detail
    if isinstance(error, InvalidInput):
        return f"{error.field}: {error.reason}"
    return str(error)


async def _department(
    session: AsyncSession, reach: Reach, values: dict[str, Any], now: float
) -> str:
    body = validated(DepartmentCreate, {k: v for k, v in values.items() if v is not None}, "body")
    existing = await organisation.get_department(session, body.id)
    if existing is not None:
        if not reach.covers(existing.path):
            _taken(body.id)  # whatever the row says: it must not confirm a guessed name
        if existing.name == body.name.strip() and existing.parent_id == body.parent_id:
            return "unchanged"
        _taken(body.id, "with another name or parent; change it on its page")
    if body.parent_id is None and not reach.city_wide:
        raise RowFailed("only city-wide administrators create top-level departments", denied=True)
    await target_department(session, reach, body.parent_id, "parent_id")
    await refuse_unless_city_wide(session, reach, "department", body.id)
    await organisation.create_department(session, body.id, body.name.strip(), body.parent_id, now)
    return "created"


def _taken(key: str, how: str = "") -> NoReturn:
    if not how:
        raise RowFailed(f"{key!r} exists already, outside your departments", denied=True)
    raise RowFailed(f"{key!r} exists already, {how}")


async def _account(
    services: Services, session: AsyncSession, reach: Reach, values: dict[str, Any], now: float
) -> str:
    profile = checked_profile(
        username=values.get("username") or "",
        name=values.get("name"),
        phone=values.get("phone"),
        email=values.get("email"),
    )
    department_id = values.get("department_id")
    found = await session.execute(
        select(AccountRow.name, AccountRow.department_id).where(
            AccountRow.username == profile.username
        )
    )
    existing = found.first()
    if existing is not None:
        if not reach.covers(await path_of(session, existing.department_id)):
            _taken(profile.username)  # whatever the row says: no guessed name confirmed
        if tuple(existing) == (profile.name, department_id):
            return "unchanged"
        _taken(profile.username, "with another name or department; change it on its page")
    await target_department(session, reach, department_id, "department_id")
    account = dataclasses.replace(
        profile, department_id=department_id, created_at=now, updated_at=now
    )
    await insert_account(session, account)
    await _index(services, session, reach, account, values.get("national_id"), now)
    return "created"


async def _index(
    services: Services,
    session: AsyncSession,
    reach: Reach,
    account: Account,
    national_id: str | None,
    now: float,
) -> None:
    """The account's phone, e-mail and ID number, sealed and in the blind index (unverified),
    as sign-up indexes them; an ID number another account holds fails the row."""
    vault = PiiVault(services.master_key)
    values = {"phone": account.phone, "email": account.email}
    if national_id is not None:
        number = normalize_national_id(national_id)
        if problem := national_id_problem(number):
            raise RowFailed(f"national_id: {problem}")
        values["national_id"] = number
    present = {kind: value for kind, value in values.items() if value}
    wanted = {kind: vault.blind_index(kind, value) for kind, value in present.items()}
    held = await holders(session, wanted)
    if "national_id" in held:
        # Outside the reach, the row tells of a person's account found by ID number (which the
        # admin's search would not): a refusal, audited.
        holder = await get_account(session, held["national_id"])
        outside = not reach.covers(await path_of(session, holder.department_id if holder else None))
        raise RowFailed("national_id: the number belongs to another account", denied=outside)
    await add_identifiers_in(
        session,
        [
            AccountIdentifier(account.id, kind, wanted[kind], vault.seal(kind, value), False, now)
            for kind, value in present.items()
            if kind not in held  # a phone or e-mail another account gave stays its own
        ],
    )


async def _row(services: Services, session: AsyncSession, reach: Reach, kind: str, row: Row) -> str:
    now = services.clock.now()
    async with session.begin_nested():  # a failing row leaves nothing of itself
        if kind == "departments":
            return await _department(session, reach, row.values, now)
        return await _account(services, session, reach, row.values, now)


async def import_rows(
    services: Services, actor: Actor, reach: Reach, batch: ImportFile, *, dry_run: bool
) -> ImportReport:
    """Check every row of ``batch`` and, unless ``dry_run`` or a row fails, keep them all."""
    report = ImportReport(batch.kind, batch.digest, dry_run)
    seen: set[str] = set()
    try:
        async with services.database.transaction() as session:
            await organisation.lock_tree(session)
            for row in batch.rows:
                key = row.values.get(KEYS[batch.kind])
                try:
                    if key is not None and key.lower() in seen:
                        raise RowFailed(f"{key!r} is in an earlier row of this file")
                    outcome = await _row(services, session, reach, batch.kind, row)
                except (RowFailed, Problem, InvalidInput, AlreadyExists) as error:
                    denied = bool(getattr(error, "denied", False))
                    report.rows.append(RowResult(row.number, key, "failed", _reason(error), denied))
                except store_errors.StoreError as error:
                    reason = _reason(translated(error))
                    report.rows.append(RowResult(row.number, key, "failed", reason))
                else:
                    report.rows.append(RowResult(row.number, key, outcome))
                if key is not None:
                    seen.add(key.lower())
            if dry_run or report.failures:
                raise _Undo
            await services.audit.record(
                _entry(actor, report), session=session, request=actor.request
            )
    except _Undo:
        if dry_run:
            await _record_denied(services, actor, report)
        return report
    report.applied = True
    return report


async def _record_denied(services: Services, actor: Actor, report: ImportReport) -> None:
    """A dry run answers with its report, yet its rows outside the reach are refusals as a
    kept batch's are (there the API's 422 records them): audited, within the same budget."""
    denied = [r for r in report.rows if r.denied]
    if denied and actor.request is not None:
        reasons = "; ".join(f"row {r.row}: {r.reason}" for r in denied[:10])
        await record_denial(
            services,
            actor.request,
            Forbidden(f"{len(denied)} row(s) outside your reach: {reasons}"),
            f"import_{report.kind}",
            actor.id,
            actor.client_id,
        )


def _entry(actor: Actor, report: ImportReport) -> AuditEvent:
    return AuditEvent(
        event=f"admin.import.{report.kind}",
        actor=actor.id,
        client_id=actor.client_id,
        details=actor.stamped(
            {
                "rows": len(report.rows),
                "created": report.count("created"),
                "unchanged": report.count("unchanged"),
                "sha256": report.digest,
            }
        ),
    )
