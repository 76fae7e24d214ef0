"""The sandbox's tasks and uploads in SQLite, so they survive across ``runway-img`` invocations.

A task's status is never stored: it is derived when read (``lifecycle.py``) from its creation
time, the queue of its model, the timeline and concurrency limit in force when it was created
(stored with it) and the markers in its prompt. So any process reading the file agrees.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .markers import steering_for

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    body TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    outputs INTEGER NOT NULL,
    format TEXT NOT NULL,
    behaviour TEXT NOT NULL,
    credits REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER,
    kind TEXT
);
"""
# Columns added since the first state files; added in place to older files.
_ADDED_COLUMNS = {
    "prompt": "TEXT",
    "failure_code": "TEXT",
    "pending": "REAL",
    "running": "REAL",
    "slots": "INTEGER",
    "deleted_at": "REAL",
}
# Older files marked DELETE with two columns; a task deleted after it ended had no time.
_CARRY_OVER_DELETES = (
    "UPDATE tasks SET deleted_at = COALESCE(cancelled, CASE WHEN deleted THEN 1e308 END)"
)
_SELECT_TASKS = (
    "SELECT rowid, id, created, model, COALESCE(prompt, ''), width, height, outputs, format,"
    " behaviour, failure_code, credits, pending, running, slots, deleted_at FROM tasks"
)


@dataclass(frozen=True)
class TaskRow:
    id: str
    seq: int  # insertion order: the FIFO order of the concurrency queue
    created: float
    model: str
    prompt: str
    width: int
    height: int
    outputs: int
    format: str  # file extension served: png, jpg or svg
    behaviour: str  # from the prompt's markers (see markers.py)
    failure_code: str | None
    credits: int  # the estimated (and, if it succeeds, final) cost
    pending: float | None  # the timeline when it was created (None: the reader's)
    running: float | None
    slots: int | None  # the model's concurrency limit when it was created (None: no limit)
    deleted_at: float | None  # when DELETE took it away (aborted or deleted): gone for good

    @classmethod
    def from_record(cls, rec: tuple[Any, ...]) -> TaskRow:
        return cls(
            seq=rec[0],
            id=rec[1],
            created=rec[2],
            model=rec[3],
            prompt=rec[4],
            width=rec[5],
            height=rec[6],
            outputs=rec[7],
            format=rec[8],
            behaviour=rec[9],
            failure_code=rec[10],
            credits=round(rec[11]),
            pending=rec[12],
            running=rec[13],
            slots=rec[14],
            deleted_at=rec[15],
        )


class TaskStore:
    """Thread-safe; several processes may share one file (writes take SQLite's lock)."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            ":memory:" if path is None else path,
            timeout=10,
            check_same_thread=False,
            isolation_level=None,  # transactions are explicit: see _write()
        )
        with self._lock:
            self._conn.executescript(_SCHEMA)  # idempotent; executescript commits by itself
        with self._write() as conn:
            self._migrate(conn)
            conn.execute("CREATE INDEX IF NOT EXISTS tasks_by_model ON tasks (model)")

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        have = {rec[1] for rec in conn.execute("PRAGMA table_info(tasks)")}
        for name, kind in _ADDED_COLUMNS.items():
            if name not in have:
                conn.execute(f"ALTER TABLE tasks ADD COLUMN {name} {kind}")
        if "deleted_at" not in have and "cancelled" in have:
            conn.execute(_CARRY_OVER_DELETES)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding SQLite's write lock from the start (``BEGIN IMMEDIATE``),
        so a check-then-insert is atomic across threads and processes."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- tasks ------------------------------------------------------------------------------

    def create(
        self,
        *,
        model: str,
        body: dict[str, Any],
        width: int,
        height: int,
        outputs: int,
        fmt: str,
        credits: int,
        pending: float | None = None,
        running: float | None = None,
        slots: int | None = None,
        admit: Callable[[list[TaskRow]], None] | None = None,
    ) -> TaskRow:
        """Insert a task. ``admit`` sees every stored task first, under the write lock, and
        raises to refuse the new one (account limits)."""
        prompt = str(body.get("promptText", ""))
        steering = steering_for(prompt)
        task_id = str(uuid.uuid4())
        with self._write() as conn:
            if admit is not None:
                admit([TaskRow.from_record(r) for r in conn.execute(_SELECT_TASKS)])
            # The creation time is read under the write lock, so creation times follow the
            # insertion order the FIFO replay (lifecycle.start_times) goes by: read before it,
            # two concurrent creates could be inserted the other way round and the later one
            # replayed as THROTTLED behind the earlier one.
            values = (
                task_id,
                self.clock(),
                model,
                json.dumps(body),
                width,
                height,
                outputs,
                fmt,
                steering.behaviour,
                credits,
                prompt,
                steering.failure_code,
                pending,
                running,
                slots,
            )
            cur = conn.execute(
                "INSERT INTO tasks (id, created, model, body, width, height, outputs, format,"
                " behaviour, credits, prompt, failure_code, pending, running, slots)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            seq = cur.lastrowid
        row = self.get(task_id)
        assert row is not None and row.seq == seq
        return row

    def get(self, task_id: str) -> TaskRow | None:
        recs = self._read(_SELECT_TASKS + " WHERE id = ?", (task_id,))
        return TaskRow.from_record(recs[0]) if recs else None

    def queue(self, model: str, through: int) -> list[TaskRow]:
        """The model's tasks in FIFO order, up to and including insertion number ``through``."""
        recs = self._read(
            _SELECT_TASKS + " WHERE model = ? AND rowid <= ? ORDER BY rowid",
            (model, through),
        )
        return [TaskRow.from_record(r) for r in recs]

    def all_tasks(self) -> list[TaskRow]:
        return [TaskRow.from_record(r) for r in self._read(_SELECT_TASKS)]

    def mark_deleted(self, task_id: str) -> bool:
        """Take a task away for good (``DELETE``); False if it was already gone or unknown."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE tasks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                (self.clock(), task_id),
            )
            return cur.rowcount == 1

    def daily_counts(self) -> dict[str, int]:
        """Tasks created per model in the last 24 hours (a rolling day, as the API counts)."""
        recs = self._read(
            "SELECT model, COUNT(*) FROM tasks WHERE created >= ? GROUP BY model",
            (self.clock() - 86400,),
        )
        return dict(recs)

    # -- uploads ----------------------------------------------------------------------------

    def create_upload(self, filename: str) -> str:
        upload_id = str(uuid.uuid4())
        with self._write() as conn:
            conn.execute(
                "INSERT INTO uploads (id, filename, created) VALUES (?, ?, ?)",
                (upload_id, filename, self.clock()),
            )
        return upload_id

    def complete_upload(self, upload_id: str, size: int, kind: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE uploads SET size = ?, kind = ? WHERE id = ?", (size, kind, upload_id)
            )
            return cur.rowcount == 1

    def upload_exists(self, upload_id: str, max_age: float = 86400) -> bool:
        """An upload the API issued (``POST /v1/uploads``) within ``max_age`` seconds."""
        recs = self._read(
            "SELECT 1 FROM uploads WHERE id = ? AND created >= ?",
            (upload_id, self.clock() - max_age),
        )
        return bool(recs)

    def upload_ready(self, upload_id: str, max_age: float = 86400) -> bool:
        recs = self._read(
            "SELECT 1 FROM uploads WHERE id = ? AND kind IS NOT NULL AND created >= ?",
            (upload_id, self.clock() - max_age),
        )
        return bool(recs)
