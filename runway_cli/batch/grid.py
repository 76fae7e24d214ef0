"""``--vary KEY=V1,V2,...``: every item made once per combination of the values given.

KEY is ``model``, ``ratio``, ``seed``, ``count`` or ``format``, or else a model parameter
(as ``-p KEY=VALUE``). Values are split on commas. The grid's values replace the item's own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from runway_cli.batch.lines import LineItem
from runway_cli.errors import UsageError

FIELDS = ("model", "ratio", "seed", "count", "format")  # any other KEY is a parameter

Combination = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Vary:
    key: str
    values: tuple[str, ...]


def parse_vary(texts: Iterable[str]) -> list[Vary]:
    """``KEY=V1,V2,...`` options; UsageError for a malformed or repeated one."""
    varies: list[Vary] = []
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        values = tuple(v.strip() for v in raw.split(","))
        if not sep or not key or not raw.strip():
            raise UsageError(f"--vary expects KEY=V1,V2,..., not {text!r}.")
        if key == "prompt" or key == "output":
            raise UsageError(f"--vary cannot vary {key}; put one item per line instead.")
        if any(not v for v in values):
            raise UsageError(f"--vary {key}: empty value in {raw!r}.")
        if len(set(values)) < len(values):
            raise UsageError(f"--vary {key}: a value is repeated in {raw!r}.")
        if any(v.key == key for v in varies):
            raise UsageError(f"--vary {key} is given twice; list all its values in one.")
        if key in ("seed", "count"):
            for value in values:
                _whole_number(key, value)
        varies.append(Vary(key, values))
    return varies


def _whole_number(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--vary {key}: {value!r} is not a whole number.") from None


def combinations(varies: Sequence[Vary]) -> list[Combination]:
    """Every combination of the grid, in order (one empty combination without --vary)."""
    axes = [[(v.key, value) for value in v.values] for v in varies]
    return list(itertools.product(*axes))


def apply(line: LineItem, combo: Combination) -> LineItem:
    """The line with the combination's values in place (the grid wins over the line)."""
    params = dict(line.params)
    fields: dict[str, Any] = {}
    for key, value in combo:
        if key in ("seed", "count"):
            fields[key] = int(value)
        elif key == "format":
            fields["output_format"] = value
        elif key in FIELDS:
            fields[key] = value
        else:
            params[key] = value
    return replace(line, params=params, **fields)
