"""The text-to-image model catalog: one data table (``models.json``) and typed views of it.

Everything model-specific (prompt limits, ratios, reference-image bounds, output options,
extra parameters) lives in the table; code asks the table instead of testing model names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "gen4_image"
# Where the spec gives no maximum outputCount, runway-img allows this many (each is billed).
UNDOCUMENTED_MAX_OUTPUTS = 10
_RATIO_RE = re.compile(r"([0-9]{1,6}):([0-9]{1,6})", re.ASCII)


@dataclass(frozen=True)
class RatioSpec:
    values: tuple[str, ...]
    required: bool
    default: str | None
    freeform_min_pixels: int | None = None
    freeform_max_pixels: int | None = None

    @property
    def freeform(self) -> bool:
        return self.freeform_min_pixels is not None

    def accepts(self, ratio: str) -> bool:
        """One of the listed values, or a free-form WIDTH:HEIGHT within the pixel bounds."""
        if ratio in self.values:
            return True
        size = parse_ratio(ratio)
        return (
            size is not None
            and self.freeform_min_pixels is not None
            and self.freeform_max_pixels is not None
            and self.freeform_min_pixels <= size[0] * size[1] <= self.freeform_max_pixels
        )


@dataclass(frozen=True)
class ReferenceSpec:
    min: int
    max: int | None
    required: bool
    fields: tuple[str, ...]
    subject_limits: dict[str, int] = field(default_factory=dict)
    default_subject: str | None = None  # what the API assumes when a reference gives none


@dataclass(frozen=True)
class OutputCountSpec:
    choices: tuple[int, ...] | None = None
    min: int = 1
    max: int | None = None

    @property
    def limit(self) -> int:
        return self.max if self.max is not None else UNDOCUMENTED_MAX_OUTPUTS

    def allows(self, n: int) -> bool:
        if self.choices is not None:
            return n in self.choices
        return self.min <= n <= self.limit

    def describe(self) -> str:
        if self.choices is not None:
            return " or ".join(str(c) for c in self.choices)
        return f"{self.min}-{self.limit}"


@dataclass(frozen=True)
class Constraint:
    """A cross-field rule: when every field in ``when`` matches the request body, the request
    needs ``min_refs`` reference images, or (``forbid``) is refused outright.

    A condition value ``"*"`` means "present", ``"!x"`` means "present and not x"; anything
    else must be equal.
    """

    when: dict[str, Any]
    message: str
    min_refs: int = 0
    forbid: bool = False

    def applies(self, body: dict[str, Any]) -> bool:
        for name, expected in self.when.items():
            value = _lookup(body, name)
            if value is None:
                return False
            if expected == "*":
                continue
            if isinstance(expected, str) and expected.startswith("!"):
                if value == expected[1:]:
                    return False
            elif value != expected:
                return False
        return True

    def violated(self, body: dict[str, Any]) -> bool:
        if not self.applies(body):
            return False
        return self.forbid or len(body.get("referenceImages") or []) < self.min_refs


def _lookup(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    values: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Model:
    id: str
    prompt_min: int
    prompt_max: int | None
    ratio: RatioSpec
    reference_images: ReferenceSpec | None
    output_count: OutputCountSpec | None
    output_formats: tuple[str, ...] | None
    default_output_format: str | None
    output_kind: str
    params: dict[str, ParamSpec]
    source: str
    notes: str | None = None
    constraints: tuple[Constraint, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The catalog row as plain JSON (for ``runway-img models --json``)."""
        refs = self.reference_images
        count = self.output_count
        return {
            "id": self.id,
            "prompt": {"min": self.prompt_min, "max": self.prompt_max, "unit": "utf16"},
            "ratios": list(self.ratio.values),
            "ratioRequired": self.ratio.required,
            "defaultRatio": self.ratio.default,
            "freeformRatio": {
                "minPixels": self.ratio.freeform_min_pixels,
                "maxPixels": self.ratio.freeform_max_pixels,
            }
            if self.ratio.freeform
            else None,
            "referenceImages": None
            if refs is None
            else {
                "min": refs.min,
                "max": refs.max,
                "fields": list(refs.fields),
                "subjectLimits": refs.subject_limits or None,
            },
            "outputCount": None
            if count is None
            else (
                {"choices": list(count.choices)}
                if count.choices is not None
                else {"min": count.min, "max": count.max}
            ),
            "outputFormats": list(self.output_formats) if self.output_formats else None,
            "defaultOutputFormat": self.default_output_format,
            "outputKind": self.output_kind,
            "params": {
                name: {
                    k: v
                    for k, v in (
                        ("type", p.type),
                        ("values", list(p.values) or None),
                        ("min", p.min),
                        ("max", p.max),
                    )
                    if v is not None
                }
                for name, p in self.params.items()
            },
            "source": self.source,
            "notes": self.notes,
            "constraints": [c.message for c in self.constraints],
        }


