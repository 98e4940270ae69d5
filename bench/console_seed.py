"""``python -m bench.console_seed``: a large city in a PostgreSQL database of its own, for
``python -m bench.console``: 10,000 departments (a tree four levels deep), 1,000,000 accounts
(each with its phone, and a tenth with a national ID number, in the blind index) and 10,000,000
audit entries over the last 90 days.

The rows are made by the server (``generate_series``); the identifiers, which need the master
key, are sealed here and sent with COPY. The audit table's indexes are dropped while it fills and
made again after, which is several times faster than keeping them up to date row by row.

    python -m bench.console_seed [--database yh_console_bench] [--data-dir bench/work/console]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.identity.pii import PiiVault
from keys.master import MasterKey

HERE = Path(__file__).resolve().parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]

# Districts and bureaus under the city, offices under them, sections under the offices.
DEPARTMENTS_SQL = """
INSERT INTO departments (id, parent_id, name, path, version, created_at, updated_at)
SELECT 'd' || a, NULL, (ARRAY['市','区','县','局','委'])[1 + a % 5] || a || '号单位',
       '/d' || a, 1, now(), now()
FROM generate_series(1, $1::int) a;
INSERT INTO departments (id, parent_id, name, path, version, created_at, updated_at)
SELECT 'd' || a || '-' || b, 'd' || a,
       (ARRAY['办公室','科技处','人事处','财务处','街道'])[1 + b % 5] || b,
       '/d' || a || '/d' || a || '-' || b, 1, now(), now()
FROM generate_series(1, $1::int) a, generate_series(1, $2::int) b;
INSERT INTO departments (id, parent_id, name, path, version, created_at, updated_at)
SELECT 'd' || a || '-' || b || '-' || c, 'd' || a || '-' || b,
       (ARRAY['综合科','信息科','服务中心','社区','窗口'])[1 + c % 5] || c,
       '/d' || a || '/d' || a || '-' || b || '/d' || a || '-' || b || '-' || c, 1, now(), now()
FROM generate_series(1, $1::int) a, generate_series(1, $2::int) b, generate_series(1, $3::int) c;
"""

# Account n has the id md5('account' || n) as a UUID, so audit rows can name it without a join.
# Its phone is only among the sealed identifiers: one left in accounts.phone would be sealed
# again by every serve's start (gateway/identity/phone_sealing.py).
ACCOUNTS_SQL = """
WITH leaves AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM departments
    WHERE id NOT IN (SELECT parent_id FROM departments WHERE parent_id IS NOT NULL)
)
INSERT INTO accounts (id, username, name, phone, email, password_hash, disabled, kind, assurance,
                      department_id, created_at, updated_at)
SELECT md5('account' || g)::uuid::text, 'u' || lpad(g::text, 7, '0'),
       (ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭'])
           [1 + g % 16]
       || (ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明',
                 '超','秀英','霞','平','刚','桂英','建华','文','华','红','玉兰','晨','欣怡','子轩']
          )[1 + (g / 16) % 30]
       || (ARRAY['','','一','海','国','春','小','立','建','永'])[1 + (g / 480) % 10],
       NULL, NULL, NULL, g % 97 = 0, 'person', (ARRAY['L1','L2','L3'])[1 + g % 3],
       leaves.ids[1 + g % cardinality(leaves.ids)],
       now() - (g % 1000) * interval '1 hour', now() - (g % 1000) * interval '1 hour'
FROM generate_series(1, $1::int) g, leaves;
"""

AUDIT_SQL = """
INSERT INTO audit_events (at, event, outcome, actor, target, client_id, ip, request_id, "check",
                          details)
SELECT now() - (g::float8 / $1) * interval '90 days',
       (ARRAY['login.succeeded','login.succeeded','login.succeeded','token.issued',
              'token.issued','login.failed','session.ended','admin.account.updated',
              'consent.granted','login.locked'])[1 + g % 10],
       CASE WHEN g % 10 IN (5, 9) THEN 'failure' ELSE 'success' END,
       md5('account' || (1 + (g * 104729) % $2))::uuid::text,
       md5('account' || (1 + (g * 104729) % $2))::uuid::text,
       'app' || (g % 50), '10.' || (g % 200) || '.' || (g % 251) || '.' || (g % 13),
       md5(g::text), NULL, '{}'::json
