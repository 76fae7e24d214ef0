"""Checks on a ``POST /v1/text_to_image`` body, as the live API makes them.

Driven by the catalog rows (``catalog_data.py``) and written independently of the client's
checks. Answers are issues in the live API's 400 shape: ``{"code", "path", "message"}``.
The body-level checks run in the order of ``_FIELD_CHECKS``; cross-field ``constraints`` only
when every field is fine on its own; unknown keys always.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

from .catalog_data import ModelRules, ReferenceRules, models, utf16_units
from .images import sniff_image

Issue = dict[str, Any]
Path = list[str | int]
UploadCheck = Callable[[str], bool]

TAG = re.compile(r"[a-z][a-z0-9_]{2,15}")
_HEX_COLOUR = re.compile(r"#?[0-9a-fA-F]{6}")
# Reference URI schemes and the longest URI each may be (data: URIs: the whole URI, 5 MiB).
_URI_LIMITS = (("https://", 2048), ("runway://", 5000), ("data:image/", 5 * 1024 * 1024))
_BASE_FIELDS = frozenset(
    {"model", "promptText", "ratio", "referenceImages", "outputCount", "outputFormat"}
)


def issue(code: str, path: Path, message: str) -> Issue:
    return {"code": code, "path": path, "message": message}


def _unrecognized(path: Path, keys: Any) -> Issue:
    names = ", ".join(f"'{k}'" for k in sorted(keys))
    return issue("unrecognized_keys", path, f"Unrecognized key(s) in object: {names}")


def _options(values: Any) -> str:
    return " | ".join(f"'{v}'" for v in values)


def validate_body(
    body: Any, known_upload: UploadCheck = lambda uri: True
) -> tuple[ModelRules | None, list[Issue]]:
    """The model the body names (None when there is none) and every issue found."""
    if not isinstance(body, dict):
        return None, [issue("invalid_type", [], f"Expected object, received {type(body).__name__}")]
    name = body.get("model")
    model = models().get(name) if isinstance(name, str) else None
    if model is None:
        message = f"Invalid discriminator value. Expected {_options(models())}"
        return None, [issue("invalid_union_discriminator", ["model"], message)]
    issues: list[Issue] = []
    for check in _FIELD_CHECKS:
        issues += check(body, model)
    issues += _check_references(body.get("referenceImages"), model.references, known_upload)
    if not issues:
        issues += [
            issue("custom", [], rule["message"])
            for rule in model.constraints
            if constraint_violated(rule, body)
        ]
    allowed = _BASE_FIELDS | {name.split(".")[0] for name in model.params}
    unknown = set(body) - allowed
    if unknown:
        issues.append(_unrecognized([], unknown))
    return model, issues


# -- prompt, ratio, outputs -----------------------------------------------------------------


def _check_prompt(body: dict[str, Any], model: ModelRules) -> list[Issue]:
    prompt = body.get("promptText")
    if not isinstance(prompt, str):
        return [issue("invalid_type", ["promptText"], "Required")]
    length = utf16_units(prompt)
    if length < model.prompt_min:
        message = f"String must contain at least {model.prompt_min} character(s)"
        return [issue("too_small", ["promptText"], message)]
    if model.prompt_max is not None and length > model.prompt_max:
        message = f"String must contain at most {model.prompt_max} character(s)"
        return [issue("too_big", ["promptText"], message)]
    return []


def _check_ratio(body: dict[str, Any], model: ModelRules) -> list[Issue]:
    ratio = body.get("ratio")
    if ratio is None:
        return [issue("invalid_type", ["ratio"], "Required")] if model.ratio_required else []
    if not isinstance(ratio, str):
        return [issue("invalid_type", ["ratio"], "Expected string")]
    if model.accepts_ratio(ratio):
        return []
    message = f"Invalid enum value. Expected {_options(model.ratios)}, received '{ratio}'"
    return [issue("invalid_enum_value", ["ratio"], message)]


def _check_output_count(body: dict[str, Any], model: ModelRules) -> list[Issue]:
    count = body.get("outputCount")
    if count is None:
        return []
    if model.output_counts is None:
        return [_unrecognized([], ["outputCount"])]
    if not isinstance(count, int) or isinstance(count, bool):
        return [issue("invalid_type", ["outputCount"], "Expected integer")]
    if count not in model.output_counts:
        message = f"outputCount must be {model.output_counts_text}"
        return [issue("invalid_value", ["outputCount"], message)]
    return []


def _check_output_format(body: dict[str, Any], model: ModelRules) -> list[Issue]:
    fmt = body.get("outputFormat")
    if fmt is None:
        return []
    if model.output_formats is None:
        return [_unrecognized([], ["outputFormat"])]
    if fmt in model.output_formats:
        return []
    message = f"Invalid enum value. Expected {_options(model.output_formats)}, received '{fmt}'"
    return [issue("invalid_enum_value", ["outputFormat"], message)]


# -- model parameters (table-driven by the catalog's parameter types) ----------------------


def _enum_problem(value: Any, spec: Mapping[str, Any]) -> tuple[str, str] | None:
    values = spec.get("values") or ()
    if value in values:
        return None
    return "invalid_enum_value", f"Invalid enum value. Expected {_options(values)}"


def _int_problem(value: Any, spec: Mapping[str, Any]) -> tuple[str, str] | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "invalid_type", "Expected integer"
    low, high = spec.get("min"), spec.get("max")
    if low is not None and value < low:
        return "too_small", f"Number must be greater than or equal to {low}"
    if high is not None and value > high:
        return "too_big", f"Number must be less than or equal to {high}"
    return None


def _is_colour(value: Any) -> bool:
    return isinstance(value, str) and _HEX_COLOUR.fullmatch(value) is not None


_PARAM_CHECKS: dict[str, Callable[[Any, Mapping[str, Any]], tuple[str, str] | None]] = {
    "enum": _enum_problem,
    "int": _int_problem,
    "bool": lambda v, _: None if isinstance(v, bool) else ("invalid_type", "Expected boolean"),
    "str": lambda v, _: None if isinstance(v, str) else ("invalid_type", "Expected string"),
    "hex_color": lambda v, _: (
        None if _is_colour(v) else ("invalid_string", "Expected a six-digit hex colour")
    ),
    "hex_color_list": lambda v, _: (
        None
        if isinstance(v, list) and all(_is_colour(c) for c in v)
        else ("invalid_type", "Expected an array of six-digit hex colours")
    ),
    "image": lambda v, _: (
        None
        if isinstance(v, str) and v.startswith(("https://", "runway://", "data:image/"))
        else ("invalid_string", "Invalid url")
    ),
}


def _param_value(body: dict[str, Any], dotted: str) -> tuple[Any, Path, list[Issue]]:
    """The value of a (possibly nested, ``a.b``) parameter, its path, and shape issues."""
    head, _, tail = dotted.partition(".")
    value = body.get(head)
    if not tail or value is None:
        return value, [head], []
    if not isinstance(value, dict):
        return None, [head], [issue("invalid_type", [head], "Expected object")]
    extra = set(value) - {tail}
    return value.get(tail), [head, tail], [_unrecognized([head], extra)] if extra else []


def _check_params(body: dict[str, Any], model: ModelRules) -> list[Issue]:
    issues: list[Issue] = []
    for name, spec in model.params.items():
        value, path, shape = _param_value(body, name)
        issues += shape
        check = _PARAM_CHECKS.get(spec.get("type", ""))
        if value is None or check is None:
            continue
        problem = check(value, spec)
        if problem:
            issues.append(issue(problem[0], path, problem[1]))
    return issues


# -- reference images ------------------------------------------------------------------------


def _check_references(
    refs: Any, rules: ReferenceRules | None, known_upload: UploadCheck
) -> list[Issue]:
    if refs is None:
        required = rules is not None and rules.required
        return [issue("invalid_type", ["referenceImages"], "Required")] if required else []
    if rules is None:
        return [_unrecognized([], ["referenceImages"])]
    if not isinstance(refs, list):
        return [issue("invalid_type", ["referenceImages"], "Expected array")]
    issues = _check_reference_count(len(refs), rules)
    tags: set[str] = set()
    subjects: dict[str, int] = {}
    for i, ref in enumerate(refs):
        issues += _check_reference(ref, ["referenceImages", i], rules, known_upload, tags, subjects)
    for subject, limit in rules.subject_limits.items():
        if subjects.get(subject, 0) > limit:
            message = f"At most {limit} reference images may have subject '{subject}'"
            issues.append(issue("custom", ["referenceImages"], message))
    return issues


def _check_reference_count(count: int, rules: ReferenceRules) -> list[Issue]:
    if count < rules.min:
        message = f"Array must contain at least {rules.min} element(s)"
        return [issue("too_small", ["referenceImages"], message)]
    if rules.max is not None and count > rules.max:
        message = f"Array must contain at most {rules.max} element(s)"
        return [issue("too_big", ["referenceImages"], message)]
    return []


def _check_reference(
    ref: Any,
    path: Path,
    rules: ReferenceRules,
    known_upload: UploadCheck,
    tags: set[str],
    subjects: dict[str, int],
) -> list[Issue]:
    """One ``referenceImages[i]``; records its tag and subject for the list-wide checks."""
    if not isinstance(ref, dict):
        return [issue("invalid_type", path, "Expected object")]
    issues = check_uri(ref.get("uri"), [*path, "uri"], known_upload)
    extra = set(ref) - {"uri"} - rules.fields
    if extra:
        issues.append(_unrecognized(path, extra))
    tag = ref.get("tag")
    if tag is not None:
        if not isinstance(tag, str) or TAG.fullmatch(tag) is None:
            issues.append(issue("invalid_string", [*path, "tag"], "Invalid"))
        elif tag in tags:
            issues.append(issue("custom", [*path, "tag"], f"Duplicate tag '{tag}'"))
        else:
            tags.add(tag)
    subject = ref.get("subject")
    if subject is None:
        subject = rules.default_subject  # the API's assumption; None: nothing to count
    if subject is None:
        return issues
    if not isinstance(subject, str) or subject not in rules.subject_limits:
        message = "Invalid enum value. Expected 'human' | 'object'"
        issues.append(issue("invalid_enum_value", [*path, "subject"], message))
    else:
        subjects[subject] = subjects.get(subject, 0) + 1
    return issues


def check_uri(uri: Any, path: Path, known_upload: UploadCheck) -> list[Issue]:
    """An image input URI: ``https://``, a live ``runway://`` upload, or an image data URI."""
    if not isinstance(uri, str):
        return [issue("invalid_type", path, "Required")]
    for prefix, limit in _URI_LIMITS:
        if not uri.startswith(prefix):
            continue
        if len(uri) > limit:
            return [issue("too_big", path, f"String must contain at most {limit} character(s)")]
        if prefix == "runway://" and not known_upload(uri):
            return [issue("custom", path, "Unknown or expired runway:// upload URI")]
        if prefix == "data:image/" and not _data_uri_is_image(uri):
            return [issue("custom", path, "The data URI is not a base64 PNG, JPEG or WebP")]
        return []
    message = "Invalid url: expected https://, runway:// or data:image/"
    return [issue("invalid_string", path, message)]


