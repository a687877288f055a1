"""Checkpoint stores with compare-and-swap, so two workers cannot both advance one checkpoint.

Interface (``CheckpointStore``): ``load() -> StoredCheckpoint | None`` and
``compare_and_swap(expected_version, checkpoint) -> new_version``; ``expected_version`` is the version that was
loaded (``None`` when nothing was stored). A store whose version moved on raises ``CheckpointConflictError`` and
keeps what it had. Built in: ``MemoryCheckpointStore``, ``FileCheckpointStore`` (atomic replace, an advisory lock
around the compare) and ``SQLiteCheckpointStore`` (one conditional UPDATE).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import attrs

from .._errors import CheckpointConflictError, InvalidInputError
from .._inputs import check_text
from ._checkpoint import Checkpoint

__all__ = [
    "CheckpointConflictError",
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


def _conflict(expected: str | None, actual: str | None) -> CheckpointConflictError:
    return CheckpointConflictError(
        f"checkpoint changed since it was loaded (expected version {expected}, found {actual}): "
        "another worker advanced it; reload and continue from the stored checkpoint",
        expected=expected,
        actual=actual,
    )


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
    directory, fsync, ``os.replace``). The compare happens under an exclusive lock on ``<path>.lock``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise InvalidInputError(f"checkpoint path {path!r}: expected a file path (str or os.PathLike)")
        self._path = Path(path)
        try:
            is_dir = self._path.is_dir()
        except OSError as exc:  # e.g. a name too long for the file system
            raise InvalidInputError(f"checkpoint path {str(path)[:200]!r} is not usable: {exc.strerror}") from exc
        if is_dir:
            raise InvalidInputError(f"checkpoint path {str(self._path)!r} is a directory; expected a file path")
        self._thread_lock = threading.Lock()

    def _read(self) -> StoredCheckpoint | None:
        try:
            doc = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except OSError as exc:  # a name too long, a permission, a path through a file: the path given cannot be read
            raise InvalidInputError(f"checkpoint file {str(self._path)[:200]!r}: {exc.strerror}") from exc
        except ValueError as exc:
            raise InvalidInputError(f"checkpoint file {str(self._path)!r} is not JSON: {exc}") from exc
        return StoredCheckpoint(Checkpoint.from_json(doc["checkpoint"]), str(doc["version"]))

    def load(self) -> StoredCheckpoint | None:
        return self._read()

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        _check_swap(expected_version, checkpoint)
        import fcntl  # POSIX advisory lock; imported here so the module loads everywhere

        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(str(self._path) + ".lock", "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = self._read()
                actual = current.version if current else None
                if actual != expected_version:
                    raise _conflict(expected_version, actual)
                version = str(int(actual or 0) + 1)
                text = json.dumps({"version": int(version), "checkpoint": checkpoint.to_json()}, separators=(",", ":"))
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
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


class SQLiteCheckpointStore:
    """A row ``(name, version, body)`` in table ``m365sentinel_checkpoints`` of a SQLite database; the swap is
    ``UPDATE ... WHERE name = ? AND version = ?`` (or an INSERT that fails if the row exists). ``synchronous``:
    SQLite's durability level (``FULL`` default: survives power loss; ``NORMAL`` uses WAL and survives a crash of
    the process, much faster when committing after every item)."""

    def __init__(self, database: str | os.PathLike[str], name: str = "incidents", *, synchronous: str = "FULL") -> None:
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"checkpoint name must be a non-empty string, got {name!r}")
        if synchronous not in ("FULL", "NORMAL", "OFF"):
            raise InvalidInputError(f"synchronous={synchronous!r}: expected 'FULL', 'NORMAL' or 'OFF' (SQLite PRAGMA)")
        if not isinstance(database, str | os.PathLike) or not str(database):
            raise InvalidInputError(f"database {database!r}: expected a file path (str or os.PathLike) or ':memory:'")
        self._db = check_text(str(database), "database", expected="a file path or ':memory:'")
        self._name = check_text(name, "checkpoint name")
        self._lock = threading.Lock()
        # One connection per store (opening one per commit costs a WAL checkpoint each time); the swap itself is
        # a single conditional statement, so other processes on the same file stay safe.
        try:
            self._con = sqlite3.connect(self._db, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise InvalidInputError(f"database {self._db!r}: cannot open it as SQLite ({exc})") from exc
        self._con.execute(f"PRAGMA synchronous={synchronous}")  # value checked above
        if synchronous != "FULL":
            self._con.execute("PRAGMA journal_mode=WAL")  # NORMAL is crash-safe for the process with WAL
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS m365sentinel_checkpoints "
            "(name TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def load(self) -> StoredCheckpoint | None:
        with self._lock:
            row = self._con.execute(
                "SELECT version, body FROM m365sentinel_checkpoints WHERE name = ?", (self._name,)
            ).fetchone()
        if row is None:
            return None
        return StoredCheckpoint(Checkpoint.from_json(row[1]), str(row[0]))

    def compare_and_swap(self, expected_version: str | None, checkpoint: Checkpoint) -> str:
        _check_swap(expected_version, checkpoint)
        body = checkpoint.dumps()
        with self._lock:
            if expected_version is None:
                try:
                    self._con.execute(
                        "INSERT INTO m365sentinel_checkpoints (name, version, body) VALUES (?, 1, ?)",
                        (self._name, body),
                    )
                    return "1"
                except sqlite3.IntegrityError:
                    pass
            else:
                if not (expected_version.isascii() and expected_version.isdigit() and len(expected_version) < 19):
                    raise InvalidInputError(f"expected_version={expected_version!r}: not a version this store returned")
                new = int(expected_version) + 1
                cur = self._con.execute(
                    "UPDATE m365sentinel_checkpoints SET version = ?, body = ? WHERE name = ? AND version = ?",
                    (new, body, self._name, int(expected_version)),
                )
                if cur.rowcount == 1:
                    return str(new)
        current = self.load()
        raise _conflict(expected_version, current.version if current else None)
