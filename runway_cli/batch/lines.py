"""Reading a batch file: one item per line, a plain prompt or a JSON object.

Blank lines are skipped. A line whose first character (after spaces) is ``{`` is JSON: an
object with ``prompt`` and any of ``model``, ``ratio``, ``seed``, ``refs``, ``count``,
``format``, ``params`` and ``output``. Any other line is a prompt, as written (spaces at both
ends trimmed). Every bad line is a ``Problem`` naming it; reading goes on to the next line.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runway_cli.errors import UsageError

MAX_FILE_BYTES = 64 * 2**20  # a batch file larger than this is surely the wrong file
ITEM_KEYS = ("prompt", "model", "ratio", "seed", "refs", "count", "format", "params", "output")


@dataclass(frozen=True)
class LineItem:
    """One line of the batch file as written (None: not given on that line)."""

    line: int
    prompt: str
    model: str | None = None
    ratio: str | None = None
    seed: int | None = None
    refs: tuple[str, ...] | None = None
    count: int | None = None
    output_format: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    output: str | None = None


@dataclass(frozen=True)
class Problem:
    line: int  # 0: the file as a whole
    reason: str
    where: str = ""  # the --vary values it happens with, when not with all of them

    def __str__(self) -> str:
        if not self.line:
            return self.reason
        where = f" ({self.where})" if self.where else ""
        return f"line {self.line}{where}: {self.reason}"


def read_source(source: str) -> bytes:
    """The batch file's bytes (``-``: stdin), bounded; UsageError when unreadable."""
    where = "stdin" if source == "-" else source
    try:
        if source == "-":
            stream = sys.stdin
            if stream is None:
                raise UsageError("Cannot read the batch from stdin: it is closed.")
            data: bytes = stream.buffer.read(MAX_FILE_BYTES + 1)
        else:
            path = Path(source)
            if path.is_dir():
                raise UsageError(f"Cannot read the batch file {source}: it is a folder.")
            with path.open("rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"Cannot read the batch file {where}: {exc.strerror or exc}.") from None
    except (ValueError, AttributeError) as exc:
        raise UsageError(f"Cannot read the batch from {where}: {exc}.") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"The batch file {where} is over {MAX_FILE_BYTES // 2**20} MB.")
    return data


def parse_lines(data: bytes) -> tuple[list[LineItem], list[Problem]]:
    """Every non-blank line as an item, or a problem naming the line."""
    items: list[LineItem] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            problems.append(Problem(number, f"not UTF-8 text (byte {exc.start + 1})"))
            continue
        if not text.strip():
            continue
        try:
            items.append(_parse_line(number, text))
        except UsageError as exc:
            problems.append(Problem(number, exc.message))
    return items, problems


def _parse_line(number: int, text: str) -> LineItem:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return LineItem(number, stripped)
    try:
        obj = json.loads(stripped)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise UsageError("a JSON line must be an object")
    unknown = sorted(set(obj) - set(ITEM_KEYS))
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} (known: {', '.join(ITEM_KEYS)})")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str):
        raise UsageError('"prompt" (a string) is required')
    return LineItem(
        number,
        prompt,
        model=_optional(obj, "model", str),
        ratio=_optional(obj, "ratio", str),
        seed=_optional(obj, "seed", int),
        refs=_refs(obj.get("refs")),
        count=_optional(obj, "count", int),
        output_format=_optional(obj, "format", str),
        params=_params(obj.get("params")),
        output=_optional(obj, "output", str),
    )


def _optional(obj: dict[str, Any], key: str, kind: type) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        noun = "a whole number" if kind is int else "a string"
        raise UsageError(f'"{key}" must be {noun}, not {json.dumps(value)}')
    return value


def _refs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise UsageError('"refs" must be a list of strings')


def _params(value: Any) -> dict[str, str]:
    """``params`` as -p values: strings as they are, everything else as JSON (lists of
    strings comma-joined, as -p takes colour lists)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError('"params" must be an object')
    out: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, str):
            out[name] = item
        elif isinstance(item, list) and all(isinstance(v, str) for v in item):
            out[name] = ",".join(item)
        else:
            out[name] = json.dumps(item)
    return out
