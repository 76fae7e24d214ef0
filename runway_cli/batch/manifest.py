"""The batch manifest: an append-only JSON Lines record of every item's tasks.

Each line is one ``Record``: ``sent`` (written *before* a create request), ``created`` (the
task id, written the moment the create answers), ``refused`` (Runway refused the create:
nothing was made), ``unknown`` (the create may or may not have reached Runway), ``finished``
(final status, cost, saved files, error) and ``trouble`` (following a task that exists
failed; a rerun reattaches to it). Every record names its item by ``key`` (``items.item_key``)
and carries the item's line number and a ``status``.

Reading folds the records into one ``ItemState`` per key: what a rerun must do with it.
An item whose last record is ``sent`` was being created when the process died: its create
may have reached Runway, so it is unknown, exactly like an ``unknown`` one.

A run holds an exclusive ``flock`` on the manifest for as long as it runs, so two batches can
never work from the same manifest (and bill an item twice). Appends start on a fresh line (a
torn last line never swallows the next record) and write the whole line or fail. Lines that
are not well-formed records are skipped and counted.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; one O_APPEND write per line is still used
    fcntl = None  # type: ignore[assignment]

from runway_cli.errors import SaveError, UsageError
from runway_cli.jsonl import append_record

EVENTS = ("sent", "created", "refused", "unknown", "finished", "trouble")


class ManifestError(SaveError):
    """The manifest could not be written: no more creates (exit 8)."""

    kind = "manifest"


class Phase(StrEnum):
    SENT = "sent"  # the create was sent; no answer recorded (a kill at that instant)
    UNKNOWN = "unknown"  # the create may have reached Runway
    REFUSED = "refused"  # Runway refused the create: nothing was made, nothing billed
    CREATED = "created"  # the task exists; not followed to its end yet
    SAVED = "saved"
    SAVE_FAILED = "save_failed"  # succeeded, but not every output was saved
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Record:
    """One manifest line. ``status``: the API's task status once known, else the event's."""

    event: str
    key: str
    line: int
    time: str = ""
    status: str | None = None
    id: str | None = None
    model: str | None = None
    prompt: str | None = None
    ratio: str | None = None
    seed: int | None = None
    images: int | None = None
    estimate: float | None = None
    cost: float | None = None
    files: tuple[str, ...] = ()
    error: str | None = None
    failure_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "key": self.key, "line": self.line}
        out["time"] = self.time or _now()
        out["status"] = self.status or self.event.upper()
        optional = {
            "id": self.id,
            "model": self.model,
            "prompt": self.prompt,
            "ratio": self.ratio,
            "seed": self.seed,
            "images": self.images,
            "estimate": self.estimate,
            "cost": self.cost,
            "error": self.error,
            "failureCode": self.failure_code,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.event == "finished":
            out["files"] = list(self.files)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Record | None:
        """The record a line holds, or None for anything else (torn, foreign, mistyped)."""
        if not isinstance(obj, dict) or obj.get("event") not in EVENTS:
            return None
        try:
            return cls(
                event=obj["event"],
                key=_typed(obj, "key", str, required=True),
                line=_typed(obj, "line", int, required=True),
                time=_typed(obj, "time", str) or "",
                status=_typed(obj, "status", str),
                id=_typed(obj, "id", str),
                model=_typed(obj, "model", str),
                prompt=_typed(obj, "prompt", str),
                ratio=_typed(obj, "ratio", str),
                seed=_typed(obj, "seed", int),
                images=_typed(obj, "images", int),
                estimate=_typed(obj, "estimate", int | float),
                cost=_typed(obj, "cost", int | float),
                files=tuple(_files(obj.get("files"))),
                error=_typed(obj, "error", str),
                failure_code=_typed(obj, "failureCode", str),
            )
        except (TypeError, ValueError):
            return None


def _typed(obj: dict[str, Any], name: str, kind: Any, *, required: bool = False) -> Any:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(name)
    return value


def _files(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise TypeError("files")
    return value


@dataclass
class ItemState:
    """Where one item stands, from its records."""

    key: str
    line: int
    phase: Phase
    model: str | None = None
    prompt: str | None = None
    ratio: str | None = None
    seed: int | None = None
    images: int = 1
    task_id: str | None = None
    estimate: float | None = None
    cost: float | None = None
    files: tuple[str, ...] = ()
    error: str | None = None
    failure_code: str | None = None

    @property
    def unknown(self) -> bool:
        """The create may have reached Runway and no id was recorded."""
        return self.phase in (Phase.SENT, Phase.UNKNOWN)


@dataclass
class ManifestState:
    """Every item's state, the final cost of every task, the last cost per image seen for
    each model, and how many lines were skipped as unreadable."""

    items: dict[str, ItemState] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    per_image: dict[str, float] = field(default_factory=dict)
    bad_lines: int = 0

    @property
    def spent(self) -> float:
        return sum(self.costs.values())

    def fold(self, rec: Record) -> None:
        state = self.items.get(rec.key)
        if rec.event == "sent" or state is None:
            state = self.items[rec.key] = ItemState(
                key=rec.key,
                line=rec.line,
                phase=Phase.SENT,
                model=rec.model,
                prompt=rec.prompt,
                ratio=rec.ratio,
                seed=rec.seed,
                images=rec.images or 1,
            )
        state.line = rec.line
        if rec.event == "created":
            state.phase, state.task_id, state.error = Phase.CREATED, rec.id, None
            state.estimate = rec.estimate
            self._learn(state, rec.estimate)
        elif rec.event in ("refused", "unknown"):
            state.phase, state.error = Phase(rec.event), rec.error
        elif rec.event == "trouble":
            state.error = rec.error
        elif rec.event == "finished":
            self._finish(state, rec)

    def _finish(self, state: ItemState, rec: Record) -> None:
        state.task_id = rec.id or state.task_id
        state.cost, state.files, state.error = rec.cost, rec.files, rec.error
        state.failure_code = rec.failure_code
        if rec.id is not None and rec.cost is not None:
            self.costs[rec.id] = float(rec.cost)
        if rec.status == "SUCCEEDED":
            state.phase = Phase.SAVE_FAILED if rec.error else Phase.SAVED
            self._learn(state, rec.cost)
        elif rec.status == "CANCELLED":
            state.phase = Phase.CANCELLED
        else:
            state.phase = Phase.FAILED

    def _learn(self, state: ItemState, credits: float | None) -> None:
        if credits is not None and state.model is not None and state.images > 0:
            self.per_image[state.model] = float(credits) / state.images


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_state(path: Path) -> ManifestState:
    """The folded manifest (an empty state when there is none yet)."""
    state = ManifestState()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise UsageError(f"Cannot read the manifest {path}: {exc.strerror or exc}.") from None
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            rec = Record.from_json(json.loads(line))
        except (ValueError, RecursionError):
            rec = None
        if rec is None:
            state.bad_lines += 1  # a torn or foreign line must not hide the others
            continue
        state.fold(rec)
    return state


class Manifest:
    """The manifest of one run: locked for the run, read once, appended to as things happen.

    Use as a context manager; ``state`` is kept up to date with every append. Appends from
    several threads are serialised.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = ManifestState()
        self._fd: int | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Manifest:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(
                f"Cannot open the manifest {self.path}: {exc.strerror or exc}."
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UsageError(
                    f"Another runway-img batch is using {self.path}.",
                    hint="Wait for it to finish, or choose another --output-dir / --manifest.",
                ) from None
        self._fd = fd
        self.state = read_state(self.path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def snapshot(self) -> list[ItemState]:
        """A copy of every item's state (safe while other threads append)."""
        with self._lock:
            return [replace(item) for item in self.state.items.values()]

    def append(self, rec: Record) -> None:
        """Write one record (then fold it in); ManifestError when it cannot be written."""
        with self._lock:
            if self._fd is None:
                raise ManifestError(f"The manifest {self.path} is not open.")
            try:
                append_record(self._fd, rec.to_json())
            except OSError as exc:
                raise ManifestError(
                    f"Cannot write the manifest {self.path}: {exc.strerror or exc}."
                ) from None
            self.state.fold(rec)