def _data_uri_is_image(uri: str) -> bool:
    head, _, payload = uri.partition(",")
    if not head.endswith(";base64") or not payload:
        return False
    try:
        start = base64.b64decode(payload[:24], validate=True)
    except (binascii.Error, ValueError):
        return False
    return sniff_image(start) is not None


# -- cross-field constraints -------------------------------------------------------------------


def _field(body: Mapping[str, Any], dotted: str) -> Any:
    value: Any = body
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _condition_holds(expected: Any, value: Any) -> bool:
    """``"*"``: present; ``"!x"``: present and not x; anything else: equal (same JSON type)."""
    if value is None:
        return False
    if expected == "*":
        return True
    if isinstance(expected, str) and expected.startswith("!"):
        return bool(value != expected[1:])
    return type(value) is type(expected) and bool(value == expected)


def constraint_violated(rule: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """A catalog ``constraints`` row: when every ``if`` field matches, the body needs
    ``min_refs`` reference images, or (``forbid``) is refused outright."""
    if not all(_condition_holds(want, _field(body, name)) for name, want in rule["if"].items()):
        return False
    if rule.get("forbid", False):
        return True
    refs = body.get("referenceImages")
    needed: int = rule.get("min_refs", 0)
    return len(refs if isinstance(refs, list) else ()) < needed


_FIELD_CHECKS: tuple[Callable[[dict[str, Any], ModelRules], list[Issue]], ...] = (
    _check_prompt,
    _check_ratio,
    _check_output_count,
    _check_output_format,
    _check_params,
)
