"""Reading an import file (CSV or Excel) into rows: a header row naming the columns (in English
or Chinese), then one record a row, each numbered as a spreadsheet numbers it (the header is
row 1). Size and row count are limited before anything is read further."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

MAX_BYTES = 2 * 1024 * 1024
# A workbook of MAX_ROWS rows of every column unpacks to about 4 MiB: refused well past that
# before it is parsed, since parsing costs time in proportion (a zip of repeated cells is tiny).
MAX_UNPACKED = 16 * 1024 * 1024
MAX_ROWS = 10_000
MAX_CELL = 1000

# Column names each kind of row takes, with the Chinese headings a city's spreadsheet uses.
COLUMNS = {
    "departments": {
        "id": ("id", "code", "编码", "部门编码"),
        "name": ("name", "名称", "部门名称"),
        "parent_id": ("parent_id", "parent", "上级编码", "上级部门编码"),
    },
    "accounts": {
        "username": ("username", "用户名", "账号"),
        "name": ("name", "姓名"),
        "department_id": ("department_id", "department", "部门编码", "部门"),
        "phone": ("phone", "手机号", "手机号码"),
        "email": ("email", "邮箱", "电子邮箱"),
        "national_id": ("national_id", "身份证号", "身份证号码"),
    },
}
KEYS = {"departments": "id", "accounts": "username"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (a row's own problems are reported per row)."""


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: dict[str, str | None]


@dataclass(frozen=True)
class ImportFile:
    kind: str
    digest: str  # SHA-256 of the bytes as uploaded
    rows: list[Row]


def _header(kind: str, cells: list[str]) -> list[str | None]:
    names = {
        alias.lower(): column for column, aliases in COLUMNS[kind].items() for alias in aliases
    }
    header = [names.get(cell.strip().lower()) for cell in cells]
    missing = [c for c in ("name", KEYS[kind]) if c not in header]
    if missing:
        raise ImportFileError(f"the header row lacks the column(s): {', '.join(missing)}")
    return header


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps long numbers (phones, codes) as floats
    text = str(value).strip()
    if len(text) > MAX_CELL:
        raise ImportFileError(f"a cell is longer than {MAX_CELL} characters")
    return text or None


def _check_unpacked(data: bytes) -> None:
    """The sizes a zip declares bound what reading it yields (a larger member fails its CRC)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportFileError("not an Excel workbook (.xlsx)") from error
    if unpacked > MAX_UNPACKED:
        limit = MAX_UNPACKED // (1024 * 1024)
        raise ImportFileError(f"the workbook unpacks to more than {limit} MiB; split the file")


def _table(data: bytes, name: str) -> list[list[object]]:
    if name.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        _check_unpacked(data)
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise ImportFileError("not an Excel workbook (.xlsx)") from error
        try:
            sheet = book.worksheets[0]
            return [
                list(row)
                for _, row in zip(
                    range(MAX_ROWS + 2), sheet.iter_rows(values_only=True), strict=False
                )
            ]
        finally:
            book.close()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in Chinese saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("the CSV file is neither UTF-8 nor GB18030 text")
    if "\x00" in text:
        raise ImportFileError("the file contains NUL characters")
    try:
        return [
            list(r)
            for _, r in zip(range(MAX_ROWS + 2), csv.reader(io.StringIO(text)), strict=False)
        ]
    except csv.Error as error:
        raise ImportFileError(f"not a CSV file: {error}") from error


def read_rows(kind: str, data: bytes, name: str = "") -> ImportFile:
    """The rows of a CSV or .xlsx file of ``kind`` ("departments" or "accounts")."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    table = _table(data, name)
    if not table:
        raise ImportFileError("the file is empty")
    header = _header(kind, [str(cell or "") for cell in table[0]])
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        values = {
            column: _cell(cell) for column, cell in zip(header, cells, strict=False) if column
        }
        if any(values.values()):  # blank lines are not rows
            rows.append(Row(number, values))
    if len(rows) > MAX_ROWS or len(table) > MAX_ROWS + 1:
        raise ImportFileError(f"more than {MAX_ROWS} rows; split the file")
    if not rows:
        raise ImportFileError("the file has a header but no rows")
    return ImportFile(kind, hashlib.sha256(data).hexdigest(), rows)


def rows_of(kind: str, records: list[dict[str, str | None]], digest: str) -> ImportFile:
    """Rows given as records (the admin API's JSON body), numbered from 1."""
    allowed = set(COLUMNS[kind])
    rows = [
        Row(
            n,
            {
                k: (v.strip() or None) if isinstance(v, str) else None
                for k, v in r.items()
                if k in allowed
            },
        )
        for n, r in enumerate(records, start=1)
    ]
    return ImportFile(kind, digest, rows)
