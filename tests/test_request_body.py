"""Building a create body from the options, checked against the catalog: every branch of
``request_body.build`` (ratio, references, count, format, named options, -p, constraints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runway_cli.catalog import UNDOCUMENTED_MAX_OUTPUTS, ParamSpec
from runway_cli.errors import UsageError
from runway_cli.references import LocalImage, RefOption
from runway_cli.request_body import (
    PENDING_UPLOAD,
    Options,
    Prepared,
    build,
    models_taking,
    parse_param_value,
    shorten_data_uris,
)
from tests.fakes import png_bytes

PROMPT = "a lighthouse at dusk"
SEED_MAX = 4294967295
# Large enough that its data: URI is over the API's 5 MiB limit: it is uploaded, not inlined.
BIG = 4 * 1024 * 1024


@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ref.png (small: inlined) and big.png (uploaded) in the working folder."""
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "ref.png").write_bytes(png_bytes())
    (folder / "big.png").write_bytes(png_bytes() + b"\0" * BIG)
    monkeypatch.chdir(folder)
    return folder


def make(model: str = "gen4_image", prompt: str = PROMPT, **fields) -> Prepared:
    return build(Options(model=model, prompt=prompt, **fields))


def refs(*sources: str, tag: str | None = None, subject: str | None = None) -> list[RefOption]:
    return [RefOption(source, tag, subject) for source in sources]


def refused(needle: str, model: str = "gen4_image", **fields) -> UsageError:
    with pytest.raises(UsageError, match=needle) as info:
        make(model, **fields)
    return info.value


# --- the basics ------------------------------------------------------------------------------


def test_minimal_body() -> None:
    prepared = make()
    assert prepared.body == {"model": "gen4_image", "promptText": PROMPT, "ratio": "1280:720"}
    assert prepared.model is not None and prepared.model.id == "gen4_image"
    assert prepared.uploads == [] and prepared.warnings == []
    assert (prepared.expected_outputs, prepared.expected_ext) == (1, "png")


def test_prompt_is_checked_first() -> None:
    refused("empty", prompt="  ")
    refused("at most 1000", prompt="x" * 1001)


# --- ratio ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "ratio", "sent"),
    [
        ("gen4_image", None, "1280:720"),  # the model's default
        ("gen4_image", "1920:1080", "1920:1080"),
        ("gpt_image_2", None, "auto"),
        ("seedream5_lite", "2500:2500", "2500:2500"),  # free-form within the pixel bounds
        ("ideogram_4_5", None, None),  # optional, no default: not sent
        ("recraft_v4_1_vector", None, None),
    ],
)
def test_ratio(model: str, ratio: str | None, sent: str | None) -> None:
    assert make(model, ratio=ratio).body.get("ratio") == sent


def test_ratio_not_offered_is_refused() -> None:
    refused("Ratio 1:1 is not valid for gen4_image", ratio="1:1")


def test_unknown_model_needs_a_ratio_and_gets_a_warning() -> None:
    refused("--ratio is required for new_model", model="new_model")
    prepared = make("new_model", ratio="16:9")
    assert prepared.model is None
    assert prepared.body["ratio"] == "16:9"
    assert prepared.warnings == ["new_model is not in the model catalog; sending it as given."]
    refused("expected WIDTH:HEIGHT", model="new_model", ratio="wide!")


# --- reference images ----------------------------------------------------------------------------


def test_local_reference_is_inlined(images: Path) -> None:
    prepared = make(refs=refs("ref.png"))
    (item,) = prepared.body["referenceImages"]
    assert item == {"uri": "data:image/png;base64," + _b64(png_bytes())}
    assert prepared.uploads == []


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_remote_references_pass_through_with_tag_and_subject() -> None:
    prepared = make(
        "gemini_image3_pro",
        refs=[
            RefOption("https://img.example/a.png", "fox", "object"),
            RefOption("runway://uploads/b.png", "hero", "human"),
        ],
    )
    assert prepared.body["referenceImages"] == [
        {"uri": "https://img.example/a.png", "tag": "fox", "subject": "object"},
        {"uri": "runway://uploads/b.png", "tag": "hero", "subject": "human"},
    ]