FROM generate_series($3::bigint, $4::bigint) g;
"""


def national_id(n: int) -> str:
    """A valid number of its own for each n below 13 million: a birth date per thousand."""
    day = n // 1000
    birth = f"{1960 + day // 336:04d}{1 + (day // 28) % 12:02d}{1 + day % 28:02d}"
    body = f"{110101 + n % 500:06d}{birth}{n % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]
    return body + check


def identifiers(
    vault: PiiVault, first: int, last: int, national_ids: int, now: datetime
) -> list[tuple]:
    """Accounts' phones (bench/console.py's ``phone(n)``) and the first ``national_ids`` ID
    numbers, as the gateway stores them: sealed, with their blind index."""
    rows = []
    for g in range(first, last + 1):
        account = str(_uuid(g))
        phone = "1" + ["38", "39", "58", "86", "35"][g % 5] + f"{g * 7919 % 100000000:08d}"
        rows.append(
            (
                "phone",
                vault.blind_index("phone", phone),
                account,
                vault.seal("phone", phone),
                False,
                now,
            )
        )
        if g <= national_ids:
            number = national_id(g)
            rows.append(
                ("national_id", vault.blind_index("national_id", number), account,
                 vault.seal("national_id", number), False, now)
            )  # fmt: skip
    return rows


def _uuid(g: int) -> object:
    import hashlib
    import uuid

    return uuid.UUID(hashlib.md5(f"account{g}".encode(), usedforsecurity=False).hexdigest())


def _step(what: str, started: float) -> float:
    now = time.monotonic()
    print(f"  {what}: {now - started:.1f} s", flush=True)
    return now


async def recreate(database: str, replace: bool) -> None:
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            if not replace:
                sys.exit(f"database {database} exists (--replace to make it again)")
            await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()


def initialize(data_dir: Path, database: str) -> None:
    """``yihaotong init`` on a new master key: the schema at its newest migration, the keys."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "master.key").unlink(missing_ok=True)
    env = {
        **os.environ,
        "YIHAOTONG_DATA_DIR": str(data_dir),
        "YIHAOTONG_DATABASE_URL": f"{SERVER}/{database}",
    }
    subprocess.run([str(Path(sys.executable).parent / "yihaotong"), "init"], env=env, check=True)


async def fill(args: argparse.Namespace, vault: PiiVault) -> None:
    started = time.monotonic()
    db = await asyncpg.connect(f"{SERVER}/{args.database}")
    try:
        started = await fill_people(db, args.tree, args.accounts, started)
        columns = ["type", "blind_index", "account_id", "value", "verified", "created_at"]
        for first in range(1, args.accounts + 1, 100_000):
            last = min(first + 99_999, args.accounts)
            rows = identifiers(vault, first, last, args.accounts // 10, datetime.now(UTC))
            await db.copy_records_to_table("account_identifiers", records=rows, columns=columns)
        started = _step("identifiers", started)
        await fill_audit(db, args.audit, args.accounts)
        started = _step(f"{args.audit} audit entries", started)
        await db.execute("VACUUM ANALYZE")
        _step("vacuum analyze", started)
    finally:
        await db.close()


async def fill_people(
    db: asyncpg.Connection, tree: list[int], accounts: int, started: float
) -> float:
    """The department tree and the accounts in its leaves (without identifiers)."""
    await db.execute("SET synchronous_commit = off")
    for level, statement in enumerate(DEPARTMENTS_SQL.strip().split(";\n"), start=1):
        await db.execute(statement, *tree[:level])
    made = await db.fetchval("SELECT count(*) FROM departments")
    started = _step(f"{made} departments", started)
    await db.execute(ACCOUNTS_SQL, accounts)
    return _step(f"{accounts} accounts", started)


async def fill_audit(db: asyncpg.Connection, total: int, accounts: int) -> None:
    indexes = await db.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for index in indexes:
        await db.execute(f'DROP INDEX "{index["indexname"]}"')
    chunk = 1_000_000
    for start in range(1, total + 1, chunk):
        await db.execute(AUDIT_SQL, total, accounts, start, min(start + chunk - 1, total))
    for index in indexes:
        await db.execute(index["indexdef"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console_seed", description=__doc__)
    parser.add_argument("--database", default="yh_console_bench")
    parser.add_argument("--data-dir", default=str(HERE / "work" / "console"))
    parser.add_argument(
        "--tree", type=int, nargs=3, default=[20, 10, 49],
        help="top-level departments, children of each, grandchildren of each (10,000 in all)",
    )  # fmt: skip
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=10_000_000)
    parser.add_argument("--replace", action="store_true", help="drop the database if it exists")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    asyncio.run(recreate(args.database, args.replace))
    started = time.monotonic()
    initialize(data_dir, args.database)
    _step("schema and keys", started)
    asyncio.run(fill(args, PiiVault(MasterKey.from_file(data_dir / "master.key"))))
    print(f"YIHAOTONG_DATA_DIR={data_dir} YIHAOTONG_DATABASE_URL={SERVER}/{args.database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
