"""The sandbox's task table in SQLite, so tasks survive across ``runway-img`` invocations.

A task's status is not stored: it is derived from the time since creation (the timeline) and
the behaviour chosen by markers in its prompt, so any process reading the file agrees.
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

# Prompt markers that steer a sandbox task (documented in the README).
MARKERS = {
    "[sandbox:fail]": "fail",
    "[sandbox:cancel]": "cancel",
    "[sandbox:throttle]": "throttle",
    "[sandbox:hang]": "hang",
    "[sandbox:no-output]": "no-output",
}

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
    credits REAL NOT NULL,
    cancelled REAL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER,
    kind TEXT
)
"""


@dataclass(frozen=True)
class Timeline:
    """How long a sandbox task spends PENDING, then RUNNING, before it ends."""

    pending: float = 0.4
    running: float = 1.6


@dataclass(frozen=True)
class TaskRow:
    id: str
    created: float
    model: str
    body: dict[str, Any]
    width: int
    height: int
    outputs: int
    format: str
    behaviour: str
    credits: float
    cancelled: float | None
    deleted: bool


def behaviour_for(prompt: str) -> str:
    for marker, behaviour in MARKERS.items():
        if marker in prompt:
            return behaviour
    return "succeed"


class TaskStore:
    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
        else:
            self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        with self._tx() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def close(self) -> None:
        self._conn.close()

    def create(
        self,
        *,
        model: str,
        body: dict[str, Any],
        width: int,
        height: int,
        outputs: int,
        fmt: str,
        credits: float,
    ) -> TaskRow:
        task_id = str(uuid.uuid4())
        prompt = str(body.get("promptText", ""))
        row = TaskRow(
            id=task_id,
            created=self.clock(),
            model=model,
            body=body,
            width=width,
            height=height,
            outputs=outputs,
            format=fmt,
            behaviour=behaviour_for(prompt),
            credits=credits,
            cancelled=None,
            deleted=False,
        )
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO tasks (id, created, model, body, width, height, outputs, format,"
                " behaviour, credits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.created,
                    model,
                    json.dumps(body),
                    width,
                    height,
                    outputs,
                    fmt,
                    row.behaviour,
                    credits,
                ),
            )
        return row

    def get(self, task_id: str) -> TaskRow | None:
        with self._tx() as conn:
            cur = conn.execute(
                "SELECT id, created, model, body, width, height, outputs, format, behaviour,"
                " credits, cancelled, deleted FROM tasks WHERE id = ?",
                (task_id,),
            )
            rec = cur.fetchone()
        if rec is None:
            return None
        return TaskRow(
            id=rec[0],
            created=rec[1],
            model=rec[2],
            body=json.loads(rec[3]),
            width=rec[4],
            height=rec[5],
            outputs=rec[6],
            format=rec[7],
            behaviour=rec[8],
            credits=rec[9],
            cancelled=rec[10],
            deleted=bool(rec[11]),
        )

    def cancel(self, task_id: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE tasks SET cancelled = ? WHERE id = ?", (self.clock(), task_id))

    def delete(self, task_id: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE tasks SET deleted = 1 WHERE id = ?", (task_id,))

    def create_upload(self, filename: str) -> str:
        upload_id = str(uuid.uuid4())
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO uploads (id, filename, created) VALUES (?, ?, ?)",
                (upload_id, filename, self.clock()),
            )
        return upload_id

    def complete_upload(self, upload_id: str, size: int, kind: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE uploads SET size = ?, kind = ? WHERE id = ?", (size, kind, upload_id)
            )
            return cur.rowcount == 1

    def upload_ready(self, upload_id: str, max_age: float = 86400) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "SELECT 1 FROM uploads WHERE id = ? AND kind IS NOT NULL AND created >= ?",
                (upload_id, self.clock() - max_age),
            )
            return cur.fetchone() is not None

    def daily_counts(self) -> dict[str, int]:
        since = self.clock() - 86400
        with self._tx() as conn:
            cur = conn.execute(
                "SELECT model, COUNT(*) FROM tasks WHERE created >= ? GROUP BY model", (since,)
            )
            return dict(cur.fetchall())

    def credits_spent(self) -> float:
        with self._tx() as conn:
            cur = conn.execute("SELECT COALESCE(SUM(credits), 0) FROM tasks")
            return float(cur.fetchone()[0])


def status_of(row: TaskRow, now: float, timeline: Timeline) -> tuple[str, float]:
    """``(status, progress)`` of a task at time ``now``."""
    elapsed = now - row.created
    if row.cancelled is not None and row.cancelled - row.created < _end(row, timeline):
        return "CANCELLED", 0.0
    queue = timeline.pending * (2 if row.behaviour == "throttle" else 1)
    if elapsed < queue:
        if row.behaviour == "throttle" and elapsed >= timeline.pending / 2:
            return "THROTTLED", 0.0
        return "PENDING", 0.0
    if row.behaviour == "cancel":
        return "CANCELLED", 0.0
    run = elapsed - queue
    if row.behaviour == "hang" or run < timeline.running:
        return "RUNNING", round(min(run / timeline.running, 0.99), 2) if timeline.running else 0.0
    if row.behaviour == "fail":
        return "FAILED", 1.0
    return "SUCCEEDED", 1.0


def _end(row: TaskRow, timeline: Timeline) -> float:
    if row.behaviour == "hang":
        return float("inf")
    queue = timeline.pending * (2 if row.behaviour == "throttle" else 1)
    return queue + timeline.running
