"""Every corrupt checkpoint file or database is a CheckpointError naming the path and what is wrong, raised when
the stream starts, before any request or item (issue 10: on main 11 of 23 variants gave a clear error, 9 an
untyped one, 3 none; a wrong store version failed only at commit(), after the item was handled)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from m365sentinel import CheckpointError
from m365sentinel._incidents import Checkpoint, FileCheckpointStore, SQLiteCheckpointStore

CP = {"v": 1, "watermark": "2025-11-20T11:00:00.0000000Z", "seen": [], "pass": None}


def _cp(**changes):
    return {**CP, **changes}


def _file(content):
    def write(path: Path) -> None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return write


def _doc(version=1, checkpoint=CP, **extra):
    return _file(json.dumps({"version": version, "checkpoint": checkpoint, **extra}))


def _directory(path: Path) -> None:
    path.mkdir()


def _missing_folder(path: Path) -> None:
    path.parent.rmdir()


def _folder_is_a_file(path: Path) -> None:
    path.parent.rmdir()
    path.parent.write_text("not a folder")


FILE_VARIANTS = {
    "empty file": (_file(b""), "is empty"),
    "whitespace only": (_file(b"  \n"), "is empty"),
    "truncated JSON": (_file('{"version": 1, "checkpoint": {"v": 1, "watermark": nu'), "is not JSON text"),
    "binary junk": (_file(bytes(range(256)) * 4), "is not JSON text"),
    "NaN constant": (_file('{"version": NaN, "checkpoint": {}}'), "NaN is not a JSON value"),
    "nested too deep": (_file("[" * 100_000), "is not JSON text"),
    "a JSON array": (_file("[]"), r"found list"),
    "JSON null": (_file("null"), r"found NoneType"),
    "missing version": (_file(json.dumps({"checkpoint": CP})), r"found \['checkpoint'\]"),
    "missing checkpoint": (_file(json.dumps({"version": 1})), r"found \['version'\]"),
    "extra unknown field": (_doc(owner="x"), r"found \['checkpoint', 'owner', 'version'\]"),
    "store version a string": (_doc(version="abc"), "store version 'abc' is not a positive integer"),
    "store version zero": (_doc(version=0), "store version 0 is not a positive integer"),
    "store version a bool": (_doc(version=True), "store version True is not a positive integer"),
    "store version a float": (_doc(version=1.5), "store version 1.5 is not a positive integer"),
    "checkpoint a string": (_doc(checkpoint="x"), "checkpoint is str, expected a JSON object"),
    "unknown checkpoint version": (_doc(checkpoint=_cp(v=99)), "unknown checkpoint version 99"),
    "checkpoint version missing": (_doc(checkpoint={"watermark": None}), "unknown checkpoint version None"),
    "watermark missing": (_doc(checkpoint={"v": 1, "seen": [], "pass": None}), "missing field 'watermark'"),
    "watermark a number": (_doc(checkpoint=_cp(watermark=5)), "5 is not a timestamp with a zone"),
    "watermark not a time": (_doc(checkpoint=_cp(watermark="yesterday")), "'yesterday' is not a timestamp"),
    "watermark without zone": (_doc(checkpoint=_cp(watermark="2025-11-20T11:00:00")), "not a timestamp with a zone"),
    "watermark impossible date": (_doc(checkpoint=_cp(watermark="2025-02-30T00:00:00Z")), "2025-02-30"),
    "seen not a list": (_doc(checkpoint=_cp(seen={"a": 1})), "seen must be a list"),
    "seen entry of 2": (_doc(checkpoint=_cp(seen=[["a", "2025-11-20T11:00:00Z"]])), r"is not \[id, lastModified"),
    "seen id a number": (_doc(checkpoint=_cp(seen=[[7, "2025-11-20T11:00:00Z", None]])), "seen id must be a string"),
    "seen etag a number": (_doc(checkpoint=_cp(seen=[["a", "2025-11-20T11:00:00Z", 3]])), "seen etag must be a str"),
    "pass not an object": (_doc(checkpoint=_cp(**{"pass": [1]})), "pass must be an object or null"),
    "pass ids not a list": (
        _doc(checkpoint=_cp(**{"pass": {"upper": "2025-11-20T11:00:00Z", "upper_ids": "a", "next_watermark": None}})),
        "pass.upper_ids must be a list",
    ),
    "pass next watermark missing": (
        _doc(checkpoint=_cp(**{"pass": {"upper": "2025-11-20T11:00:00Z", "upper_ids": []}})),
        "None is not a timestamp with a zone",
    ),
    "identity not an object": (_doc(checkpoint=_cp(v=2, identity="ws")), "identity must be an object"),
    "identity unknown kind": (
        _doc(checkpoint=_cp(v=2, identity={"workspace": "w", "kind": "arm/x", "filters": {}})),
        "identity.kind 'arm/x' is not one of",
    ),
    "identity workspace missing": (
        _doc(checkpoint=_cp(v=2, identity={"kind": "arm/incidents", "filters": {}})),
        "identity.workspace must be a string",
    ),
    "a directory at the path": (_directory, "is a directory; expected a checkpoint file path"),
    "missing folder": (_missing_folder, "folder '.*' does not exist .*create it first"),
    "folder is a file": (_folder_is_a_file, "folder '.*' does not exist \\(or is not a folder\\)"),
}


def _sql(*statements, params=()):
    def write(path: Path) -> None:
        con = sqlite3.connect(path)
        for st in statements:
            con.execute(st, params if "?" in st else ())
        con.commit()
        con.close()

    return write


_TABLE = "CREATE TABLE m365sentinel_checkpoints (name TEXT PRIMARY KEY, version INTEGER, body TEXT)"
_ROW = "INSERT INTO m365sentinel_checkpoints VALUES ('incidents', ?, ?)"

SQLITE_VARIANTS = {
    "text file, not a database": (_file("hello, I am not SQLite\n" * 100), "SQLite: file is not a database"),
    "binary junk, not a database": (_file(bytes(range(256)) * 16), "SQLite: file is not a database"),
    "wrong table schema": (
        _sql("CREATE TABLE m365sentinel_checkpoints (id INTEGER, data BLOB)"),
        r"table m365sentinel_checkpoints has columns \[\('id', 'INTEGER'\), \('data', 'BLOB'\)\]",
    ),
    "version a string": (_sql(_TABLE, _ROW, params=("abc", json.dumps(CP))), "store version 'abc' is not"),
    "version null": (_sql(_TABLE, _ROW, params=(None, json.dumps(CP))), "store version None is not"),
    "body not JSON": (_sql(_TABLE, _ROW, params=(1, "{trunc")), "not a checkpoint value"),
    "body of an unknown version": (
        _sql(_TABLE, _ROW, params=(1, json.dumps(_cp(v=7)))),
        "unknown checkpoint version 7",
    ),
    "body a blob": (_sql(_TABLE, _ROW, params=(1, b"\x00\x01")), "body is bytes, expected checkpoint JSON text"),
    "a directory at the path": (_directory, "is a directory; expected a SQLite database file"),
    "missing folder": (_missing_folder, "folder '.*' does not exist"),
}


def _start(connector, store, httpx_mock):
    with pytest.raises(CheckpointError) as info:
        iter(connector.incidents().since(store))
    assert httpx_mock.get_requests() == []  # refused before anything was listed
    return info.value


@pytest.mark.parametrize("variant", FILE_VARIANTS, ids=list(FILE_VARIANTS))
def test_corrupt_checkpoint_file_is_a_checkpoint_error_at_start(variant, tmp_path, connector, httpx_mock):
    make, message = FILE_VARIANTS[variant]
    path = tmp_path / "folder" / "cp.json"
    path.parent.mkdir()
    make(path)
    err = _start(connector, FileCheckpointStore(path), httpx_mock)
    assert err.path == str(path)
    assert str(err).startswith(f"checkpoint store {str(path)!r}: ")
    assert re.search(message, str(err)), str(err)


@pytest.mark.parametrize("variant", SQLITE_VARIANTS, ids=list(SQLITE_VARIANTS))
def test_corrupt_checkpoint_database_is_a_checkpoint_error_at_start(variant, tmp_path, connector, httpx_mock):
    make, message = SQLITE_VARIANTS[variant]
    path = tmp_path / "folder" / "cp.sqlite3"
    path.parent.mkdir()
    make(path)
    store = SQLiteCheckpointStore(path)  # no I/O yet: the stream's start finds the problem
    err = _start(connector, store, httpx_mock)
    assert err.path == str(path)
    assert re.search(message, str(err)), str(err)
    store.close()


def test_a_locked_database_is_a_checkpoint_error_after_the_busy_timeout(tmp_path, connector, httpx_mock):
    path = tmp_path / "cp.sqlite3"
    SQLiteCheckpointStore(path).compare_and_swap(None, Checkpoint())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        err = _start(connector, SQLiteCheckpointStore(path, busy_timeout=0), httpx_mock)
    finally:
        holder.close()
    assert (err.path, str(err)) == (str(path), f"checkpoint store {str(path)!r}: SQLite: database is locked")


def test_at_least_23_variants():
    assert len(FILE_VARIANTS) + len(SQLITE_VARIANTS) + 1 >= 23


def test_the_file_store_creates_no_folder_and_names_the_missing_one_at_commit(tmp_path):
    path = tmp_path / "missing" / "cp.json"
    store = FileCheckpointStore(path)
    with pytest.raises(CheckpointError, match=f"folder {str(path.parent)!r} does not exist"):
        store.compare_and_swap(None, Checkpoint())
    assert not path.parent.exists()


def test_a_failed_write_is_a_checkpoint_error_naming_the_file(tmp_path):
    path = tmp_path / "cp.json"
    store = FileCheckpointStore(path)
    (tmp_path / "cp.json.lock").mkdir()  # the lock file cannot be opened
    with pytest.raises(CheckpointError, match="cannot be written") as info:
        store.compare_and_swap(None, Checkpoint())
    assert info.value.path == str(path)


def test_a_bom_from_an_editor_is_tolerated(tmp_path):
    path = tmp_path / "cp.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": 4, "checkpoint": CP}).encode())
    stored = FileCheckpointStore(path).load()
    assert (stored.version, stored.checkpoint.to_json()) == ("4", {**CP, "watermark": "2025-11-20T11:00:00.0000000Z"})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "cp.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(CheckpointError, match="cannot be read"):
        FileCheckpointStore(path).load()