def _model_from_row(row: dict[str, Any]) -> Model:
    ratio = row["ratio"]
    freeform = ratio.get("freeform") or {}
    refs = row.get("reference_images")
    count = row.get("output_count")
    return Model(
        id=row["id"],
        prompt_min=row["prompt"]["min"],
        prompt_max=row["prompt"]["max"],
        ratio=RatioSpec(
            values=tuple(ratio["values"]),
            required=ratio["required"],
            default=ratio["default"],
            freeform_min_pixels=freeform.get("min_pixels"),
            freeform_max_pixels=freeform.get("max_pixels"),
        ),
        reference_images=None
        if refs is None
        else ReferenceSpec(
            min=refs["min"],
            max=refs["max"],
            required=refs["required"],
            fields=tuple(refs["fields"]),
            subject_limits=dict(refs.get("subject_limits") or {}),
            default_subject=refs.get("default_subject"),
        ),
        output_count=None
        if count is None
        else OutputCountSpec(
            choices=tuple(count["choices"]) if "choices" in count else None,
            min=count.get("min", 1),
            max=count.get("max"),
        ),
        output_formats=tuple(row["output_formats"]) if row["output_formats"] else None,
        default_output_format=row["default_output_format"],
        output_kind=row["output_kind"],
        params={
            name: ParamSpec(
                name=name,
                type=spec["type"],
                values=tuple(spec.get("values", ())),
                min=spec.get("min"),
                max=spec.get("max"),
            )
            for name, spec in row["params"].items()
        },
        source=row["source"],
        notes=row.get("notes"),
        constraints=tuple(
            Constraint(
                when=dict(c["if"]),
                message=c["message"],
                min_refs=c.get("min_refs", 0),
                forbid=c.get("forbid", False),
            )
            for c in row.get("constraints", [])
        ),
    )


@cache
def all_models() -> dict[str, Model]:
    """Every known model, keyed by id, in catalog order."""
    # Read beside this module: pip installs packages as files, and importlib.resources would
    # cost every run that reads the table (a --model completion included) ~10 ms of imports.
    text = Path(__file__).with_name("models.json").read_text(encoding="utf-8")
    return {row["id"]: _model_from_row(row) for row in json.loads(text)["models"]}


def get_model(model_id: str) -> Model | None:
    return all_models().get(model_id)


def find_model(model_id: str) -> Model:
    """The catalog model ``model_id``; UsageError naming close matches otherwise."""
    from runway_cli.errors import UsageError

    known = all_models()
    if model_id in known:
        return known[model_id]
    close = [m for m in known if model_id.lower() in m.lower()]
    hint = f"Did you mean: {', '.join(close)}?" if close else "See: runway-img models"
    raise UsageError(f"Unknown model {model_id!r}.", hint=hint)


def utf16_length(text: str) -> int:
    """Length as the API counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_ratio(ratio: str) -> tuple[int, int] | None:
    """``"1280:720"`` -> ``(1280, 720)``; None for keywords such as ``auto`` or junk."""
    match = _RATIO_RE.fullmatch(ratio)
    if match is None:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    if width <= 0 or height <= 0:
        return None
    return width, height
