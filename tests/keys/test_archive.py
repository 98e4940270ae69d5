"""The backup container: what goes in comes out with the passphrase, and any change to the file
(a byte, a chunk dropped, moved or added, the header, a cut) is refused with a clear reason."""

from __future__ import annotations

import io

import pytest

from keys import archive
from keys.archive import Damaged, Opener, Sealer, WrongPassphrase, open_secret, seal_secret

PASSPHRASE = "a long backup passphrase"
RECORDS = [{"table": "accounts", "columns": ["id", "name"]}] + [
    [f"id-{n}", f"名字 {n} " + "x" * (n % 37)] for n in range(400)
]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 256 bytes, so a small body spans many; a cheap scrypt (the header says it)."""
    monkeypatch.setattr(archive, "CHUNK", 256)
    monkeypatch.setitem(archive.SCRYPT, "n", 2**10)


def sealed(header: dict | None = None) -> bytes:
    out = io.BytesIO()
    sealer = Sealer(out, PASSPHRASE, header or {"schema_revision": "0023"})
    for record in RECORDS:
        sealer.write(archive.json.dumps(record, ensure_ascii=False).encode() + b"\n")
    sealer.close()
    return out.getvalue()


def opened(data: bytes, passphrase: str = PASSPHRASE) -> list:
    return list(Opener(io.BytesIO(data), passphrase).records())


def chunks_of(data: bytes) -> tuple[bytes, list[bytes]]:
    """The header part and each sealed chunk with its length prefix."""
    handle = io.BytesIO(data)
    archive.read_header(handle)
    start = handle.tell()
    pieces = []
    while prefix := handle.read(4):
        pieces.append(prefix + handle.read(int.from_bytes(prefix, "big")))
    return data[:start], pieces


def test_what_goes_in_comes_out_and_the_header_is_readable_without_the_passphrase() -> None:
    data = sealed({"schema_revision": "0023", "master_key": {"fingerprint": "sha256:ab"}})
    assert opened(data) == RECORDS
    header, _ = archive.read_header(io.BytesIO(data))
    assert header["schema_revision"] == "0023" and header["kdf"]["name"] == "scrypt"
    assert b"id-1" not in data and "名字".encode() not in data
    _, pieces = chunks_of(data)
    assert len(pieces) > 3


def test_a_wrong_passphrase_is_named_as_such() -> None:
    with pytest.raises(WrongPassphrase):
        opened(sealed(), "another passphrase!")


def test_every_changed_byte_of_the_body_is_found() -> None:
    data = sealed()
    head, _ = chunks_of(data)
    for position in range(len(head), len(data), 97):
        altered = bytearray(data)
        altered[position] ^= 0x01
        with pytest.raises(Damaged):
            opened(bytes(altered))


def test_a_changed_header_is_found() -> None:
    data = sealed()
    altered = data.replace(b'"0023"', b'"0024"', 1)
    assert altered != data
    with pytest.raises(Damaged):
        opened(altered)


@pytest.mark.parametrize("change", ["cut", "drop", "swap", "repeat", "append", "empty"])
def test_chunks_cut_dropped_moved_or_added_are_found(change: str) -> None:
    head, pieces = chunks_of(sealed())
    changed = {
        "cut": pieces[:-1],
        "drop": pieces[:2] + pieces[3:],
        "swap": [pieces[1], pieces[0], *pieces[2:]],
        "repeat": [pieces[0], *pieces],
        "append": [*pieces, pieces[-1]],
        "empty": [],
    }[change]
    with pytest.raises(Damaged):
        opened(head + b"".join(changed))
    with pytest.raises(Damaged):
        opened(head + b"".join(pieces)[:-7])


def test_a_file_that_is_not_an_archive_is_refused() -> None:
    with pytest.raises(Damaged, match="not a Yihaotong backup"):
        opened(b"PK\x03\x04 a zip file")


def test_a_sealed_secret_opens_only_with_its_own_passphrase() -> None:
    secret = bytes(range(32))
    document = seal_secret(secret, "the key's own passphrase")
    assert open_secret(document, "the key's own passphrase") == secret
    with pytest.raises(WrongPassphrase):
        open_secret(document, PASSPHRASE)