def test_large_reference_is_marked_for_upload(images: Path) -> None:
    prepared = make(refs=refs("ref.png", "big.png"))
    # a stand-in until the upload gives the runway:// URI (so constraints see the field)
    assert prepared.body["referenceImages"][1] == {"uri": PENDING_UPLOAD}
    ((path, image),) = prepared.uploads
    assert path == ("referenceImages", 1, "uri")
    assert image.path.name == "big.png" and image.kind == "png"
    prepared.set_upload(path, "runway://uploads/big.png")
    assert prepared.body["referenceImages"][1]["uri"] == "runway://uploads/big.png"


def test_model_without_references_refuses_them(images: Path) -> None:
    error = refused(
        "recraft_v4_1_flash does not take --ref", "recraft_v4_1_flash", refs=refs("ref.png")
    )
    assert "Models that do: " in error.message and "gen4_image" in error.message
    assert "referenceImages" not in make("recraft_v4_1_flash").body


def test_too_few_references() -> None:
    refused(
        r"gen4_image_turbo needs at least 1 reference image \(--ref FILE\); got 0\.",
        "gen4_image_turbo",
    )


def test_too_many_references() -> None:
    refused(
        "gen4_image takes at most 3 reference images; got 4",
        refs=refs(*["https://a.example/x.png"] * 4),
    )


def test_tags_on_a_model_without_tags() -> None:
    refused(
        "does not take reference tags",
        "muse_image",
        refs=refs("https://a.example/x.png", tag="fox"),
    )


def test_subjects_on_a_model_without_subjects() -> None:
    refused(
        "does not take reference subjects", refs=refs("https://a.example/x.png", subject="human")
    )


def test_duplicate_tags() -> None:
    refused(
        "Reference tags must be unique; repeated: fox",
        refs=[
            RefOption("https://a.example/1.png", "fox"),
            RefOption("https://a.example/2.png", "fox"),
        ],
    )


@pytest.mark.parametrize(
    ("subjects", "needle"),
    [
        (["human"] * 6, r"at most 5 references marked @human; got 6\.$"),
        (["object"] * 10, "at most 9 references marked @object; got 10 \\(references without"),
        ([None] * 10, "at most 9 references marked @object; got 10 \\(references without"),
        ([None] * 5 + ["object"] * 5, "at most 9 references marked @object; got 10"),
    ],
)
def test_subject_limits_count_unmarked_as_the_default(subjects, needle) -> None:
    items = [RefOption(f"https://a.example/{i}.png", None, s) for i, s in enumerate(subjects)]
    refused(needle, "gemini_image3_pro", refs=items)


def test_subject_limits_allow_up_to_the_limit() -> None:
    items = [RefOption("https://a.example/h.png", None, "human")] * 5 + [
        RefOption("https://a.example/o.png")
    ] * 9
    assert len(make("gemini_image3_pro", refs=items).body["referenceImages"]) == 14


@pytest.mark.parametrize(
    ("model", "prompt", "tags", "warned"),
    [
        ("gen4_image", "@fox in @snow", ["fox"], ["snow"]),
        ("gen4_image", "@fox in the snow", ["fox"], []),
        ("gen4_image", "mail me at me@fox.example", [], []),  # not a mention
        ("muse_image", "@fox", [], []),  # tags are not a thing there
        ("new_model", "@fox", [], ["fox"]),  # unknown models: may take tags
    ],
)
def test_prompt_mentions_without_a_tag_warn(model, prompt, tags, warned) -> None:
    items = [RefOption("https://a.example/x.png", tag) for tag in tags]
    prepared = make(model, prompt=prompt, refs=items, ratio="1:1" if model == "new_model" else None)
    mentions = [w for w in prepared.warnings if "mentions" in w]
    assert mentions == [f"The prompt mentions @{t}, but no --ref defines that tag." for t in warned]


