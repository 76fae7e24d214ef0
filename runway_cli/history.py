"""Local task history: no task id is ever lost.

An append-only JSON Lines file in the user data dir. Each create appends a ``created`` event
*before* waiting starts; later events (``finished``) add the final status, cost and saved
files. A create whose outcome is unknown (the request may have reached the server) appends an
``ambiguous`` event. Appends take an exclusive ``flock``, start on a fresh line (a torn last
line never swallows the next record) and check that the whole line was written, so concurrent
``runway-img`` processes never interleave or silently lose entries. Reading skips lines that
are not well-formed records and counts them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; a single O_APPEND write per line is still used
    fcntl = None  # type: ignore[assignment]

from runway_cli.errors import UsageError
from runway_cli.jsonl import append_record, write_all
from runway_cli.output_paths import file_in_the_way


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
    sandbox: bool | None = None  # None: recorded before runway-img said

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
            "sandbox": self.sandbox,
        }


@dataclass(frozen=True)
class Snapshot:
    """All tasks, newest first, and how many lines were skipped as unreadable."""

    entries: list[Entry]
    bad_lines: int = 0
    # The last line is cut short (not JSON): a write failed mid-record, so the newest task
    # may be missing from ``entries``.
    torn_tail: bool = field(default=False, compare=False)

    def find(self, task_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == task_id), None)


_OPTIONAL_STR = (str, type(None))
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "time": (str,),
    "id": _OPTIONAL_STR,
    "model": _OPTIONAL_STR,
    "prompt": _OPTIONAL_STR,
    "ratio": _OPTIONAL_STR,
    "params": (dict, type(None)),
    "note": _OPTIONAL_STR,
    "status": _OPTIONAL_STR,
    "cost": (int, float, type(None)),
    "files": (list, type(None)),
    "sandbox": (bool, type(None)),
}


EVENTS = ("created", "ambiguous", "finished", "cancelled", "deleted")
# Events that only update a task already known by its id.
_UPDATES = ("finished", "cancelled", "deleted")


def _well_formed(rec: Any) -> bool:
    if not isinstance(rec, dict) or rec.get("event") not in EVENTS:
        return False
    for name, types in _FIELD_TYPES.items():
        value = rec.get(name)
        if not isinstance(value, types) or (name == "cost" and isinstance(value, bool)):
            return False
    files = rec.get("files") or []
    if not all(isinstance(f, str) for f in files):
        return False
    return rec["event"] not in _UPDATES or isinstance(rec.get("id"), str)


class History:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: str, **fields: Any) -> str | None:
        """Append one event; None when written, else why it was not.

        Never raises: the history must not break a paid-for generation (the caller warns).
        """
        record = {"event": event, "time": _now(), **fields}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):  # /dev/null would swallow every id
                    return "it is not a regular file"
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                append_record(fd, record)
            finally:
                os.close(fd)  # closing releases the lock
        except (FileExistsError, NotADirectoryError):  # a file where a folder should be
            return f"{file_in_the_way(self.path.parent)} is a file, not a folder"
        except OSError as exc:
            return exc.strerror or str(exc)
        return None

    def read(self) -> Snapshot:
        """All tasks, newest first, with later events folded into their task."""
        try:
            if not stat.S_ISREG(self.path.stat().st_mode):  # a FIFO or /dev/zero: never read
                raise UsageError(
                    f"The history file {self.path} is not a regular file.",
                    hint="Set RUNWAY_IMG_HISTORY to a file, or unset it.",
                )
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Snapshot([])
        except OSError as exc:
            raise UsageError(
                f"Cannot read the history file {self.path}: {exc.strerror or exc}.",
                hint="Check the path, or set RUNWAY_IMG_HISTORY to a file.",
            ) from None
        by_id: dict[str, Entry] = {}
        ordered: list[Entry] = []
        bad = 0
        torn = False
        # "\n" only: a prompt may hold U+2028 (written raw), which splitlines() would cut at
        for line in raw.decode("utf-8", "replace").split("\n"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line.removeprefix("\ufeff"))
                torn = False
            except (ValueError, RecursionError):
                rec = None
                torn = True
            if not _well_formed(rec):
                bad += 1  # a torn or foreign line must not hide the others
                continue
            _fold(rec, by_id, ordered)
        ordered.reverse()
        return Snapshot(ordered, bad, torn_tail=torn)

    def clear(self) -> int:
        """Remove every task; how many there were."""
        removed, _ = self._rewrite_locked(lambda lines: ([], *_count_tasks(lines)))
        return removed

    def prune(self, older_than_days: float, *, now: float | None = None) -> tuple[int, int]:
        """Drop every line of the tasks created more than ``older_than_days`` ago;
        ``(removed, kept)`` task counts. A line that cannot be read is kept as it is: its age
        is unknown, and it may be the only record of a task id. Rewritten under the lock, so
        concurrent appends are not lost."""
        cutoff = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ",
            time.gmtime((time.time() if now is None else now) - older_than_days * 86400),
        )
        return self._rewrite_locked(lambda lines: _prune_lines(lines, cutoff))

    def _rewrite_locked(
        self, change: Callable[[list[bytes]], tuple[list[bytes], int, int]]
    ) -> tuple[int, int]:
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return 0, 0
        except OSError as exc:
            raise UsageError(f"Cannot open {self.path}: {exc.strerror or exc}.") from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "rb") as fh:
                lines = fh.read().split(b"\n")  # bytes: a line kept is kept as it was
            kept_lines, removed, kept = change(lines)
            self._rewrite(fd, kept_lines)
        finally:
            os.close(fd)
        return removed, kept

    def _rewrite(self, fd: int, lines: list[bytes]) -> None:
        """Rewrite the locked file in place: appenders waiting on the same lock then add to
        this file (a rename would leave them writing to the unlinked old one)."""
        data = b"".join(line + b"\n" for line in lines)
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            write_all(fd, data)
        except OSError as exc:
            raise UsageError(f"Cannot rewrite {self.path}: {exc.strerror or exc}.") from None


def _count_tasks(lines: list[bytes]) -> tuple[int, int]:
    _, removed, kept = _prune_lines(lines, "9999")  # every task is older than year 9999
    return removed, kept


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _prune_lines(lines: list[bytes], cutoff: str) -> tuple[list[bytes], int, int]:
    """The lines to keep: those of tasks created at or after ``cutoff`` (ISO UTC text). A task
    goes only when every record that starts it is dated before the cutoff; a line it cannot
    read, or a start record without a readable date, keeps its age unknown: kept."""
    parsed: list[tuple[bytes, dict[str, Any] | None]] = []
    old_ids: set[str] = set()
    young_ids: set[str] = set()
    for line in lines:
        try:
            rec = json.loads(line.decode("utf-8").removeprefix("\ufeff"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            rec = None
        if not _well_formed(rec):
            parsed.append((line, None))
            continue
        parsed.append((line, rec))
        if rec["event"] in ("created", "ambiguous") and rec.get("id"):
            (old_ids if _is_old(rec, cutoff) else young_ids).add(rec["id"])
    old_ids -= young_ids
    kept_lines = []
    removed = kept = 0
    for line, rec in parsed:
        if rec is None:
            if line.strip():
                kept_lines.append(line)  # as it was, byte for byte (blank lines go)
            continue
        is_start = rec["event"] in ("created", "ambiguous")
        if rec.get("id") in old_ids or (is_start and not rec.get("id") and _is_old(rec, cutoff)):
            removed += is_start
            continue
        kept += is_start
        kept_lines.append(line)
    return kept_lines, removed, kept


def _is_old(rec: Mapping[str, Any], cutoff: str) -> bool:
    return bool(_STAMP.fullmatch(rec["time"])) and rec["time"] < cutoff


def _fold(rec: Mapping[str, Any], by_id: dict[str, Entry], ordered: list[Entry]) -> None:
    event, task_id = rec["event"], rec.get("id")
    if event in ("created", "ambiguous"):
        entry = Entry(
            id=task_id,
            created=rec["time"],
            model=rec.get("model"),
            prompt=rec.get("prompt"),
            ratio=rec.get("ratio"),
            params=rec.get("params") or {},
            status="CREATED" if event == "created" else "UNKNOWN",
            note=rec.get("note"),
            sandbox=rec.get("sandbox"),
        )
        ordered.append(entry)
        if task_id:
            by_id[task_id] = entry
        return
    assert isinstance(task_id, str)  # _well_formed: updates have an id
    if task_id not in by_id:
        by_id[task_id] = Entry(id=task_id, created=rec["time"])
        ordered.append(by_id[task_id])
    entry = by_id[task_id]
    default = {"cancelled": "CANCELLED", "deleted": "DELETED"}.get(event, entry.status)
    entry.status = rec.get("status") or default
    if rec.get("cost") is not None:
        entry.cost = rec["cost"]
    if rec.get("files"):
        entry.files = list(rec["files"])
    entry.note = rec.get("note") or entry.note
    entry.updated = rec["time"]
