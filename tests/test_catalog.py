"""Unit tests for runway_cli.catalog: the model table and its helpers."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from runway_cli.catalog import (
    DEFAULT_MODEL,
    UNDOCUMENTED_MAX_OUTPUTS,
    OutputCountSpec,
    all_models,
    get_model,
    parse_ratio,
    utf16_length,
)

MODELS = all_models()


def raw_rows() -> list[dict[str, object]]:
    text = resources.files("runway_cli").joinpath("models.json").read_text(encoding="utf-8")
    rows: list[dict[str, object]] = json.loads(text)["models"]
    return rows


# --- the table ----------------------------------------------------------------------------


def test_catalog_has_21_models() -> None:
    assert len(MODELS) == 21


def test_model_ids_are_unique_in_the_file() -> None:
    # all_models() is a dict, so a duplicated row would silently replace the earlier one.
    ids = [row["id"] for row in raw_rows()]
    assert len(ids) == len(set(ids)) == 21


def test_default_model_is_in_catalog() -> None:
    assert DEFAULT_MODEL in MODELS
    assert next(iter(MODELS)) == raw_rows()[0]["id"]  # catalog order is file order


@pytest.mark.parametrize("model_id", list(MODELS))
def test_default_ratio_is_listed(model_id: str) -> None:
    ratio = MODELS[model_id].ratio
    assert ratio.values, "every model lists at least one ratio"
    if ratio.default is not None:
        assert ratio.default in ratio.values


@pytest.mark.parametrize("model_id", list(MODELS))
def test_model_table_is_consistent(model_id: str) -> None:
    model = MODELS[model_id]
    assert model.id == model_id
    assert model.prompt_min >= 1
    if model.prompt_max is not None:
        assert model.prompt_max > model.prompt_min
    refs = model.reference_images
    if refs is not None:
        assert refs.min >= 0
        assert refs.max is None or refs.max >= refs.min
    if model.default_output_format is not None:
        assert model.output_formats is not None
        assert model.default_output_format in model.output_formats
    spec = model.ratio
    if spec.freeform:
        assert spec.freeform_max_pixels is not None
        assert spec.freeform_min_pixels is not None
        assert spec.freeform_min_pixels < spec.freeform_max_pixels


def test_gen4_image() -> None:
    model = get_model("gen4_image")
    assert model is not None
    assert model.prompt_max == 1000
    assert model.ratio.default == "1280:720"


def test_gemini_image3_pro() -> None:
    model = get_model("gemini_image3_pro")
    assert model is not None
    assert model.prompt_max == 5500
    assert model.reference_images is not None
    assert model.reference_images.max == 14


def test_gen4_image_turbo_requires_one_to_three_refs() -> None:
    model = get_model("gen4_image_turbo")
    assert model is not None
    refs = model.reference_images
    assert refs is not None
    assert refs.required
    assert (refs.min, refs.max) == (1, 3)


def test_models_without_refs_and_unbounded_refs_show_in_json() -> None:
    no_refs = [m for m in MODELS.values() if m.reference_images is None]
    unbounded = [
        m for m in MODELS.values() if m.reference_images and m.reference_images.max is None
    ]
    assert {m.id for m in no_refs} == {"recraft_v4_1_flash", "recraft_v4_1_vector"}
    assert [m.id for m in unbounded] == ["seedream5_flash"]
    assert all(m.to_json()["referenceImages"] is None for m in no_refs)
    assert unbounded[0].to_json()["referenceImages"]["max"] is None


def test_get_model_unknown() -> None:
    assert get_model("no_such_model") is None
    assert get_model("") is None


def test_output_count_spec() -> None:
    choices = OutputCountSpec(choices=(1, 4))
    assert choices.allows(1)
    assert choices.allows(4)
    assert not choices.allows(2)
    assert choices.describe() == "1 or 4"
    ranged = OutputCountSpec(min=1, max=4)
    assert [ranged.allows(n) for n in range(6)] == [False, True, True, True, True, False]
    assert ranged.describe() == "1-4"
    # no documented maximum: capped, because every image is billed
    open_ended = OutputCountSpec(min=1)
    assert open_ended.allows(UNDOCUMENTED_MAX_OUTPUTS)
    assert not open_ended.allows(UNDOCUMENTED_MAX_OUTPUTS + 1)
    assert not open_ended.allows(0)
    assert open_ended.describe() == f"1-{UNDOCUMENTED_MAX_OUTPUTS}"


# --- utf16_length -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("abc", 3),
        ("\u00e9", 1),  # precomposed e-acute
        ("e\u0301", 2),  # e + combining acute
        ("\u4e2d\u6587", 2),  # CJK in the BMP
        ("\U0001f600", 2),  # emoji outside the BMP
        ("\U0001d54f", 2),  # mathematical double-struck X
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", 8),  # family: 3 emoji + 2 ZWJ
        ("a\U0001f600b", 4),
    ],
)
def test_utf16_length(text: str, units: int) -> None:
    assert utf16_length(text) == units


# --- parse_ratio --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("1280:720", (1280, 720)), ("1:1", (1, 1)), ("0001:02", (1, 2)), ("4096:4096", (4096, 4096))],
)
def test_parse_ratio_valid(ratio: str, size: tuple[int, int]) -> None:
    assert parse_ratio(ratio) == size


@pytest.mark.parametrize(
    "ratio",
    [
        "auto",
        "auto_2k",
        "",
        ":",
        "1280:",
        ":720",
        "0:720",
        "1280:0",
        "-1:5",
        "12.5:3",
        "1280x720",
        " 1280:720",
        "1:2:3",
    ],
)
def test_parse_ratio_invalid(ratio: str) -> None:
    assert parse_ratio(ratio) is None


@pytest.mark.parametrize(
    "ratio",
    [
        "\u00b2:1",  # superscript two: isdigit() but not int()-able
        "\uff11\uff12\uff18\uff10:\uff17\uff12\uff10",  # fullwidth 1280:720
        "\u0661\u0662:\u0663",  # Arabic-Indic digits
    ],
)
def test_parse_ratio_non_ascii_digits_are_not_a_ratio(ratio: str) -> None:
    # The API only understands ASCII digits; anything else is junk, never a crash.
    assert parse_ratio(ratio) is None


def test_every_listed_ratio_is_a_size_or_keyword() -> None:
    for model in MODELS.values():
        for value in model.ratio.values:
            assert parse_ratio(value) is not None or value.startswith("auto"), (model.id, value)
