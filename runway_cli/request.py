"""Building a ``POST /v1/text_to_image`` body from the user's options, checked against the catalog.

Everything that can be known before spending credits is checked here: prompt, ratio, reference
images (count, tags, subjects), output count and format, and every extra parameter. Nothing is
sent; local reference images are read and either inlined or marked for upload.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runway_cli.catalog import Model, ParamSpec, all_models
from runway_cli.errors import UsageError
from runway_cli.references import (
    SUBJECTS,
    LocalImage,
    RefOption,
    load_source,
    shorten_data_uri,
)
from runway_cli.validation import check_prompt, check_ratio

_CORE_FIELDS = {
    "model": "--model",
    "promptText": "the prompt",
    "ratio": "--ratio",
    "referenceImages": "--ref",
    "outputCount": "--count",
    "outputFormat": "--format",
}
_HEX_RE = re.compile(r"^#?[0-9a-fA-F]{6}$")
_PROMPT_TAG_RE = re.compile(r"(?<![\w@])@([a-z][a-z0-9_]*)")


@dataclass
class Options:
    model: str
    prompt: str
    ratio: str | None = None
    refs: list[RefOption] = field(default_factory=list)
    count: int | None = None
    seed: int | None = None
    public_figures: str | None = None
    output_format: str | None = None
    params: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    body: dict[str, Any]
    model: Model | None
    uploads: list[tuple[int, LocalImage]]  # (index in referenceImages, file to upload)
    warnings: list[str]
    expected_outputs: int
    expected_ext: str

    def display_body(self) -> dict[str, Any]:
        """The body for --dry-run: data URIs shortened, uploads described."""
        shown: dict[str, Any] = json.loads(json.dumps(self.body))
        pending = dict(self.uploads)
        for i, ref in enumerate(shown.get("referenceImages", [])):
            if i in pending:
                img = pending[i]
                ref["uri"] = f"runway://(upload of {img.path.name}, {len(img.data) / 2**20:.1f} MB)"
            else:
                ref["uri"] = shorten_data_uri(ref["uri"])
        if isinstance(shown.get("maskUri"), str):
            shown["maskUri"] = shorten_data_uri(shown["maskUri"])
        return shown


def models_taking(name: str) -> list[str]:
    """Ids of catalog models that accept a body field (for error messages)."""
    out = []
    for m in all_models().values():
        if (
            (name == "outputCount" and m.output_count is not None)
            or (name == "outputFormat" and m.output_formats is not None)
            or (name == "referenceImages" and m.reference_images is not None)
            or name in m.params
        ):
            out.append(m.id)
    return out


def _not_taken(option: str, field_name: str, model: Model) -> UsageError:
    takers = models_taking(field_name)
    where = ", ".join(takers) if takers else "no catalog model"
    return UsageError(f"{model.id} does not take {option}. Models that do: {where}.")


def _set_path(body: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, tail = dotted.partition(".")
    if tail:
        body.setdefault(head, {})[tail] = value
    else:
        body[head] = value


def parse_param_value(name: str, raw: str, spec: ParamSpec) -> Any:
    """A ``-p name=value`` value converted to the type the catalog gives for ``name``."""
    kind = spec.type
    if kind == "int":
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"{name} must be a whole number, not {raw!r}.") from None
        if spec.min is not None and spec.max is not None and not spec.min <= value <= spec.max:
            raise UsageError(f"{name} must be between {spec.min} and {spec.max}, not {value}.")
        return value
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise UsageError(f"{name} must be true or false, not {raw!r}.")
    if kind == "enum":
        if raw not in spec.values:
            raise UsageError(f"{name} must be one of {', '.join(spec.values)}, not {raw!r}.")
        return raw
    if kind == "hex_color":
        if not _HEX_RE.match(raw):
            raise UsageError(f"{name} must be a six-digit hex colour like ff8800, not {raw!r}.")
        return raw
    if kind == "hex_color_list":
        colours = [c.strip() for c in raw.split(",") if c.strip()]
        bad = [c for c in colours if not _HEX_RE.match(c)]
        if not colours or bad:
            raise UsageError(
                f"{name} must be comma-separated six-digit hex colours, e.g. ff0000,00ff00."
            )
        return colours
    if kind == "image":
        loaded = load_source(raw)
        if isinstance(loaded, LocalImage):
            if not loaded.fits_inline:
                raise UsageError(
                    f"{name}: {raw} is too large to inline; upload it and pass the URI."
                )
            return loaded.data_uri()
        return loaded
    return raw


def _parse_param(item: str) -> tuple[str, str]:
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"-p expects key=value, not {item!r}.")
    if name.split(".")[0] in _CORE_FIELDS:
        raise UsageError(f"Set {name} with {_CORE_FIELDS[name.split('.')[0]]}, not -p.")
    return name, raw


def _guess_value(raw: str) -> Any:
    """For models outside the catalog: JSON if it parses, else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build(options: Options) -> Prepared:
    model = all_models().get(options.model)
    warnings: list[str] = []
    if model is None:
        warnings.append(f"{options.model} is not in the model catalog; sending it as given.")
    check_prompt(options.prompt, model)
    body: dict[str, Any] = {"model": options.model, "promptText": options.prompt}

    ratio = options.ratio if options.ratio is not None else (model.ratio.default if model else None)
    if ratio is None and model is None:
        raise UsageError(f"--ratio is required for {options.model}, which is not in the catalog.")
    if ratio is not None:
        check_ratio(ratio, model)
        body["ratio"] = ratio

    uploads = _add_refs(body, options, model, warnings)

    count = 1
    if options.count is not None:
        if model is not None:
            if model.output_count is None:
                raise _not_taken("--count", "outputCount", model)
            if not model.output_count.allows(options.count):
                raise UsageError(
                    f"{model.id} makes {model.output_count.describe()} images per task, "
                    f"not {options.count}."
                )
        elif options.count < 1:
            raise UsageError("--count must be at least 1.")
        body["outputCount"] = options.count
        count = options.count

    fmt = options.output_format
    if fmt is not None:
        if model is not None:
            if model.output_formats is None:
                raise _not_taken("--format", "outputFormat", model)
            if fmt not in model.output_formats:
                raise UsageError(f"{model.id} writes {', '.join(model.output_formats)}, not {fmt}.")
        body["outputFormat"] = fmt

    named: list[tuple[str, str, object]] = [
        ("--seed", "seed", options.seed),
        ("--public-figures", "contentModeration.publicFigureThreshold", options.public_figures),
    ]
    for option, name, value in named:
        if value is None:
            continue
        if model is not None:
            spec = model.params.get(name)
            if spec is None:
                raise _not_taken(option, name, model)
            value = parse_param_value(option, str(value), spec)
        _set_path(body, name, value)

    for item in options.params:
        name, raw = _parse_param(item)
        if model is None:
            _set_path(body, name, _guess_value(raw))
            continue
        spec = model.params.get(name)
        if spec is None:
            known = ", ".join(model.params) or "none"
            raise UsageError(f"{model.id} has no parameter {name!r}. Its parameters: {known}.")
        _set_path(body, name, parse_param_value(name, raw, spec))

    if model is not None and model.output_kind == "vector":
        ext = "svg"
    elif fmt is not None:
        ext = "jpg" if fmt == "jpeg" else fmt
    elif model is not None and model.default_output_format:
        ext = "jpg" if model.default_output_format == "jpeg" else model.default_output_format
    else:
        ext = "png"
    return Prepared(
        body=body,
        model=model,
        uploads=uploads,
        warnings=warnings,
        expected_outputs=count,
        expected_ext=ext,
    )


