"""Checkpoint stores with compare-and-swap, so two workers cannot both advance one checkpoint.

Interface (``CheckpointStore``): ``load() -> StoredCheckpoint | None`` and
``compare_and_swap(expected_version, checkpoint) -> new_version``; ``expected_version`` is the version that was
loaded (``None`` when nothing was stored). A store whose version moved on raises ``CheckpointConflictError`` and
keeps what it had. Built in: ``MemoryCheckpointStore``, ``FileCheckpointStore`` (atomic replace, an advisory lock
around the compare) and ``SQLiteCheckpointStore`` (one conditional UPDATE).

Corruption is found at ``load()``, which the stream calls when it starts, before any item: anything a store
cannot read as a version-1/2 checkpoint with a positive integer version (an empty or truncated file, binary junk,
missing or mistyped fields, an unknown checkpoint version, a directory where the file should be, a missing
folder, a file that is not a SQLite database, a table of another shape, a database locked past the busy timeout)
raises ``CheckpointError`` naming the path and what is wrong. Never silence, never an untyped exception. Nothing
is repaired or created behind the caller's back: a missing folder is the caller's to create.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from .._errors import CheckpointConflictError, CheckpointError, InvalidInputError
from .._inputs import check_text
from ._checkpoint import Checkpoint

__all__ = [
    "CheckpointConflictError",
    "CheckpointError",
    "CheckpointStore",
    "FileCheckpointStore",
    "MemoryCheckpointStore",
    "SQLiteCheckpointStore",
    "StoredCheckpoint",
]


@attrs.frozen
class StoredCheckpoint:
    checkpoint: Checkpoint
    version: str


@runtime_checkable
class CheckpointStore(Protocol):
    def load(self) -> StoredCheckpoint | None: ...

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str: ...


def _conflict(expected: str | None, actual: str | None, path: str | None = None) -> CheckpointConflictError:
    return CheckpointConflictError(
        f"checkpoint changed since it was loaded (expected version {expected}, found {actual}): "
        "another worker advanced it; reload and continue from the stored checkpoint",
        expected=expected,
        actual=actual,
        path=path,
    )


def _bad(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint store {path!r}: {what}", path=path)


def _stored(path: str, version: Any, body: Any) -> StoredCheckpoint:
    """A stored (version, checkpoint JSON) pair, checked; CheckpointError naming ``path`` otherwise."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _bad(path, f"store version {version!r} is not a positive integer (the file was edited or corrupted)")
    try:
        checkpoint = Checkpoint.from_json(body)
    except InvalidInputError as exc:
        raise _bad(path, str(exc)) from exc
    return StoredCheckpoint(checkpoint, str(version))


def _parse_document(where: str, raw: bytes) -> StoredCheckpoint | None:
    """The document ``{"version": n, "checkpoint": {...}}`` of the file and blob stores, checked (CheckpointError
    naming ``where`` otherwise). ``{"version": 0, "checkpoint": null}`` is None: a placeholder that holds no
    checkpoint yet (the blob store writes one to lease a stream that has none)."""
    if not raw.strip():
        raise _bad(where, "is empty (a checkpoint is never written empty: truncated or overwritten?)")
    try:
        doc = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)  # tolerate an editor's BOM
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(where, f"is not JSON text ({exc})") from exc
    if not isinstance(doc, dict) or set(doc) != {"version", "checkpoint"}:
        shape = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise _bad(where, f'expected {{"version": n, "checkpoint": {{...}}}}, found {shape}')
    if doc["checkpoint"] is None and doc["version"] == 0 and not isinstance(doc["version"], bool | float):
        return None
    if not isinstance(doc["checkpoint"], dict):
        raise _bad(where, f"checkpoint is {type(doc['checkpoint']).__name__}, expected a JSON object")
    return _stored(where, doc["version"], doc["checkpoint"])


def _render_document(version: int, checkpoint: Checkpoint | None) -> bytes:
    """What ``_parse_document`` reads: store version ``version`` holding ``checkpoint`` (None: the placeholder)."""
    body = None if checkpoint is None else checkpoint.to_json()
    return json.dumps({"version": version, "checkpoint": body}, separators=(",", ":")).encode()