# --- count ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "count", "sent", "expected"),
    [
        ("gen4_image", None, None, 1),
        ("gen4_image", 1, None, 1),  # scripts pass -n 1 to every model: the default, so nothing
        ("gpt_image_2", 10, 10, 10),
        ("gemini_image3_pro", 4, 4, 4),
        (
            "ideogram_4_0",
            UNDOCUMENTED_MAX_OUTPUTS,
            UNDOCUMENTED_MAX_OUTPUTS,
            UNDOCUMENTED_MAX_OUTPUTS,
        ),
        ("new_model", 3, 3, 3),
    ],
)
def test_count(model, count, sent, expected) -> None:
    prepared = make(model, count=count, ratio="1:1" if model == "new_model" else None)
    assert prepared.body.get("outputCount") == sent
    assert prepared.expected_outputs == expected


@pytest.mark.parametrize(
    ("model", "count", "needle"),
    [
        ("gen4_image", 2, "gen4_image does not take --count. Models that do: .*gpt_image_2"),
        ("gemini_image3_pro", 2, "makes 1 or 4 images per task, not 2"),
        ("seedream5_pro", 5, "makes 1-4 images per task, not 5"),
        (
            "ideogram_4_0",
            UNDOCUMENTED_MAX_OUTPUTS + 1,
            f"makes 1-{UNDOCUMENTED_MAX_OUTPUTS} images",
        ),
        ("gpt_image_2", 0, "makes 1-10 images per task, not 0"),
        ("new_model", 0, f"--count must be from 1 to {UNDOCUMENTED_MAX_OUTPUTS}"),
        ("new_model", UNDOCUMENTED_MAX_OUTPUTS + 1, "--count must be from 1 to"),
    ],
)
def test_count_refused(model, count, needle) -> None:
    refused(needle, model, count=count, ratio="1:1" if model == "new_model" else None)


# --- format ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fmt", "ext"),
    [
        ("gen4_image", None, "png"),
        ("muse_image", "jpeg", "jpg"),
        ("muse_image", "webp", "webp"),
        ("seedream5_pro", None, "png"),
        ("recraft_v4_1_flash", None, "webp"),  # its default format
        ("recraft_v4_1_vector", None, "svg"),  # vector models make SVG
        ("new_model", "gif", "gif"),  # not in the catalog: sent as given
    ],
)
def test_format(model, fmt, ext) -> None:
    prepared = make(model, output_format=fmt, ratio="1:1" if model == "new_model" else None)
    assert prepared.body.get("outputFormat") == fmt
    assert prepared.expected_ext == ext


def test_format_refused() -> None:
    refused("gen4_image does not take --format", output_format="png")
    refused("seedream5_pro writes png, jpeg, not webp", "seedream5_pro", output_format="webp")


# --- named options: --seed, --public-figures -------------------------------------------------------


def test_seed_and_public_figures() -> None:
    body = make(seed=SEED_MAX, public_figures="low").body
    assert body["seed"] == SEED_MAX
    assert body["contentModeration"] == {"publicFigureThreshold": "low"}


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"seed": SEED_MAX + 1}, f"--seed must be at most {SEED_MAX}, not {SEED_MAX + 1}"),
        ({"seed": -1}, "--seed must be at least 0, not -1"),
        ({"public_figures": "high"}, "--public-figures must be one of auto, low, not 'high'"),
    ],
)
def test_named_options_are_checked(fields, needle) -> None:
    refused(needle, **fields)


def test_named_option_the_model_does_not_take() -> None:
    refused("gpt_image_2 does not take --seed. Models that do: ", "gpt_image_2", seed=1)
    refused(
        "gemini_image3_pro does not take --public-figures",
        "gemini_image3_pro",
        public_figures="low",
    )


