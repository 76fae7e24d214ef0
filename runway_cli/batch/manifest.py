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
import stat
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
    damaged: bool = field(default=False, compare=False)  # read with mistyped fields dropped

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
        """The record a line holds; None when it names no event and item (torn, foreign).

        A record of a known item with a field of the wrong type still counts, without that
        field (and ``damaged``): dropping a ``sent`` or ``created`` record whole would make
        its item look never sent, and a rerun would bill it again.
        """
        if not isinstance(obj, dict) or obj.get("event") not in EVENTS:
            return None
        key = obj.get("key")
        if not isinstance(key, str) or not key:
            return None
        fields = _Fields(obj)
        files = obj.get("files")
        if files is not None and not (
            isinstance(files, list) and all(isinstance(f, str) for f in files)
        ):
            fields.damaged, files = True, None
        return cls(
            event=obj["event"],
            key=key,
            line=fields.get("line", int) or 0,
            time=fields.get("time", str) or "",
            status=fields.get("status", str),
            id=fields.get("id", str),
            model=fields.get("model", str),
            prompt=fields.get("prompt", str),
            ratio=fields.get("ratio", str),
            seed=fields.get("seed", int),
            images=fields.get("images", int),
            estimate=fields.get("estimate", int | float),
            cost=fields.get("cost", int | float),
            files=tuple(files or ()),
            error=fields.get("error", str),
            failure_code=fields.get("failureCode", str),
            damaged=fields.damaged,
        )


class _Fields:
    """A record's optional fields, each of its type or None (and then ``damaged``)."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.damaged = False

    def get(self, name: str, kind: Any) -> Any:
        value = self.obj.get(name)
        if value is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool):
            self.damaged = True
            return None
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
    # Whole lines that name no item (edited by hand, say; not the records a crash cuts
    # short). One may be an item's record: a rerun must not create items behind it.
    orphan_lines: list[int] = field(default_factory=list)

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
        state.line = rec.line or state.line
        if rec.event == "created" and rec.id is None:  # damaged: made, but which task?
            state.phase, state.error = Phase.UNKNOWN, "its task id in the manifest is unreadable"
        elif rec.event == "created":
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


MAX_LINE = 1 << 20  # no record comes near; a longer line is skipped, never held whole


def check_manifest_path(path: Path) -> None:
    """UsageError unless ``path`` is a regular file or nothing yet: a device (/dev/null keeps
    nothing, so every rerun would bill every item again), a FIFO or a folder is refused."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise UsageError(f"Cannot use the manifest {path}: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise UsageError(
            f"Cannot use the manifest {path}: it is {what}; reruns need it to resume.",
            hint="Choose another --manifest (a file), or leave it out (DIR/manifest.jsonl).",
        )


def read_state(path: Path) -> ManifestState:
    """The folded manifest (an empty state when there is none yet), read a line at a time."""
    state = ManifestState()
    check_manifest_path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115  (closed below; open errors are one message)
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise UsageError(f"Cannot read the manifest {path}: {exc.strerror or exc}.") from None
    with fh:
        try:
            for number, raw in enumerate(_lines(fh), start=1):
                if not _read_line(state, raw):
                    state.orphan_lines.append(number)
        except OSError as exc:
            raise UsageError(f"Cannot read the manifest {path}: {exc.strerror or exc}.") from None
    return state


def _lines(fh: Any) -> Any:
    """Each line, or None for one longer than MAX_LINE (read past, never held)."""
    while chunk := fh.readline(MAX_LINE + 1):
        if len(chunk) > MAX_LINE and not chunk.endswith(b"\n"):
            while (rest := fh.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield chunk


def _read_line(state: ManifestState, raw: bytes | None) -> bool:
    """Fold one line in; False when it names no item and is not a torn record.

    A record cut short by a crash (its JSON ends early) is harmless: a ``sent`` record is
    written whole before its create goes out, so a torn one was never followed by a create,
    and any later record of an item has that item's whole ``sent`` line before it.
    """
    if raw is not None and not raw.strip():
        return True
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff").rstrip() if raw else None
    torn = False
    try:
        rec = Record.from_json(json.loads(text)) if text else None
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text or "") or exc.msg.startswith("Unterminated string")
        rec, torn = None, bool(text) and ends_early
    except (ValueError, RecursionError):
        rec = None
    if rec is None or rec.damaged:
        state.bad_lines += 1  # a torn or foreign line must not hide the others
    if rec is not None:
        state.fold(rec)
    return rec is not None or torn


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