def _existing_folder(path: Path, expected: str = "a checkpoint file path") -> None:
    """The folder must exist (no store creates one: a typo must not start a new stream), and ``path`` not be one."""
    folder = path.parent
    try:
        folder_ok, is_dir = folder.is_dir(), path.is_dir()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a path through a file
        raise _bad(str(path)[:200], f"is not usable ({getattr(exc, 'strerror', None) or exc})") from exc
    if not folder_ok:
        raise _bad(str(path), f"folder {str(folder)!r} does not exist (or is not a folder); create it first")
    if is_dir:
        raise _bad(str(path), f"is a directory; expected {expected}")


def _check_swap(expected_version: object, checkpoint: object) -> None:
    """The arguments of every store's compare_and_swap, checked before anything is read or written."""
    if expected_version is not None and not isinstance(expected_version, str):
        raise InvalidInputError(f"expected_version={expected_version!r}: expected a version string or None")
    if not isinstance(checkpoint, Checkpoint):
        raise InvalidInputError(f"checkpoint={checkpoint!r}: expected a Checkpoint")


class MemoryCheckpointStore:
    """In-process store (tests, single-process pipelines)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: StoredCheckpoint | None = None
        self._n = 0

    def load(self) -> StoredCheckpoint | None:
        with self._lock:
            return self._value

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        _check_swap(expected_version, checkpoint)
        with self._lock:
            actual = self._value.version if self._value else None
            if actual != expected_version:
                raise _conflict(expected_version, actual)
            self._n += 1
            self._value = StoredCheckpoint(Checkpoint.from_json(checkpoint.to_json()), str(self._n))
            return str(self._n)


class FileCheckpointStore:
    """One JSON file ``{"version": n, "checkpoint": {...}}``, replaced atomically (write a temp file in the same
    directory, fsync, ``os.replace``). The compare happens under an exclusive lock on ``<path>.lock`` (the OS
    file lock of each platform, Windows included, through ``filelock``), shared safely by processes and threads.

    The folder must exist (it is not created: a typo in the path would otherwise start a new stream from the
    beginning). No file yet means no checkpoint. ``load()`` raises CheckpointError naming the path for a missing
    folder, a directory at ``path``, an unreadable or corrupt file; ``compare_and_swap`` also for a failed write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise InvalidInputError(f"checkpoint path {path!r}: expected a file path (str or os.PathLike)")
        self._path = Path(check_text(os.fspath(path), "checkpoint path", expected="a file path"))
        self._thread_lock = threading.Lock()

    def _read(self) -> StoredCheckpoint | None:
        where = str(self._path)
        _existing_folder(self._path)
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _bad(where, f"cannot be read ({exc.strerror or exc})") from exc
        stored = _parse_document(where, raw)
        if stored is None:  # the blob store's placeholder has no business in a file
            raise _bad(where, "store version 0 is not a positive integer (the file was edited or corrupted)")
        return stored

    def load(self) -> StoredCheckpoint | None:
        return self._read()

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        _check_swap(expected_version, checkpoint)
        # filelock: the OS lock of each platform (flock on POSIX, msvcrt on Windows) behind one API; a lock taken
        # by another process waits. The thread lock keeps two threads of this process apart as before.
        from filelock import FileLock

        where = str(self._path)
        _existing_folder(self._path)
        try:
            with self._thread_lock, FileLock(where + ".lock"):
                return self._swap(expected_version, checkpoint)
        except OSError as exc:
            raise _bad(where, f"cannot be written ({exc.strerror or exc})") from exc

    def _swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        current = self._read()
        actual = current.version if current else None
        if actual != expected_version:
            raise _conflict(expected_version, actual, str(self._path))
        version = str(int(actual or 0) + 1)
        text = _render_document(int(version), checkpoint).decode()
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=self._path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return version


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


_TABLE = "m365sentinel_checkpoints"
_COLUMNS = "(name TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)"
_SCHEMA = (("name", "TEXT", 1), ("version", "INTEGER", 0), ("body", "TEXT", 0))  # (column, type, primary key)


