"""Batch items: the file's lines (plain and JSON), the --vary grid, every bad line reported at
once with its number, per-item outputs kept inside the output folder, and item keys that
survive edits to the file."""

from __future__ import annotations

import json

import pytest

from runway_cli.batch.grid import combinations, parse_vary
from runway_cli.batch.items import BatchPlan, Defaults, check_item_output, load
from runway_cli.batch.lines import parse_lines
from runway_cli.errors import UsageError

GEN4 = Defaults(model="gen4_image")


def plan_of(text: str, defaults: Defaults = GEN4, vary: tuple[str, ...] = ()) -> BatchPlan:
    return load(text.encode("utf-8"), defaults, parse_vary(vary))


def jl(**fields: object) -> str:
    return json.dumps(fields)


# -- lines ------------------------------------------------------------------------------------


def test_plain_lines_are_prompts_and_blank_lines_are_skipped() -> None:
    lines, problems = parse_lines(b"\xef\xbb\xbfa fox\r\n\n   \n  a cat  \n")
    assert problems == []
    assert [(item.line, item.prompt) for item in lines] == [(1, "a fox"), (4, "a cat")]


def test_json_lines_carry_every_item_field() -> None:
    line = jl(
        prompt="a fox",
        model="gpt_image_2",
        ratio="1024:1024",
        seed=3,
        refs="a.png",
        count=2,
        format="jpeg",
        params={"quality": "high", "n": 2, "flag": True, "colors": ["ff0000", "00ff00"]},
        output="fox-{n}.{ext}",
    )
    (item,), problems = parse_lines(line.encode())
    assert problems == []
    assert (item.model, item.ratio, item.seed, item.refs, item.count) == (
        "gpt_image_2",
        "1024:1024",
        3,
        ("a.png",),
        2,
    )
    assert item.output_format == "jpeg" and item.output == "fox-{n}.{ext}"
    assert item.params == {"quality": "high", "n": "2", "flag": "true", "colors": "ff0000,00ff00"}


def test_every_bad_line_is_reported_at_once_with_its_number() -> None:
    text = "\n".join(
        [
            "a good prompt",
            "{not json",
            jl(promt="typo"),
            jl(prompt=3),
            jl(prompt="x", seed="7"),
            "[1, 2]",
            jl(prompt="x", ratio="1:1"),
            jl(prompt="x", output="../escape.png"),
            jl(prompt="x", output="/etc/passwd"),
            jl(prompt="x", model="gen4_image_turbo"),
            jl(prompt=""),
            "another good prompt",
        ]
    )
    plan = plan_of(text)
    bad = {p.line: p.reason for p in plan.problems}
    assert sorted(bad) == [2, 3, 4, 5, 7, 8, 9, 10, 11]
    assert "not valid JSON" in bad[2]
    assert "unknown key 'promt'" in bad[3]
    assert '"prompt" (a string) is required' in bad[4]
    assert '"seed" must be a whole number' in bad[5]
    assert "Ratio 1:1 is not valid for gen4_image" in bad[7]
    assert "no .." in bad[8]
    assert "relative to the output folder" in bad[9]
    assert "gen4_image_turbo needs at least 1 reference image" in bad[10]
    assert "empty" in bad[11].lower()
    assert [item.line for item in plan.items] == [1, 6, 12]  # "[1, 2]" is a plain prompt


def test_an_empty_file_is_a_problem() -> None:
    assert [str(p) for p in plan_of("\n\n").problems] == ["The batch file has no prompts."]


def test_non_utf8_lines_are_named() -> None:
    _, problems = parse_lines(b"ok\n\xff\xfe bad\n")
    assert [(p.line, p.reason) for p in problems] == [(2, "not UTF-8 text (byte 1)")]


# -- defaults and overrides -----------------------------------------------------------------


def test_command_line_options_are_defaults_that_each_line_may_override() -> None:
    defaults = Defaults(
        model="gpt_image_2", ratio="1920:1920", count=2, params=("quality=low",), output="a.png"
    )
    text = "\n".join(
        [
            "uses the defaults",
            jl(prompt="own", count=1, params={"quality": "high"}, output="b.png"),
        ]
    )
    first, second = plan_of(text, defaults).items
    body_first, body_second = first.prepare().body, second.prepare().body
    assert body_first["outputCount"] == 2 and body_first["quality"] == "low"
    assert (first.output, first.images) == ("a.png", 2)
    assert body_second["outputCount"] == 1 and body_second["quality"] == "high"
    assert (second.output, second.images) == ("b.png", 1)


def test_the_profile_ratio_applies_only_where_the_model_takes_it() -> None:
    defaults = Defaults(model="gen4_image", profile_ratio="1280:720")
    text = "\n".join(["a", jl(prompt="b", model="gemini_image3_pro")])
    gen4, gemini = plan_of(text, defaults).items
    assert gen4.ratio == "1280:720"
    assert gemini.ratio != "1280:720"