def test_named_options_for_unknown_models_are_sent_as_given() -> None:
    body = make("new_model", ratio="1:1", seed=7, public_figures="whatever").body
    assert body["seed"] == 7 and body["contentModeration"] == {"publicFigureThreshold": "whatever"}


# --- -p KEY=VALUE ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "item", "field", "value"),
    [
        ("gpt_image_2", "quality=high", "quality", "high"),
        ("gpt_image_2", "background=transparent", "background", "transparent"),
        ("seedream5_pro", "grounding=yes", "grounding", True),
        ("seedream5_pro", "grounding=OFF", "grounding", False),
        ("recraft_v4_1_flash", "backgroundColor=#ff8800", "backgroundColor", "#ff8800"),
        ("recraft_v4_1_flash", "colors=ff0000, 00ff00", "colors", ["ff0000", "00ff00"]),
        ("nano_banana_2.1", "thinkingLevel=minimal", "thinkingLevel", "minimal"),
        ("gpt_image_2", " quality =high", "quality", "high"),  # spaces around the name
    ],
)
def test_params_are_typed_by_the_catalog(model, item, field, value) -> None:
    assert make(model, params=[item]).body[field] == value


@pytest.mark.parametrize(
    ("model", "item", "needle"),
    [
        ("gpt_image_2", "quality", "-p expects key=value, not 'quality'"),
        ("gpt_image_2", "=high", "-p expects key=value"),
        ("gpt_image_2", "model=x", "Set model with --model, not -p"),
        ("gpt_image_2", "promptText=x", "Set promptText with the prompt, not -p"),
        ("gpt_image_2", "ratio=1:1", "Set ratio with --ratio, not -p"),
        ("gpt_image_2", "referenceImages.0=x", "Set referenceImages.0 with --ref, not -p"),
        ("gpt_image_2", "outputCount=2", "with --count"),
        ("gpt_image_2", "outputFormat=png", "with --format"),
        ("gen4_image", "seed=1", "Set seed with --seed, not -p"),
        ("gen4_image", "contentModeration.publicFigureThreshold=low", "with --public-figures"),
        ("gpt_image_2", "quality=ultra", "quality must be one of low, medium, high, auto"),
        ("seedream5_pro", "grounding=maybe", "grounding must be true or false, not 'maybe'"),
        ("recraft_v4_1_flash", "backgroundColor=orange", "six-digit hex colour"),
        ("recraft_v4_1_flash", "backgroundColor=ff88", "six-digit hex colour"),
        ("recraft_v4_1_flash", "colors=red", "comma-separated six-digit hex colours"),
        ("recraft_v4_1_flash", "colors=,", "comma-separated six-digit hex colours"),
        ("ideogram_4_5", "maskUri=missing.png", "does not exist"),
        (
            "gen4_image",
            "quality=high",
            r"gen4_image has no parameter 'quality' \(its parameters: .*seed\)\. Models that do: ",
        ),
        ("gemini_image3_pro", "nope=1", r"\(its parameters: none\)\. No catalog model does\."),
    ],
)
def test_params_refused(model, item, needle) -> None:
    refused(needle, model, params=[item])


def test_a_param_given_twice() -> None:
    refused("quality is given twice", "gpt_image_2", params=["quality=low", "quality=high"])


def test_image_param_is_inlined_or_uploaded(images: Path) -> None:
    small = make("ideogram_4_5", params=["maskUri=ref.png"])
    assert small.body["maskUri"].startswith("data:image/png;base64,")
    big = make("ideogram_4_5", params=["maskUri=big.png"])
    assert big.body["maskUri"] == PENDING_UPLOAD
    assert [path for path, _ in big.uploads] == [("maskUri",)]


