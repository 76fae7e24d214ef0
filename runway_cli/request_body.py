"""Building a ``POST /v1/text_to_image`` body from the user's options, checked against the catalog.

Everything that can be known before spending credits is checked here: prompt, ratio, reference
images (count, tags, subjects), output count and format, every extra parameter, and the
catalog's cross-field constraints. Nothing is sent; local images are read and either inlined or
marked for upload.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from runway_cli.catalog import (
    UNDOCUMENTED_MAX_OUTPUTS,
    Model,
    ParamSpec,
    ReferenceSpec,
    all_models,
)
from runway_cli.errors import UsageError
from runway_cli.input_checks import check_prompt, check_ratio
from runway_cli.references import (
    SUBJECTS,
    LocalImage,
    RefOption,
    load_source,
    shorten_data_uri,
)

_CORE_FIELDS = {
    "model": "--model",
    "promptText": "the prompt",
    "ratio": "--ratio",
    "referenceImages": "--ref",
    "outputCount": "--count",
    "outputFormat": "--format",
}
# Parameters that have their own option; -p may not set them as well.
_NAMED_OPTIONS = {"seed": "--seed", "contentModeration.publicFigureThreshold": "--public-figures"}
_HEX_RE = re.compile(r"#?[0-9a-fA-F]{6}")  # used with fullmatch: "$" allows a trailing \n
_PROMPT_TAG_RE = re.compile(r"(?<![\w@])@([a-z][a-z0-9_]*)")

BodyPath = tuple[str | int, ...]


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
    uploads: list[tuple[BodyPath, LocalImage]]  # where in the body, and the file to upload
    warnings: list[str]
    expected_outputs: int
    expected_ext: str

    def display_body(self) -> dict[str, Any]:
        """The body for --dry-run and the history: data URIs shortened, uploads described."""
        shown: dict[str, Any] = json.loads(json.dumps(self.body))
        for path, image in self.uploads:
            size = len(image.data) / 2**20
            set_in(shown, path, f"runway://(upload of {image.path.name}, {size:.1f} MB)")
        shortened: dict[str, Any] = shorten_data_uris(shown)
        return shortened

    def set_upload(self, path: BodyPath, uri: str) -> None:
        set_in(self.body, path, uri)


def shorten_data_uris(value: Any) -> Any:
    """A copy of a JSON value with every data: URI shortened (for display and the history)."""
    if isinstance(value, str):
        return shorten_data_uri(value)
    if isinstance(value, list):
        return [shorten_data_uris(v) for v in value]
    if isinstance(value, dict):
        return {k: shorten_data_uris(v) for k, v in value.items()}
    return value


def set_in(body: Any, path: BodyPath, value: Any) -> None:
    for key in path[:-1]:
        body = body[key]
    body[path[-1]] = value


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


def _takers(name: str) -> str:
    takers = models_taking(name)
    return f"Models that do: {', '.join(takers)}." if takers else "No catalog model does."


def _not_taken(option: str, field_name: str, model: Model) -> UsageError:
    return UsageError(f"{model.id} does not take {option}. {_takers(field_name)}")


def _set_param(body: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in the body, nesting objects; refuse to overwrite a value."""
    parts = dotted.split(".")
    if any(not part for part in parts):
        raise UsageError(f"Invalid parameter name {dotted!r}.")
    node = body
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"{'.'.join(parts[: i + 1])} is already set; cannot set {dotted}.")
        node = child
    if parts[-1] in node:
        raise UsageError(f"{dotted} is given twice.")
    node[parts[-1]] = value


def parse_param_value(name: str, raw: str, spec: ParamSpec) -> Any:
    """A ``-p name=value`` value converted to the type the catalog gives for ``name``.

    Image parameters may name a local file: it comes back as a LocalImage for the caller to
    inline or upload.
    """
    kind = spec.type
    if kind == "int":
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"{name} must be a whole number, not {raw!r}.") from None
        if spec.min is not None and value < spec.min:
            raise UsageError(f"{name} must be at least {spec.min}, not {value}.")
        if spec.max is not None and value > spec.max:
            raise UsageError(f"{name} must be at most {spec.max}, not {value}.")
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
        if not _HEX_RE.fullmatch(raw):
            raise UsageError(f"{name} must be a six-digit hex colour like ff8800, not {raw!r}.")
        return raw
    if kind == "hex_color_list":
        colours = [c.strip() for c in raw.split(",") if c.strip()]
        if not colours or any(not _HEX_RE.fullmatch(c) for c in colours):
            raise UsageError(
                f"{name} must be comma-separated six-digit hex colours, e.g. ff0000,00ff00."
            )
        return colours
    if kind == "image":
        return load_source(raw)
    return raw


