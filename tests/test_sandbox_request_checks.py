"""The sandbox's own checks of create bodies, read from the catalog rows (not the client's code).

The expectations here come from ``models.json`` read directly, so the sandbox's reading of the
table (ratios, free-form pixel bounds, constraints, output counts, references) is pinned.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from importlib import resources
from typing import Any

import pytest

from runway_cli.sandbox.catalog_data import parse_ratio, utf16_units
from runway_cli.sandbox.images import make_png
from runway_cli.sandbox.request_checks import constraint_violated, validate_body

PNG_URI = "data:image/png;base64," + base64.b64encode(make_png("ref", 4, 4)).decode()
HTTPS = "https://example.com/a.png"


@cache
def rows() -> dict[str, dict[str, Any]]:
    text = resources.files("runway_cli").joinpath("models.json").read_text(encoding="utf-8")
    return {row["id"]: row for row in json.loads(text)["models"]}


def minimal_body(model: str, **changes: Any) -> dict[str, Any]:
    """The smallest body the catalog row says is valid."""
    row = rows()[model]
    body: dict[str, Any] = {"model": model, "promptText": "a red fox"}
    if row["ratio"]["required"]:
        body["ratio"] = row["ratio"]["default"] or row["ratio"]["values"][0]
    refs = row["reference_images"]
    if refs and refs["min"]:
        body["referenceImages"] = [{"uri": HTTPS}] * refs["min"]
    body.update(changes)
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [i["code"] for i in validate_body(body)[1]]


def messages(body: dict[str, Any]) -> list[str]:
    return [i["message"] for i in validate_body(body)[1]]


@pytest.mark.parametrize("model", sorted(rows()))
def test_every_catalog_model_accepts_its_minimal_body(model: str) -> None:
    found, issues = validate_body(minimal_body(model))
    assert issues == []
    assert found is not None and found.id == model


@pytest.mark.parametrize("model", sorted(rows()))
def test_every_listed_ratio_is_accepted_and_junk_is_not(model: str) -> None:
    for ratio in rows()[model]["ratio"]["values"]:
        issues = validate_body(minimal_body(model, ratio=ratio))[1]
        assert [i for i in issues if i["path"] == ["ratio"]] == []  # (constraints may differ)
    assert codes(minimal_body(model, ratio="7:3")) == ["invalid_enum_value"]


@pytest.mark.parametrize(
    ("ratio", "ok"),
    [
        ("1920:1920", True),  # exactly min_pixels (3686400)
        ("1919:1920", False),
        ("4096:4096", True),  # exactly max_pixels (16777216)
        ("4097:4096", False),
        ("2000:2000", True),
        ("0:4000000", False),
        ("\u00b2:1", False),  # superscript digits are not digits here
        ("2000:2000:1", False),
    ],
)
def test_freeform_ratios_are_bounded_by_pixels(ratio: str, ok: bool) -> None:
    assert (validate_body(minimal_body("seedream5_lite", ratio=ratio))[1] == []) is ok


def test_freeform_is_only_for_models_that_allow_it() -> None:
    assert codes(minimal_body("gen4_image", ratio="2000:2000")) == ["invalid_enum_value"]


@pytest.mark.parametrize(
    ("text", "units"), [("abc", 3), ("\u00e9", 1), ("\U0001f600", 2), ("a\U0001f600b", 4)]
)
def test_prompt_length_counts_utf16_units(text: str, units: int) -> None:
    assert utf16_units(text) == units


def test_parse_ratio() -> None:
    assert parse_ratio("1280:720") == (1280, 720)
    assert parse_ratio("auto") is None
    assert parse_ratio("0:720") is None
    assert parse_ratio("1234567:1") is None


# -- cross-field constraints (the catalog's "if" / "min_refs" / "forbid") -----------------------


@pytest.mark.parametrize(
    ("condition", "body", "holds"),
    [
        ({"edit": True}, {"edit": True}, True),
        ({"edit": True}, {"edit": False}, False),
        ({"edit": True}, {"edit": 1}, False),  # equal in Python, not the same JSON value
        ({"edit": True}, {}, False),
        ({"ratio": "*"}, {"ratio": "auto"}, True),
        ({"ratio": "*"}, {}, False),
        ({"ratio": "!auto"}, {"ratio": "1024:1024"}, True),
        ({"ratio": "!auto"}, {"ratio": "auto"}, False),
        ({"ratio": "!auto"}, {}, False),
        ({"a.b": "x"}, {"a": {"b": "x"}}, True),
        ({"a.b": "x"}, {"a": "x"}, False),
        ({"edit": True, "ratio": "*"}, {"edit": True}, False),  # every condition must hold
    ],
)
def test_constraint_conditions(
    condition: dict[str, Any], body: dict[str, Any], holds: bool
) -> None:
    assert constraint_violated({"if": condition, "forbid": True, "message": "m"}, body) is holds


def test_min_refs_constraint() -> None:
    rule = {"if": {"edit": True}, "min_refs": 1, "message": "m"}
    assert constraint_violated(rule, {"edit": True})
    assert not constraint_violated(rule, {"edit": True, "referenceImages": [{"uri": HTTPS}]})


def test_catalog_constraints_refuse_with_their_message() -> None:
    grok = rows()["grok_imagine_image_2"]["constraints"][0]["message"]
    assert messages(minimal_body("grok_imagine_image_2", edit=True)) == [grok]
    refs = [{"uri": HTTPS}]
    assert messages(minimal_body("grok_imagine_image_2", edit=True, referenceImages=refs)) == []
    bria = {"referenceImages": [{"uri": HTTPS}]}
    assert messages(minimal_body("bria_fibo_edit_1_5", ratio="auto", **bria)) == []
    assert len(messages(minimal_body("bria_fibo_edit_1_5", ratio="1024:1024", **bria))) == 1
    two = {"referenceImages": [{"uri": HTTPS}] * 2}
    assert messages(minimal_body("bria_fibo_edit_1_5", ratio="1024:1024", **two)) == []
    masked = minimal_body("ideogram_4_5", ratio="1024:1024", maskUri=HTTPS)
    assert messages(masked) == ["--ratio cannot be combined with -p maskUri."]


def test_constraints_wait_until_each_field_is_fine() -> None:
    body = minimal_body("grok_imagine_image_2", edit=True, quality="ultra")
    assert codes(body) == ["invalid_enum_value"]


# -- outputs, references, parameters ------------------------------------------------------------


def test_output_count_caps() -> None:
    assert codes(minimal_body("ideogram_4_0", outputCount=10)) == []  # no documented max: 10
    assert codes(minimal_body("ideogram_4_0", outputCount=11)) == ["invalid_value"]
    assert codes(minimal_body("gemini_image3_pro", outputCount=4)) == []
    assert codes(minimal_body("gemini_image3_pro", outputCount=2)) == ["invalid_value"]
    assert codes(minimal_body("gpt_image_2", outputCount=True)) == ["invalid_type"]
    assert codes(minimal_body("gen4_image", outputCount=1)) == ["unrecognized_keys"]


def test_output_formats() -> None:
    assert codes(minimal_body("muse_image", outputFormat="jpeg")) == []
    assert codes(minimal_body("muse_image", outputFormat="gif")) == ["invalid_enum_value"]
    assert codes(minimal_body("gen4_image", outputFormat="png")) == ["unrecognized_keys"]


def test_reference_counts_tags_and_subjects() -> None:
    assert codes(minimal_body("gen4_image_turbo", referenceImages=[])) == ["too_small"]
    four = [{"uri": HTTPS}] * 4
    assert codes(minimal_body("gen4_image", referenceImages=four)) == ["too_big"]
    tagged = [{"uri": HTTPS, "tag": "fox"}, {"uri": HTTPS, "tag": "fox"}]
    assert codes(minimal_body("gen4_image", referenceImages=tagged)) == ["custom"]
    assert codes(minimal_body("gen4_image", referenceImages=[{"uri": HTTPS, "tag": "X1"}])) == [
        "invalid_string"
    ]
    humans = [{"uri": HTTPS, "subject": "human"}] * 6
    assert codes(minimal_body("gemini_image3_pro", referenceImages=humans)) == ["custom"]
    # A reference without a subject counts as an object, as the API assumes: 10 > 9.
    assert codes(minimal_body("gemini_image3_pro", referenceImages=[{"uri": HTTPS}] * 10)) == [
        "custom"
    ]
    odd = [{"uri": HTTPS, "subject": ["human"]}]
    assert codes(minimal_body("gemini_image3_pro", referenceImages=odd)) == ["invalid_enum_value"]
    assert codes(minimal_body("gen4_image", referenceImages=[{"uri": HTTPS, "subject": "human"}]))


def test_reference_uris() -> None:
    def uri_codes(uri: object) -> list[str]:
        return codes(minimal_body("gen4_image", referenceImages=[{"uri": uri}]))

    assert uri_codes(PNG_URI) == []
    text = "data:image/png;base64," + base64.b64encode(b"hello, not an image").decode()
    assert uri_codes(text) == ["custom"]
    assert uri_codes("http://example.com/a.png") == ["invalid_string"]
    assert uri_codes("https://example.com/" + "a" * 2100) == ["too_big"]
    assert uri_codes(None) == ["invalid_type"]
    known, unknown = "runway://sandbox/uploads/ok", "runway://sandbox/uploads/nope"
    body = minimal_body("gen4_image", referenceImages=[{"uri": known}, {"uri": unknown}])
    issues = validate_body(body, known_upload=lambda uri: uri == known)[1]
    assert [i["path"] for i in issues] == [["referenceImages", 1, "uri"]]


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        ("gen4_image", {"seed": 4294967295}, []),
        ("gen4_image", {"seed": -1}, ["too_small"]),
        ("gen4_image", {"seed": 4294967296}, ["too_big"]),
        ("gen4_image", {"seed": "1"}, ["invalid_type"]),
        ("gen4_image", {"contentModeration": {"publicFigureThreshold": "low"}}, []),
        (
            "gen4_image",
            {"contentModeration": {"publicFigureThreshold": "x"}},
            ["invalid_enum_value"],
        ),
        ("gen4_image", {"contentModeration": "low"}, ["invalid_type"]),
        ("gen4_image", {"contentModeration": {"other": 1}}, ["unrecognized_keys"]),
        ("recraft_v4_1_flash", {"backgroundColor": "#00ff00"}, []),
        ("recraft_v4_1_flash", {"backgroundColor": "green"}, ["invalid_string"]),
        ("recraft_v4_1_flash", {"colors": ["ff0000", "00FF00"]}, []),
        ("recraft_v4_1_flash", {"colors": ["ff0000", 5]}, ["invalid_type"]),
        ("seedream5_pro", {"grounding": "yes"}, ["invalid_type"]),
        ("ideogram_4_5", {"maskUri": "ftp://x"}, ["invalid_string"]),
    ],
)
def test_parameters_by_type(model: str, params: dict[str, Any], expected: list[str]) -> None:
    assert codes(minimal_body(model, **params)) == expected