@pytest.mark.parametrize(
    ("item", "body"),
    [
        ("steps=30", {"steps": 30}),
        ("guidance=7.5", {"guidance": 7.5}),
        ("style=vivid", {"style": "vivid"}),
        ('style="30"', {"style": "30"}),
        ("flags=[1, 2]", {"flags": [1, 2]}),
        ("a.b.c=true", {"a": {"b": {"c": True}}}),
        ("nothing=null", {"nothing": None}),
        ("empty=", {"empty": ""}),
    ],
)
def test_params_for_unknown_models_are_json_when_they_parse(item, body) -> None:
    sent = make("new_model", ratio="1:1", params=[item]).body
    assert {k: v for k, v in sent.items() if k not in ("model", "promptText", "ratio")} == body


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        (["x=NaN"], "NaN is not a valid JSON number"),
        (["x=-Infinity"], "-Infinity is not a valid JSON number"),
        (["x=1e999"], "1e999 is not a finite number"),
        (["a=1", "a.b=2"], "a is already set; cannot set a.b"),
        (["a.b=1", "a.b=2"], "a.b is given twice"),
        (["a..b=1"], "Invalid parameter name 'a..b'"),
        (["a.=1"], "Invalid parameter name"),
    ],
)
def test_params_for_unknown_models_refused(items, needle) -> None:
    refused(needle, "new_model", ratio="1:1", params=items)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(JSON_VALUES)
def test_any_json_value_round_trips_through_p(value) -> None:
    sent = make("new_model", ratio="1:1", params=[f"x={json.dumps(value)}"]).body["x"]
    assert sent == value


@given(st.text(min_size=1).filter(lambda s: not _is_json(s)))
def test_text_that_is_not_json_is_sent_as_a_string(raw: str) -> None:
    assert make("new_model", ratio="1:1", params=[f"x={raw}"]).body["x"] == raw


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --- parse_param_value, for every type ------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "raw", "value"),
    [
        (ParamSpec("n", "int", min=1, max=5), "3", 3),
        (ParamSpec("n", "int", min=1, max=5), " 5 ", 5),
        (ParamSpec("n", "int"), "-40", -40),
        (ParamSpec("b", "bool"), "1", True),
        (ParamSpec("b", "bool"), " No ", False),
        (ParamSpec("e", "enum", values=("a", "b")), "b", "b"),
        (ParamSpec("c", "hex_color"), "A0b1C2", "A0b1C2"),
        (ParamSpec("c", "hex_color_list"), "#000000,ffffff,", ["#000000", "ffffff"]),
        (ParamSpec("s", "str"), "anything at all", "anything at all"),
    ],
)
def test_parse_param_value(spec: ParamSpec, raw: str, value) -> None:
    assert parse_param_value(spec.name, raw, spec) == value


