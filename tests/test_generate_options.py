"""Model options (--ratio defaults, --count, --seed, -p) and --dry-run: what is sent, and every
option a model does not take refused before anything is sent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runway_cli.sandbox.images import png_size
from tests.helpers import assert_refused, megabytes, write_big_png, write_small_png


def test_dry_run_sends_nothing_and_needs_no_key(cli, env, sandbox, workdir):
    small, big = write_small_png(workdir), write_big_png(workdir)
    r = cli(
        "generate",
        "a fox",
        "--ref",
        small,
        "--ref",
        big,
        "--seed",
        "42",
        "--public-figures",
        "low",
        "--dry-run",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url},
    )
    assert r.code == 0, r
    body = json.loads(r.stdout)
    assert body["model"] == "gen4_image" and body["seed"] == 42
    assert body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert re.fullmatch(
        r"data:image/png;base64,\S{40}…\(\d+ chars\)", body["referenceImages"][0]["uri"]
    )
    shown = f"runway://(upload of big.png, {megabytes(Path(big))} MB)"
    assert body["referenceImages"][1]["uri"] == shown
    assert sandbox.requests == []
    assert "nothing was sent" in r.stderr


def test_auto_ratio_is_the_default_where_offered(cli, api_env, workdir):
    dry = cli("generate", "x", "-m", "gpt_image_2", "--dry-run", env=api_env)
    assert dry.code == 0, dry
    assert json.loads(dry.stdout)["ratio"] == "auto"
    r = cli("generate", "x", "-m", "gpt_image_2", "-o", "a.png", env=api_env)
    assert r.code == 0, r
    assert png_size((workdir / "a.png").read_bytes()) == (1024, 1024)


@pytest.mark.parametrize(
    ("args", "sent"),
    [
        # --count 1 is accepted for every model; only models with outputCount are sent one
        pytest.param(["-n", "1"], {}, id="count-1-without-outputCount"),
        pytest.param(["-m", "gpt_image_2", "-n", "1"], {"outputCount": 1}, id="count-1"),
        # a model the catalog does not know: --count up to 10, -p values as JSON where they parse
        pytest.param(
            ["-m", "future_model", "--ratio", "1:1", "-n", "10"], {"outputCount": 10}, id="cap-10"
        ),
        pytest.param(
            ["-m", "future_model", "--ratio", "1:1", "-p", "a.b.c=1", "-p", "a.b.d=true"],
            {"a": {"b": {"c": 1, "d": True}}},
            id="nested-params",
        ),
        pytest.param(
            ["-m", "gpt_image_2", "-p", "quality=high", "-p", "background=auto"],
            {"quality": "high", "background": "auto"},
            id="typed-params",
        ),
    ],
)
def test_dry_run_shows_what_options_send(cli, api_env, sandbox, args, sent):
    r = cli("generate", "x", *args, "--dry-run", env=api_env)
    assert r.code == 0, r
    body = json.loads(r.stdout)
    assert {k: v for k, v in body.items() if k not in ("model", "promptText", "ratio")} == sent
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["-n", "2"], "gen4_image does not take --count", id="count-not-taken"),
        pytest.param(
            ["-m", "future_model", "--ratio", "1:1", "-n", "11"],
            "--count must be from 1 to 10",
            id="unknown-model-count-cap",
        ),
        pytest.param(
            ["-m", "ideogram_4_0", "-n", "11"],
            "ideogram_4_0 makes 1-10 images per task, not 11",
            id="undocumented-max-count-cap",
        ),
        pytest.param(
            ["-m", "gpt_image_2", "--seed", "9", "-o", "s{seed}.{ext}"],
            "gpt_image_2 does not take --seed",
            id="seed-not-taken",
        ),
        pytest.param(
            ["-p", "quality=high"], "Models that do: gpt_image_2", id="param-names-models"
        ),
        pytest.param(
            ["-m", "seedream5_pro", "-p", "grounding=sometimes"],
            "grounding must be true or false",
            id="param-type",
        ),
        pytest.param(["-p", "ratio=1:1"], "Set ratio with --ratio", id="core-field-as-param"),
        pytest.param(["--seed", "2", "-p", "seed=1"], "Set seed with --seed", id="seed-twice"),
        pytest.param(
            ["-m", "future_model", "--ratio", "1:1", "-p", "foo=1", "-p", "foo.bar=2"],
            "foo is already set",
            id="param-conflict",
        ),
        *(
            pytest.param(
                ["-m", "future_model", "--ratio", "1:1", "-p", f"x={value}"],
                f"{value} is not a valid JSON number",
                id=f"non-finite-{value}",
            )
            for value in ("NaN", "Infinity", "-Infinity")
        ),
    ],
)
def test_options_a_model_does_not_take_are_refused_before_any_request(
    cli, home, api_env, sandbox, args, needle
):
    r = cli("generate", "x", *args, env=api_env)
    assert_refused(r, sandbox, home, needle)
