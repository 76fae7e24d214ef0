"""Local task history: no task id is ever lost.

An append-only JSON Lines file in the user data dir. Each create appends a ``created`` event
*before* waiting starts; later events (``finished``) add the final status, cost and saved
files. A create whose outcome is unknown (the request may have reached the server) appends an
``ambiguous`` event. Appends take an exclusive ``flock`` and write one line in one ``write``,
so concurrent ``runway-img`` processes never interleave or lose entries.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; a single O_APPEND write per line is still used
    fcntl = None  # type: ignore[assignment]

from runway_cli import config
from runway_cli.errors import UsageError

HISTORY_ENV = "RUNWAY_IMG_HISTORY"


def history_path() -> Path:
    override = os.environ.get(HISTORY_ENV)
    return Path(override) if override else config.data_dir() / "history.jsonl"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def append(event: str, **fields: Any) -> bool:
    """Append one event; False if it could not be written.

    Never raises: history must not break a paid-for generation (the caller warns instead).
    """
    record = {"event": event, "time": _now(), **fields}
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)  # closing releases the lock
    except OSError:
        return False
    return True


@dataclass
class Entry:
    id: str | None
    created: str
    model: str | None = None
    prompt: str | None = None
    ratio: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    status: str = "CREATED"
    cost: float | None = None
    files: list[str] = field(default_factory=list)
    note: str | None = None
    updated: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "model": self.model,
            "prompt": self.prompt,
            "ratio": self.ratio,
            "params": self.params,
            "status": self.status,
            "cost": self.cost,
            "files": self.files,
            "note": self.note,
            "updated": self.updated,
        }


def entries() -> list[Entry]:
    """All tasks, newest first, with later events folded into their task."""
    path = history_path()
    try:
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UsageError(
            f"Cannot read the history file {path}: {exc.strerror or exc}.",
            hint=f"Check the path, or set {HISTORY_ENV} to a file.",
        ) from None
    by_id: dict[str, Entry] = {}
    ordered: list[Entry] = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn or foreign line must not hide the others
        if not isinstance(rec, dict):
            continue
        event, task_id = rec.get("event"), rec.get("id")
        if event in ("created", "ambiguous"):
            entry = Entry(
                id=task_id,
                created=str(rec.get("time", "")),
                model=rec.get("model"),
                prompt=rec.get("prompt"),
                ratio=rec.get("ratio"),
                params=rec.get("params") or {},
                status="CREATED" if event == "created" else "UNKNOWN",
                note=rec.get("note"),
            )
            ordered.append(entry)
            if task_id:
                by_id[task_id] = entry
        elif event == "finished" and task_id:
            if task_id not in by_id:
                by_id[task_id] = Entry(id=task_id, created=str(rec.get("time", "")))
                ordered.append(by_id[task_id])
            entry = by_id[task_id]
            entry.status = rec.get("status") or entry.status
            if rec.get("cost") is not None:
                entry.cost = rec["cost"]
            if rec.get("files"):
                entry.files = list(rec["files"])
            entry.note = rec.get("note") or entry.note
            entry.updated = str(rec.get("time", ""))
    ordered.reverse()
    return ordered


def find(task_id: str) -> Entry | None:
    for entry in entries():
        if entry.id == task_id:
            return entry
    return None


def last_task_id() -> str | None:
    for entry in entries():
        if entry.id:
            return entry.id
    return None
