"""The model catalog as the sandbox reads it: ``runway_cli/models.json``, parsed as plain JSON.

The sandbox is an independent oracle of the API: it shares the catalog *data* with the client,
never the client's code. These views, and the checks built on them in ``request_checks.py``,
are written separately from ``runway_cli.catalog`` on purpose, so a bug in one side's reading
of the table shows up as a disagreement in the end-to-end tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# Where the table documents no maximum outputCount (max: null), allow this many, as the README
# promises for both sides (each output is billed, so ``-n 500`` must not slip through).
UNDOCUMENTED_MAX_OUTPUTS = 10
# Free-form ratios: ASCII digits only ("²:1" is junk), at most six per side.
_RATIO = re.compile(r"([0-9]{1,6}):([0-9]{1,6})")


@dataclass(frozen=True)
class ReferenceRules:
    """What ``referenceImages`` may hold for one model."""

    min: int
    max: int | None
    required: bool
    fields: frozenset[str]  # keys allowed next to ``uri`` (``tag``, ``subject``)
    subject_limits: Mapping[str, int]
    default_subject: str | None  # what the API assumes for a reference without a subject


@dataclass(frozen=True)
class ModelRules:
    """One catalog row, as the sandbox needs it."""

    id: str
    prompt_min: int
    prompt_max: int | None  # None: the table documents no limit
    ratios: tuple[str, ...]
    ratio_required: bool
    freeform_pixels: tuple[int, int] | None  # (min, max) width*height for free-form W:H
    references: ReferenceRules | None  # None: the model takes no reference images
    output_counts: tuple[int, ...] | None  # allowed outputCount values; None: not taken
    output_counts_text: str  # the allowed values in words, for messages
    output_formats: tuple[str, ...] | None
    default_format: str | None
    vector: bool
    params: Mapping[str, Mapping[str, Any]]  # dotted name -> {"type", "values", "min", "max"}
    constraints: tuple[Mapping[str, Any], ...]  # {"if", "message", "min_refs"?, "forbid"?}

    def accepts_ratio(self, ratio: str) -> bool:
        """A listed value, or a free-form ``W:H`` whose pixel count is within the bounds."""
        if ratio in self.ratios:
            return True
        size = parse_ratio(ratio)
        if size is None or self.freeform_pixels is None:
            return False
        low, high = self.freeform_pixels
        return low <= size[0] * size[1] <= high


def parse_ratio(ratio: str) -> tuple[int, int] | None:
    """``"1280:720"`` -> ``(1280, 720)``; None for keywords such as ``auto`` and for junk."""
    match = _RATIO.fullmatch(ratio)
    if match is None:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    return (width, height) if width > 0 and height > 0 else None


def utf16_units(text: str) -> int:
    """The prompt length as the API counts it: characters beyond the BMP take two units."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _references(row: Mapping[str, Any] | None) -> ReferenceRules | None:
    if row is None:
        return None
    return ReferenceRules(
        min=row["min"],
        max=row["max"],
        required=row["required"],
        fields=frozenset(row["fields"]),
        subject_limits=dict(row.get("subject_limits") or {}),
        default_subject=row.get("default_subject"),
    )


def _output_counts(row: Mapping[str, Any] | None) -> tuple[tuple[int, ...] | None, str]:
    if row is None:
        return None, ""
    if "choices" in row:
        choices = tuple(row["choices"])
        return choices, " or ".join(str(c) for c in choices)
    low = row.get("min", 1)
    high = row.get("max") or UNDOCUMENTED_MAX_OUTPUTS
    return tuple(range(low, high + 1)), f"{low}-{high}"


def _rules(row: Mapping[str, Any]) -> ModelRules:
    ratio = row["ratio"]
    freeform = ratio.get("freeform")
    counts, counts_text = _output_counts(row.get("output_count"))
    return ModelRules(
        id=row["id"],
        prompt_min=row["prompt"]["min"],
        prompt_max=row["prompt"]["max"],
        ratios=tuple(ratio["values"]),
        ratio_required=ratio["required"],
        freeform_pixels=(freeform["min_pixels"], freeform["max_pixels"]) if freeform else None,
        references=_references(row.get("reference_images")),
        output_counts=counts,
        output_counts_text=counts_text,
        output_formats=tuple(row["output_formats"]) if row.get("output_formats") else None,
        default_format=row.get("default_output_format"),
        vector=row.get("output_kind") == "vector",
        params=dict(row.get("params") or {}),
        constraints=tuple(row.get("constraints") or ()),
    )


@cache
def models() -> dict[str, ModelRules]:
    """Every catalog model, keyed by id, in table order."""
    text = resources.files("runway_cli").joinpath("models.json").read_text(encoding="utf-8")
    return {row["id"]: _rules(row) for row in json.loads(text)["models"]}