# -- the --vary grid --------------------------------------------------------------------------


def test_vary_expands_every_item_over_the_grid_and_wins_over_the_line() -> None:
    text = "\n".join(["a", jl(prompt="b", seed=99)])
    plan = plan_of(text, vary=("ratio=1280:720,1024:1024", "seed=1,2,3"))
    assert len(plan.items) == 2 * 2 * 3
    b_items = [i for i in plan.items if i.prompt == "b"]
    assert sorted({i.seed for i in b_items}) == [1, 2, 3]
    assert {(i.ratio, i.seed) for i in b_items} == {
        (r, s) for r in ("1280:720", "1024:1024") for s in (1, 2, 3)
    }
    assert dict(b_items[0].vary) == {"ratio": "1280:720", "seed": "1"}


def test_vary_of_a_parameter_and_of_the_model() -> None:
    models = ("gpt_image_2", "gpt_image_2_5_flare")
    plan = plan_of("a", vary=(f"model={','.join(models)}", "quality=low,high"))
    assert plan.problems == ()
    assert {(i.model, i.prepare().body["quality"]) for i in plan.items} == {
        (m, q) for m in models for q in ("low", "high")
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["seed"], "KEY=V1,V2"),
        (["seed="], "KEY=V1,V2"),
        (["seed=1,,2"], "empty value"),
        (["seed=1,1"], "repeated"),
        (["seed=1", "seed=2"], "given twice"),
        (["seed=one"], "not a whole number"),
        (["prompt=a,b"], "cannot vary prompt"),
    ],
)
def test_bad_vary_options_are_refused(options: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_vary(options)


def test_a_combination_that_fails_names_only_the_values_that_matter() -> None:
    plan = plan_of("a", vary=("seed=1,2", "ratio=1280:720,1:1"))
    (problem,) = plan.problems
    assert problem.where == "ratio=1:1"
    assert str(problem).startswith("line 1 (ratio=1:1): Ratio 1:1 is not valid")
    assert len(plan.items) == 2


def test_no_vary_is_one_empty_combination() -> None:
    assert combinations([]) == [()]


# -- outputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output", ["../x.png", "a/../../x.png", "/abs.png", "~/x.png", "sub/", "", "{nope}.png"]
)
def test_item_outputs_stay_inside_the_output_folder(output: str) -> None:
    with pytest.raises(UsageError):
        check_item_output(output, model="gen4_image", seed=None)


@pytest.mark.parametrize("output", ["x.png", "sub/x.png", "{model}/{seed}-{n}.{ext}", "{id}"])
def test_relative_names_and_templates_are_fine(output: str) -> None:
    check_item_output(output, model="gen4_image", seed=1)


def test_two_items_with_the_same_output_name_are_refused() -> None:
    text = "\n".join([jl(prompt="a", output="same.png"), jl(prompt="b", output="same.png")])
    (problem,) = plan_of(text).problems
    assert problem.line == 2 and "also the output of line 1" in problem.reason


def test_a_fixed_name_under_vary_clashes_unless_the_varied_field_is_in_it() -> None:
    clash = plan_of(jl(prompt="a", output="a.png"), vary=("seed=1,2",))
    assert "another item of this line" in clash.problems[0].reason
    fine = plan_of(jl(prompt="a", output="a-{seed}.png"), vary=("seed=1,2",))
    assert fine.problems == ()


# -- keys -------------------------------------------------------------------------------------


def keys(plan: BatchPlan) -> dict[str, str]:
    return {item.prompt: item.key for item in plan.items}


def test_keys_survive_inserted_and_reordered_lines() -> None:
    before = keys(plan_of("a fox\na cat\n"))
    after = keys(plan_of("a new one\na cat\n\na fox\n"))
    assert after["a fox"] == before["a fox"] and after["a cat"] == before["a cat"]


def test_keys_change_with_the_resolved_request_and_the_combination() -> None:
    base = plan_of("a fox").items[0].key
    assert plan_of("a fox", Defaults(model="gen4_image", ratio="1024:1024")).items[0].key != base
    assert plan_of("a fox!").items[0].key != base
    varied = plan_of("a fox", vary=("seed=1,2",)).items
    assert len({base, *(i.key for i in varied)}) == 3


def test_a_repeated_line_is_a_second_item_with_its_own_stable_key() -> None:
    first = plan_of("a fox\na fox\n").items
    again = plan_of("other\na fox\na fox\n").items
    assert first[0].key != first[1].key
    assert [i.key for i in again if i.prompt == "a fox"] == [i.key for i in first]