def _add_refs(
    body: dict[str, Any], options: Options, model: Model | None, warnings: list[str]
) -> list[tuple[int, LocalImage]]:
    refs = options.refs
    spec = model.reference_images if model else None
    if model is not None:
        if spec is None:
            if refs:
                raise _not_taken("--ref", "referenceImages", model)
            return []
        if len(refs) < spec.min:
            raise UsageError(
                f"{model.id} needs at least {spec.min} reference image"
                f"{'s' if spec.min > 1 else ''} (--ref FILE); got {len(refs)}."
            )
        if spec.max is not None and len(refs) > spec.max:
            raise UsageError(
                f"{model.id} takes at most {spec.max} reference images; got {len(refs)}."
            )
    tags = [r.tag for r in refs if r.tag]
    if spec is not None and model is not None:
        if tags and "tag" not in spec.fields:
            raise UsageError(f"{model.id} does not take reference tags (TAG=FILE).")
        subjects = [r.subject for r in refs if r.subject]
        if subjects and "subject" not in spec.fields:
            raise UsageError(f"{model.id} does not take reference subjects (@human/@object).")
        for subject in SUBJECTS:
            limit = spec.subject_limits.get(subject)
            used = subjects.count(subject)
            if limit is not None and used > limit:
                raise UsageError(
                    f"{model.id} takes at most {limit} references marked @{subject}; got {used}."
                )
    duplicates = sorted({t for t in tags if tags.count(t) > 1})
    if duplicates:
        raise UsageError(f"Reference tags must be unique; repeated: {', '.join(duplicates)}.")
    if model is None or (spec is not None and "tag" in spec.fields):
        for mention in sorted(set(_PROMPT_TAG_RE.findall(options.prompt))):
            if mention not in tags:
                warnings.append(f"The prompt mentions @{mention}, but no --ref defines that tag.")
    if not refs:
        return []
    items: list[dict[str, Any]] = []
    uploads: list[tuple[int, LocalImage]] = []
    for i, ref in enumerate(refs):
        loaded = load_source(ref.source)
        item: dict[str, Any] = {}
        if isinstance(loaded, LocalImage):
            if loaded.fits_inline:
                item["uri"] = loaded.data_uri()
            else:
                item["uri"] = None  # filled in after upload
                uploads.append((i, loaded))
        else:
            item["uri"] = loaded
        if ref.tag:
            item["tag"] = ref.tag
        if ref.subject:
            item["subject"] = ref.subject
        items.append(item)
    body["referenceImages"] = items
    return uploads