@pytest.mark.parametrize(
    ("spec", "raw", "needle"),
    [
        (ParamSpec("n", "int", min=1, max=5), "0", "n must be at least 1, not 0"),
        (ParamSpec("n", "int", min=1, max=5), "6", "n must be at most 5, not 6"),
        (ParamSpec("n", "int"), "1.5", "n must be a whole number, not '1.5'"),
        (ParamSpec("e", "enum", values=("a", "b")), "A", "e must be one of a, b, not 'A'"),
    ],
)
def test_parse_param_value_refused(spec: ParamSpec, raw: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        parse_param_value(spec.name, raw, spec)


def test_image_param_value_is_a_local_image(images: Path) -> None:
    value = parse_param_value("maskUri", "ref.png", ParamSpec("maskUri", "image"))
    assert isinstance(value, LocalImage) and value.kind == "png"


def test_hex_colour_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(UsageError):
        parse_param_value("c", "ff8800\n", ParamSpec("c", "hex_color"))


def test_hex_colour_list_items_are_stripped() -> None:
    assert parse_param_value("c", "ff8800\n", ParamSpec("c", "hex_color_list")) == ["ff8800"]


# --- constraints across fields -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "needle"),
    [
        ("grok_imagine_image_2", {"params": ["edit=true"]}, "edit=true needs at least one --ref"),
        ("ideogram_4_5", {"params": ["preciseEdit=true"]}, "preciseEdit=true needs at least one"),
        ("ideogram_4_5", {"params": ["quality=very_low"]}, "quality=very_low needs reference"),
        (
            "ideogram_4_5",
            {
                "refs": refs("https://a.example/x.png"),
                "params": ["preciseEdit=true", "quality=very_low"],
            },
            "not available with preciseEdit",
        ),
        (
            "ideogram_4_5",
            {"ratio": "1024:1024", "params": ["maskUri=https://a.example/m.png"]},
            "cannot be combined",
        ),
        (
            "ideogram_4_5",
            {
                "refs": refs("https://a.example/x.png"),
                "ratio": "1024:1024",
                "params": ["preciseEdit=true"],
            },
            "cannot be combined",
        ),
        (
            "bria_fibo_edit_1_5",
            {"refs": refs("https://a.example/x.png"), "ratio": "1024:1024"},
            "at least 2 reference",
        ),
    ],
)
def test_constraints_refuse(model, fields, needle) -> None:
    error = refused(needle, model, **fields)
    assert error.message.startswith(f"{model}: ")


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (
            "grok_imagine_image_2",
            {"params": ["edit=true"], "refs": refs("https://a.example/x.png")},
        ),
        ("grok_imagine_image_2", {"params": ["edit=false"]}),
        ("bria_fibo_edit_1_5", {"refs": refs("https://a.example/x.png"), "ratio": "auto"}),
        ("bria_fibo_edit_1_5", {"refs": refs("https://a.example/x.png")}),  # no ratio at all
        (
            "bria_fibo_edit_1_5",
            {
                "refs": refs("https://a.example/x.png", "https://a.example/y.png"),
                "ratio": "1024:1024",
            },
        ),
        ("ideogram_4_5", {"params": ["maskUri=https://a.example/m.png"]}),
    ],
)
def test_constraints_allow_the_valid_combinations(model, fields) -> None:
    make(model, **fields)


def test_constraints_see_images_that_will_be_uploaded(images: Path) -> None:
    refused("cannot be combined", "ideogram_4_5", ratio="1024:1024", params=["maskUri=big.png"])


# --- what is shown and recorded ------------------------------------------------------------------


def test_display_body_shortens_data_uris_and_describes_uploads(images: Path) -> None:
    prepared = make(refs=refs("ref.png", "big.png"), seed=3)
    shown = prepared.display_body()
    first, second = shown["referenceImages"]
    assert first["uri"].startswith("data:image/png;base64,") and first["uri"].endswith(" chars)")
    assert second["uri"] == "runway://(upload of big.png, 4.0 MB)"
    # the body itself is untouched
    assert prepared.body["referenceImages"][1]["uri"] == PENDING_UPLOAD
    assert shown["seed"] == 3


def test_shorten_data_uris_walks_every_value() -> None:
    uri = "data:image/png;base64," + "A" * 500
    value = {"a": [uri, {"b": uri}], "c": 1, "d": "short"}
    shortened = shorten_data_uris(value)
    assert shortened["a"][0] == shortened["a"][1]["b"]
    assert shortened["a"][0].endswith(f"…({len(uri)} chars)")
    assert (shortened["c"], shortened["d"]) == (1, "short")
    assert value["a"][0] == uri  # a copy


@pytest.mark.parametrize(
    ("field", "some", "not_"),
    [
        ("outputCount", "gpt_image_2", "gen4_image"),
        ("outputFormat", "muse_image", "gen4_image"),
        ("referenceImages", "gen4_image", "recraft_v4_1_flash"),
        ("seed", "gen4_image", "gpt_image_2"),
    ],
)
def test_models_taking(field: str, some: str, not_: str) -> None:
    takers = models_taking(field)
    assert some in takers and not_ not in takers


def test_no_model_takes_a_made_up_field() -> None:
    assert models_taking("nope") == []
