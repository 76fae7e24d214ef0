"""Server-side validation of ``POST /v1/text_to_image`` bodies, like the live API.

Driven by the model catalog. Answers are issue lists in the live API's 400 shape:
``{"code", "path", "message"}``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from runway_cli.catalog import Model, all_models, utf16_length

Issue = dict[str, Any]
UploadCheck = Callable[[str], bool]
TAG_RE = re.compile(r"^[a-z][a-z0-9_]{2,15}$")
_HEX_RE = re.compile(r"^#?[0-9a-fA-F]{6}$")
_URI_PREFIXES = (("https://", 2048), ("runway://", 5000), ("data:image/", 5 * 1024 * 1024))
_BASE_FIELDS = {"model", "promptText", "ratio", "referenceImages", "outputCount", "outputFormat"}


def _issue(code: str, path: list[Any], message: str) -> Issue:
    return {"code": code, "path": path, "message": message}


def validate_body(
    body: Any, known_upload: UploadCheck = lambda uri: True
) -> tuple[Model | None, list[Issue]]:
    if not isinstance(body, dict):
        return None, [
            _issue("invalid_type", [], "Expected object, received " + type(body).__name__)
        ]
    name = body.get("model")
    model = all_models().get(name) if isinstance(name, str) else None
    if model is None:
        options = " | ".join(f"'{m}'" for m in all_models())
        return None, [
            _issue(
                "invalid_union_discriminator",
                ["model"],
                f"Invalid discriminator value. Expected {options}",
            )
        ]
    issues: list[Issue] = []
    issues += _check_prompt(body.get("promptText"), model)
    issues += _check_ratio(body.get("ratio"), model)
    issues += _check_refs(body.get("referenceImages"), model, known_upload)
    issues += _check_outputs(body, model)
    issues += _check_params(body, model)
    if not issues:
        issues += [
            _issue("custom", [], rule.message) for rule in model.constraints if rule.violated(body)
        ]
    allowed = _BASE_FIELDS | {name.split(".")[0] for name in model.params}
    unknown = sorted(set(body) - allowed)
    if unknown:
        keys = ", ".join(f"'{k}'" for k in unknown)
        issues.append(_issue("unrecognized_keys", [], f"Unrecognized key(s) in object: {keys}"))
    return model, issues


def _check_prompt(prompt: Any, model: Model) -> list[Issue]:
    if not isinstance(prompt, str):
        return [_issue("invalid_type", ["promptText"], "Required")]
    length = utf16_length(prompt)
    if length < model.prompt_min:
        return [
            _issue(
                "too_small",
                ["promptText"],
                f"String must contain at least {model.prompt_min} character(s)",
            )
        ]
    if model.prompt_max is not None and length > model.prompt_max:
        return [
            _issue(
                "too_big",
                ["promptText"],
                f"String must contain at most {model.prompt_max} character(s)",
            )
        ]
    return []


def _check_ratio(ratio: Any, model: Model) -> list[Issue]:
    spec = model.ratio
    if ratio is None:
        return [_issue("invalid_type", ["ratio"], "Required")] if spec.required else []
    if not isinstance(ratio, str):
        return [_issue("invalid_type", ["ratio"], "Expected string")]
    if spec.accepts(ratio):
        return []
    options = " | ".join(f"'{v}'" for v in spec.values)
    return [
        _issue(
            "invalid_enum_value",
            ["ratio"],
            f"Invalid enum value. Expected {options}, received '{ratio}'",
        )
    ]


def _check_refs(refs: Any, model: Model, known_upload: UploadCheck) -> list[Issue]:
    spec = model.reference_images
    if refs is None:
        if spec is not None and spec.required:
            return [_issue("invalid_type", ["referenceImages"], "Required")]
        return []
    if spec is None:
        return [_issue("unrecognized_keys", [], "Unrecognized key(s) in object: 'referenceImages'")]
    if not isinstance(refs, list):
        return [_issue("invalid_type", ["referenceImages"], "Expected array")]
    issues: list[Issue] = []
    if len(refs) < spec.min:
        issues.append(
            _issue(
                "too_small",
                ["referenceImages"],
                f"Array must contain at least {spec.min} element(s)",
            )
        )
    if spec.max is not None and len(refs) > spec.max:
        issues.append(
            _issue(
                "too_big", ["referenceImages"], f"Array must contain at most {spec.max} element(s)"
            )
        )
    tags: set[str] = set()
    subjects: dict[str, int] = {}
    for i, ref in enumerate(refs):
        path: list[Any] = ["referenceImages", i]
        if not isinstance(ref, dict):
            issues.append(_issue("invalid_type", path, "Expected object"))
            continue
        issues += _check_uri(ref.get("uri"), [*path, "uri"], known_upload)
        extra = sorted(set(ref) - {"uri", *spec.fields})
        if extra:
            keys = ", ".join(f"'{k}'" for k in extra)
            issues.append(
                _issue("unrecognized_keys", path, f"Unrecognized key(s) in object: {keys}")
            )
        tag = ref.get("tag")
        if tag is not None:
            if not isinstance(tag, str) or not TAG_RE.match(tag):
                issues.append(_issue("invalid_string", [*path, "tag"], "Invalid"))
            elif tag in tags:
                issues.append(_issue("custom", [*path, "tag"], f"Duplicate tag '{tag}'"))
            else:
                tags.add(tag)
        subject = ref.get("subject")
        if subject is not None:
            if subject not in spec.subject_limits:
                issues.append(
                    _issue(
                        "invalid_enum_value",
                        [*path, "subject"],
                        "Invalid enum value. Expected 'human' | 'object'",
                    )
                )
            else:
                subjects[subject] = subjects.get(subject, 0) + 1
        elif spec.default_subject:
            subjects[spec.default_subject] = subjects.get(spec.default_subject, 0) + 1
    for subject, limit in spec.subject_limits.items():
        if subjects.get(subject, 0) > limit:
            issues.append(
                _issue(
                    "custom",
                    ["referenceImages"],
                    f"At most {limit} reference images may have subject '{subject}'",
                )
            )
    return issues


def _check_uri(uri: Any, path: list[Any], known_upload: UploadCheck) -> list[Issue]:
    if not isinstance(uri, str):
        return [_issue("invalid_type", path, "Required")]
    for prefix, limit in _URI_PREFIXES:
        if uri.startswith(prefix):
            if len(uri) > limit:
                return [
                    _issue("too_big", path, f"String must contain at most {limit} character(s)")
                ]
            if prefix == "runway://" and not known_upload(uri):
                return [_issue("custom", path, "Unknown or expired runway:// upload URI")]
            if prefix == "data:image/" and not _data_uri_is_image(uri):
                return [_issue("custom", path, "The data URI is not a base64 PNG, JPEG or WebP")]
            return []
    return [
        _issue("invalid_string", path, "Invalid url: expected https://, runway:// or data:image/")
    ]


def _data_uri_is_image(uri: str) -> bool:
    head, _, payload = uri.partition(",")
    if not head.endswith(";base64") or not payload:
        return False
    try:
        start = base64.b64decode(payload[:24], validate=True)
    except ValueError:
        return False
    return start.startswith((b"\x89PNG", b"\xff\xd8\xff")) or (
        start[:4] == b"RIFF" and start[8:12] == b"WEBP"
    )


def _check_outputs(body: dict[str, Any], model: Model) -> list[Issue]:
    issues: list[Issue] = []
    count = body.get("outputCount")
    if count is not None:
        if model.output_count is None:
            issues.append(
                _issue("unrecognized_keys", [], "Unrecognized key(s) in object: 'outputCount'")
            )
        elif not isinstance(count, int) or isinstance(count, bool):
            issues.append(_issue("invalid_type", ["outputCount"], "Expected integer"))
        elif not model.output_count.allows(count):
            issues.append(
                _issue(
                    "invalid_value",
                    ["outputCount"],
                    f"outputCount must be {model.output_count.describe()}",
                )
            )
    fmt = body.get("outputFormat")
    if fmt is not None:
        if model.output_formats is None:
            issues.append(
                _issue("unrecognized_keys", [], "Unrecognized key(s) in object: 'outputFormat'")
            )
        elif fmt not in model.output_formats:
            options = " | ".join(f"'{v}'" for v in model.output_formats)
            issues.append(
                _issue(
                    "invalid_enum_value",
                    ["outputFormat"],
                    f"Invalid enum value. Expected {options}, received '{fmt}'",
                )
            )
    return issues


def _check_params(body: dict[str, Any], model: Model) -> list[Issue]:
    issues: list[Issue] = []
    for name, spec in model.params.items():
        head, _, tail = name.partition(".")
        value = body.get(head)
        if value is None:
            continue
        path: list[Any] = [head]
        if tail:
            if not isinstance(value, dict):
                issues.append(_issue("invalid_type", path, "Expected object"))
                continue
            extra = sorted(set(value) - {tail})
            if extra:
                keys = ", ".join(f"'{k}'" for k in extra)
                issues.append(
                    _issue("unrecognized_keys", path, f"Unrecognized key(s) in object: {keys}")
                )
            value = value.get(tail)
            path = [head, tail]
            if value is None:
                continue
        problem = _param_problem(value, spec.type, spec.values, spec.min, spec.max)
        if problem:
            issues.append(_issue(problem[0], path, problem[1]))
    return issues


def _param_problem(
    value: Any, kind: str, values: tuple[str, ...], low: int | None, high: int | None
) -> tuple[str, str] | None:
    if kind == "enum":
        if value not in values:
            options = " | ".join(f"'{v}'" for v in values)
            return "invalid_enum_value", f"Invalid enum value. Expected {options}"
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            return "invalid_type", "Expected integer"
        if low is not None and value < low:
            return "too_small", f"Number must be greater than or equal to {low}"
        if high is not None and value > high:
            return "too_big", f"Number must be less than or equal to {high}"
    elif kind == "bool":
        if not isinstance(value, bool):
            return "invalid_type", "Expected boolean"
    elif kind == "hex_color":
        if not isinstance(value, str) or not _HEX_RE.match(value):
            return "invalid_string", "Expected a six-digit hex colour"
    elif kind == "hex_color_list":
        if not isinstance(value, list) or not all(
            isinstance(v, str) and _HEX_RE.match(v) for v in value
        ):
            return "invalid_type", "Expected an array of six-digit hex colours"
    elif kind == "image":
        if not isinstance(value, str) or not value.startswith(
            ("https://", "runway://", "data:image/")
        ):
            return "invalid_string", "Invalid url"
    elif kind == "str" and not isinstance(value, str):
        return "invalid_type", "Expected string"
    return None