def _parse_param(item: str) -> tuple[str, str]:
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"-p expects key=value, not {item!r}.")
    head = name.split(".")[0]
    if head in _CORE_FIELDS:
        raise UsageError(f"Set {name} with {_CORE_FIELDS[head]}, not -p.")
    return name, raw


def _reject_constant(token: str) -> Any:
    raise UsageError(f"{token} is not a valid JSON number for a request.")


def _guess_value(raw: str) -> Any:
    """For models outside the catalog: JSON if it parses (finite numbers only), else the string."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{raw} is not a finite number.")
    return value


def build(options: Options) -> Prepared:
    """The checked body for ``options``; UsageError for anything the API would refuse."""
    model = all_models().get(options.model)
    warnings: list[str] = []
    if model is None:
        warnings.append(f"{options.model} is not in the model catalog; sending it as given.")
    check_prompt(options.prompt, model)
    body: dict[str, Any] = {"model": options.model, "promptText": options.prompt}
    _add_ratio(body, options, model)
    uploads = _add_refs(body, options, model, warnings)
    count = _add_count(body, options.count, model)
    _add_format(body, options.output_format, model)
    _add_named(body, options, model)
    _add_params(body, options.params, model, uploads)
    if model is not None:
        for rule in model.constraints:
            if rule.violated(body):
                raise UsageError(f"{model.id}: {rule.message}")
    return Prepared(
        body=body,
        model=model,
        uploads=uploads,
        warnings=warnings,
        expected_outputs=count,
        expected_ext=_expected_ext(model, options.output_format),
    )


def _add_ratio(body: dict[str, Any], options: Options, model: Model | None) -> None:
    ratio = options.ratio if options.ratio is not None else (model.ratio.default if model else None)
    if ratio is None and model is None:
        raise UsageError(f"--ratio is required for {options.model}, which is not in the catalog.")
    if ratio is not None:
        check_ratio(ratio, model)
        body["ratio"] = ratio


def _add_count(body: dict[str, Any], count: int | None, model: Model | None) -> int:
    """Set ``outputCount``; the number of images expected."""
    if count is None:
        return 1
    if model is None:
        if not 1 <= count <= UNDOCUMENTED_MAX_OUTPUTS:
            raise UsageError(f"--count must be from 1 to {UNDOCUMENTED_MAX_OUTPUTS}.")
    elif model.output_count is None:
        if count == 1:
            return 1  # scripts pass -n 1 to every model; it is the default, so send nothing
        raise _not_taken("--count", "outputCount", model)
    elif not model.output_count.allows(count):
        raise UsageError(
            f"{model.id} makes {model.output_count.describe()} images per task, not {count}."
        )
    body["outputCount"] = count
    return count


def _add_format(body: dict[str, Any], fmt: str | None, model: Model | None) -> None:
    if fmt is None:
        return
    if model is not None:
        if model.output_formats is None:
            raise _not_taken("--format", "outputFormat", model)
        if fmt not in model.output_formats:
            raise UsageError(f"{model.id} writes {', '.join(model.output_formats)}, not {fmt}.")
    body["outputFormat"] = fmt


def _add_named(body: dict[str, Any], options: Options, model: Model | None) -> None:
    """Parameters with their own option: --seed, --public-figures."""
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
        _set_param(body, name, value)


def _add_params(
    body: dict[str, Any],
    items: list[str],
    model: Model | None,
    uploads: list[tuple[BodyPath, LocalImage]],
) -> None:
    """Every ``-p KEY=VALUE``, type-checked against the catalog."""
    for item in items:
        name, raw = _parse_param(item)
        if name in _NAMED_OPTIONS:
            raise UsageError(f"Set {name} with {_NAMED_OPTIONS[name]}, not -p.")
        if model is None:
            _set_param(body, name, _guess_value(raw))
            continue
        spec = model.params.get(name)
        if spec is None:
            known = ", ".join(model.params) or "none"
            raise UsageError(
                f"{model.id} has no parameter {name!r} (its parameters: {known}). {_takers(name)}"
            )
        value = parse_param_value(name, raw, spec)
        if isinstance(value, LocalImage):
            value = _inline_or_upload(value, tuple(name.split(".")), uploads)
        _set_param(body, name, value)


def _expected_ext(model: Model | None, fmt: str | None) -> str:
    if model is not None and model.output_kind == "vector":
        return "svg"
    chosen = fmt or (model.default_output_format if model else None) or "png"
    return "jpg" if chosen == "jpeg" else chosen


# Stands in the body for an image until its upload gives the runway:// URI, so every check
# (cross-field constraints included) sees the field as set.
PENDING_UPLOAD = "runway://(pending upload)"


def _inline_or_upload(
    image: LocalImage, path: BodyPath, uploads: list[tuple[BodyPath, LocalImage]]
) -> str:
    if image.fits_inline:
        return image.data_uri()
    uploads.append((path, image))
    return PENDING_UPLOAD


def _add_refs(
    body: dict[str, Any], options: Options, model: Model | None, warnings: list[str]
) -> list[tuple[BodyPath, LocalImage]]:
    refs = options.refs
    spec = model.reference_images if model else None
    if model is not None:
        if spec is None:
            if refs:
                raise _not_taken("--ref", "referenceImages", model)
            return []
        _check_ref_count(refs, spec, model)
        _check_ref_fields(refs, spec, model)
    tags = [r.tag for r in refs if r.tag]
    duplicates = sorted({t for t in tags if tags.count(t) > 1})
    if duplicates:
        raise UsageError(f"Reference tags must be unique; repeated: {', '.join(duplicates)}.")
    if model is None or (spec is not None and "tag" in spec.fields):
        for mention in sorted(set(_PROMPT_TAG_RE.findall(options.prompt))):
            if mention not in tags:
                warnings.append(f"The prompt mentions @{mention}, but no --ref defines that tag.")
    if not refs:
        return []
    uploads: list[tuple[BodyPath, LocalImage]] = []
    body["referenceImages"] = [_ref_item(i, ref, uploads) for i, ref in enumerate(refs)]
    return uploads


def _check_ref_count(refs: list[RefOption], spec: ReferenceSpec, model: Model) -> None:
    if len(refs) < spec.min:
        raise UsageError(
            f"{model.id} needs at least {spec.min} reference image"
            f"{'s' if spec.min > 1 else ''} (--ref FILE); got {len(refs)}."
        )
    if spec.max is not None and len(refs) > spec.max:
        raise UsageError(f"{model.id} takes at most {spec.max} reference images; got {len(refs)}.")


def _check_ref_fields(refs: list[RefOption], spec: ReferenceSpec, model: Model) -> None:
    if any(r.tag for r in refs) and "tag" not in spec.fields:
        raise UsageError(f"{model.id} does not take reference tags (TAG=FILE).")
    if "subject" not in spec.fields:
        if any(r.subject for r in refs):
            raise UsageError(f"{model.id} does not take reference subjects (@human/@object).")
        return
    # A reference without a subject counts as the API's default subject.
    subjects = [r.subject or spec.default_subject for r in refs]
    for subject in SUBJECTS:
        limit = spec.subject_limits.get(subject)
        used = subjects.count(subject)
        if limit is not None and used > limit:
            unmarked = " (references without @human count as @object)" * (
                subject == spec.default_subject
            )
            raise UsageError(
                f"{model.id} takes at most {limit} references marked @{subject}; "
                f"got {used}{unmarked}."
            )


def _ref_item(
    index: int, ref: RefOption, uploads: list[tuple[BodyPath, LocalImage]]
) -> dict[str, Any]:
    loaded = load_source(ref.source)
    item: dict[str, Any] = {}
    if isinstance(loaded, LocalImage):
        item["uri"] = _inline_or_upload(loaded, ("referenceImages", index, "uri"), uploads)
    else:
        item["uri"] = loaded
    if ref.tag:
        item["tag"] = ref.tag
    if ref.subject:
        item["subject"] = ref.subject
    return item