class SQLiteCheckpointStore:
    """A row ``(name, version, body)`` in table ``m365sentinel_checkpoints`` of a SQLite database; the swap is
    ``UPDATE ... WHERE name = ? AND version = ?`` (or an INSERT that fails if the row exists). ``synchronous``:
    SQLite's durability level (``FULL`` default: survives power loss; ``NORMAL`` uses WAL and survives a crash of
    the process, much faster when committing after every item). ``busy_timeout``: seconds to wait for another
    connection's lock before CheckpointError.

    The database is opened at the first ``load()`` (the stream's start), which creates the table if absent and
    checks its shape; the folder must exist. CheckpointError names the database for a file that is not a SQLite
    database, a table of another shape, a locked database, a corrupt row."""

    def __init__(
        self,
        database: str | os.PathLike[str],
        name: str = "incidents",
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 30.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"checkpoint name must be a non-empty string, got {name!r}")
        if synchronous not in ("FULL", "NORMAL", "OFF"):
            raise InvalidInputError(f"synchronous={synchronous!r}: expected 'FULL', 'NORMAL' or 'OFF' (SQLite PRAGMA)")
        if not isinstance(database, str | os.PathLike) or not str(database):
            raise InvalidInputError(f"database {database!r}: expected a file path (str or os.PathLike) or ':memory:'")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, int | float)
            or not math.isfinite(busy_timeout)
            or busy_timeout < 0
        ):
            raise InvalidInputError(f"busy_timeout={busy_timeout!r}: expected a finite number of seconds >= 0")
        self._db = check_text(str(database), "database", expected="a file path or ':memory:'")
        self._name = check_text(name, "checkpoint name")
        self._synchronous = synchronous
        self._timeout = float(busy_timeout)
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._finalizer: weakref.finalize[[], SQLiteCheckpointStore] | None = None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The store's one connection (opened and checked on first use), under the store's lock; SQLite errors
        become CheckpointError naming the database."""
        with self._lock:
            try:
                if self._con is None:
                    self._con = self._open()
                    # A store dropped without close() closes its connection when collected (no ResourceWarning).
                    self._finalizer = weakref.finalize(self, self._con.close)
                yield self._con
            except sqlite3.Error as exc:
                raise _bad(self._db, f"SQLite: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        if self._db != ":memory:":
            path = Path(self._db)
            _existing_folder(path, "a SQLite database file")
        # One connection per store (opening one per commit costs a WAL checkpoint each time); the swap itself is
        # a single conditional statement, so other processes on the same file stay safe.
        con = sqlite3.connect(self._db, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        try:
            con.execute(f"PRAGMA synchronous={self._synchronous}")  # value checked in __init__
            if self._synchronous != "FULL":
                con.execute("PRAGMA journal_mode=WAL")  # NORMAL is crash-safe for the process with WAL
            con.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} {_COLUMNS}")
            shape = tuple((c[1], c[2].upper(), c[5]) for c in con.execute(f"PRAGMA table_info({_TABLE})"))
            if shape != _SCHEMA:
                raise _bad(
                    self._db,
                    f"table {_TABLE} has columns {[c[:2] for c in shape]}, expected {_COLUMNS}: another "
                    "application's table?",
                )
        except BaseException:
            con.close()
            raise
        return con

    def close(self) -> None:
        """Close the database connection (idempotent); the store reopens it on next use."""
        with self._lock:
            if self._con is not None:
                if self._finalizer is not None:
                    self._finalizer()  # closes the connection, once
                else:
                    self._con.close()
                self._con = None

    def __enter__(self) -> SQLiteCheckpointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> StoredCheckpoint | None:
        with self._connection() as con:
            row = con.execute(f"SELECT version, body FROM {_TABLE} WHERE name = ?", (self._name,)).fetchone()
        if row is None:
            return None
        version, body = row
        if not isinstance(body, str):
            raise _bad(self._db, f"row {self._name!r}: body is {type(body).__name__}, expected checkpoint JSON text")
        return _stored(self._db, version, body)

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        _check_swap(expected_version, checkpoint)
        body = checkpoint.dumps()
        with self._connection() as con:
            if expected_version is None:
                try:
                    con.execute(f"INSERT INTO {_TABLE} (name, version, body) VALUES (?, 1, ?)", (self._name, body))
                    return "1"
                except sqlite3.IntegrityError:
                    pass
            else:
                if not (expected_version.isascii() and expected_version.isdigit() and len(expected_version) < 19):
                    raise InvalidInputError(f"expected_version={expected_version!r}: not a version this store returned")
                new = int(expected_version) + 1
                cur = con.execute(
                    f"UPDATE {_TABLE} SET version = ?, body = ? WHERE name = ? AND version = ?",
                    (new, body, self._name, int(expected_version)),
                )
                if cur.rowcount == 1:
                    return str(new)
        current = self.load()
        raise _conflict(expected_version, current.version if current else None, self._db)
