"""Completions that know the domain, driven through the real completion protocol.

Each test asks ``runway-img`` for candidates the way a shell does: bash sets ``COMP_WORDS`` and
``COMP_CWORD`` (values only, one a line), zsh and fish set ``_TYPER_COMPLETE_ARGS`` (values with
their descriptions), all with ``_RUNWAY_IMG_COMPLETE`` naming the shell. Runs in-process against
the test's isolated home; one test spawns a fresh process to check what completion imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runway_cli.catalog import all_models, get_model
from runway_cli.credentials import store_key
from runway_cli.history import History
from runway_cli.profiles import ConfigFile
from runway_cli.settings import Paths
from tests.conftest import KEY

GEN4_RATIOS = [
    "1024:1024",
    "1080:1080",
    "1168:880",
    "1360:768",
    "1440:1080",
    "1080:1440",
    "1808:768",
    "1920:1080",
    "1080:1920",
    "2112:912",
    "1280:720",
    "720:1280",
    "720:720",
    "960:720",
    "720:960",
    "1680:720",
]
MUSE_RATIOS = [
    "2352:1008",
    "2016:1152",
    "1920:1280",
    "1792:1344",
    "1600:1600",
    "1344:1792",
    "1280:1920",
    "1152:2016",
    "auto",
]


def _id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def bash(cli, env: dict[str, str], line: str) -> list[str]:
    """The candidates bash gets for ``line`` (the cursor at its end)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    r = cli(
        env={
            **env,
            "_RUNWAY_IMG_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(cword),
        }
    )
    assert r.code == 0, r
    assert r.stderr == "", r
    return r.stdout.splitlines() if r.stdout.strip() else []  # nothing: one empty line


def fish(cli, env: dict[str, str], line: str) -> list[tuple[str, str]]:
    """The (value, description) pairs fish gets for ``line``."""
    r = cli(
        env={
            **env,
            "_RUNWAY_IMG_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
            "_TYPER_COMPLETE_ARGS": line,
        }
    )
    assert r.code == 0, r
    assert r.stderr == "", r
    rows = r.stdout.splitlines() if r.stdout.strip() else []
    return [(v, h) for v, _, h in (row.partition("\t") for row in rows)]


def zsh(cli, env: dict[str, str], line: str) -> str:
    r = cli(env={**env, "_RUNWAY_IMG_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line})
    assert r.code == 0, r
    assert r.stderr == "", r
    return r.stdout


def history(env: dict[str, str]) -> History:
    return History(Paths.resolve(env).history)


def set_profile(env: dict[str, str], name: str, **values: str) -> None:
    config = ConfigFile.load(Paths.resolve(env).config_file)
    config.profiles.setdefault(name, {}).update(values)
    config.save()


# --model ------------------------------------------------------------------------------------


def test_model_completes_every_catalog_id_in_catalog_order(cli, env):
    assert bash(cli, env, "runway-img generate --model ") == list(all_models())


def test_model_completes_ids_starting_with_what_was_typed(cli, env):
    assert bash(cli, env, "runway-img generate --model gen") == ["gen4_image_turbo", "gen4_image"]
    assert bash(cli, env, "runway-img generate -m seedream5_") == [
        "seedream5_pro",
        "seedream5_lite",
        "seedream5_flash",
    ]
    assert bash(cli, env, "runway-img generate --model nope") == []


def test_model_descriptions_give_prompt_limit_refs_and_the_default(cli, env):
    assert fish(cli, env, "runway-img generate --model gen") == [
        ("gen4_image_turbo", "prompt up to 1000 chars, 1-3 refs"),
        ("gen4_image", "prompt up to 1000 chars, 0-3 refs, default"),
    ]
    assert fish(cli, env, "runway-img generate --model recraft_v4_1_v") == [
        ("recraft_v4_1_vector", "no refs")
    ]
    assert fish(cli, env, "runway-img generate --model seedream5_f") == [
        ("seedream5_flash", "0+ refs")  # neither limit is documented
    ]


def test_model_default_marker_follows_the_profile(cli, env):
    set_profile(env, "default", model="muse_image")
    assert fish(cli, env, "runway-img generate -m mu") == [
        ("muse_image", "prompt up to 4000 chars, 0-10 refs, default")
    ]
    assert fish(cli, env, "runway-img generate -m gen4_image") == [
        ("gen4_image_turbo", "prompt up to 1000 chars, 1-3 refs"),
        ("gen4_image", "prompt up to 1000 chars, 0-3 refs"),
    ]


def test_zsh_gets_values_with_descriptions_escaped_for_arguments(cli, env):
    assert zsh(cli, env, "runway-img generate --model gen4").splitlines() == [
        """_arguments '*: :(("gen4_image_turbo":"prompt up to 1000 chars, 1-3 refs\"""",
        """"gen4_image":"prompt up to 1000 chars, 0-3 refs, default"))'""",
    ]
    # ratios hold colons, which zsh's _arguments needs escaped
    assert zsh(cli, env, "runway-img generate --ratio 1280").splitlines() == [
        r"""_arguments '*: :(("1280\\:720":"landscape 16\\:9, default"))'""",
    ]


# --ratio ------------------------------------------------------------------------------------


def test_ratio_completes_the_default_models_ratios_without_a_model(cli, env):
    assert bash(cli, env, "runway-img generate --ratio ") == GEN4_RATIOS
    assert bash(cli, env, "runway-img generate -r 10") == [
        "1024:1024",
        "1080:1080",
        "1080:1440",
        "1080:1920",
    ]


def test_ratio_completes_the_ratios_of_the_model_on_the_line(cli, env):
    assert bash(cli, env, "runway-img generate --model muse_image --ratio ") == MUSE_RATIOS
    assert bash(cli, env, "runway-img generate a-prompt -m muse_image -r 1") == MUSE_RATIOS[2:-1]


def test_ratio_descriptions_give_shape_and_default(cli, env):
    assert fish(cli, env, "runway-img generate --model muse_image --ratio ") == [
        ("2352:1008", "landscape 7:3"),
        ("2016:1152", "landscape 7:4"),
        ("1920:1280", "landscape 3:2"),
        ("1792:1344", "landscape 4:3"),
        ("1600:1600", "square 1:1"),
        ("1344:1792", "portrait 3:4"),
        ("1280:1920", "portrait 2:3"),
        ("1152:2016", "portrait 4:7"),
        ("auto", "size chosen by the model, default"),
    ]
    assert fish(cli, env, "runway-img generate -m seedream5_pro -r auto") == [
        ("auto_1k", "size chosen by the model (~1k)"),
        ("auto_2k", "size chosen by the model (~2k)"),
    ]


def test_ratio_follows_the_profile_model_and_profile_on_the_line(cli, env):
    set_profile(env, "default", model="muse_image")
    set_profile(env, "work", model="seedream5_pro")
    assert bash(cli, env, "runway-img generate --ratio ") == MUSE_RATIOS
    seedream = list(all_models()["seedream5_pro"].ratio.values)
    assert bash(cli, env, "runway-img generate --profile work --ratio ") == seedream
    assert bash(cli, env, "runway-img generate -r ") == MUSE_RATIOS
    # the model on the line wins over the profile's
    assert bash(cli, env, "runway-img generate --profile work -m gen4_image -r 7") == [
        "720:1280",
        "720:720",
        "720:960",
    ]


def test_ratio_of_a_freeform_model_lists_its_listed_ratios(cli, env):
    spec = get_model("seedream5_lite")
    assert spec is not None and spec.ratio.freeform
    assert bash(cli, env, "runway-img generate -m seedream5_lite --ratio ") == list(
        spec.ratio.values
    )


def test_ratio_of_an_unknown_model_completes_nothing(cli, env):
    assert bash(cli, env, "runway-img generate -m no_such_model --ratio ") == []


def test_config_set_ratio_completes_the_profile_models_ratios(cli, env):
    set_profile(env, "default", model="muse_image")
    assert bash(cli, env, "runway-img config set ratio ") == MUSE_RATIOS


# TASK_ID ------------------------------------------------------------------------------------


@pytest.fixture
def tasks(env: dict[str, str]) -> list[str]:
    """Three tasks in the history, plus one whose create was ambiguous (no id); newest last."""
    store = history(env)
    store.append("created", id=_id(1), model="gen4_image", prompt="a lighthouse at dusk")
    store.append("ambiguous", id=None, model="gen4_image", prompt="lost in transit")
    store.append(
        "created",
        id=_id(2),
        model="muse_image",
        prompt="a very long prompt about [bold]a fox[/bold]\nin the snow, " * 3,
    )
    store.append("finished", id=_id(1), status="SUCCEEDED", files=["a.png"])
    store.append("created", id=_id(3), model="gen4_image", prompt=None)
    return [_id(3), _id(2), _id(1)]


@pytest.mark.parametrize("command", ["status", "download", "cancel"])
def test_task_id_completes_recent_history_ids_newest_first(cli, env, tasks, command):
    assert bash(cli, env, f"runway-img {command} ") == tasks


@pytest.mark.parametrize("command", ["status", "download", "cancel"])
def test_task_id_completes_ids_starting_with_what_was_typed(cli, env, tasks, command):
    assert bash(cli, env, f"runway-img {command} 0000000") == tasks
    assert bash(cli, env, f"runway-img {command} 00000002") == [_id(2)]
    assert bash(cli, env, f"runway-img {command} f") == []


def test_task_id_descriptions_are_the_shortened_prompts(cli, env, tasks):
    assert fish(cli, env, "runway-img status ") == [
        (_id(3), ""),
        (_id(2), "a very long prompt about (bold)a fox(/bold) in th…"),
        (_id(1), "a lighthouse at dusk"),
    ]


def test_download_completes_ids_after_its_options(cli, env, tasks):
    assert bash(cli, env, "runway-img download --force -o out/ ") == tasks


def test_cancel_does_not_offer_ids_already_on_the_line(cli, env, tasks):
    assert bash(cli, env, f"runway-img cancel {_id(2)} ") == [_id(3), _id(1)]
    assert bash(cli, env, f"runway-img cancel --yes {_id(3)} {_id(1)} ") == [_id(2)]


def test_task_id_offers_at_most_twenty(cli, env):
    store = history(env)
    for n in range(1, 26):
        store.append("created", id=_id(n), model="gen4_image", prompt=f"prompt {n}")
    assert bash(cli, env, "runway-img status ") == [_id(n) for n in range(25, 5, -1)]
    # an older id is still found by its prefix
    assert bash(cli, env, "runway-img status 00000002-") == [_id(2)]


def test_task_id_with_no_history_completes_nothing(cli, env):
    assert bash(cli, env, "runway-img status ") == []


def test_an_unreadable_history_completes_nothing_and_says_nothing(cli, env, home):
    folder = home / "not-a-file"
    folder.mkdir()
    env = {**env, "RUNWAY_IMG_HISTORY": str(folder)}  # reading it fails with EISDIR
    assert bash(cli, env, "runway-img status ") == []
    assert fish(cli, env, "runway-img cancel ") == []


def test_a_history_with_torn_lines_still_completes(cli, env, tasks):
    path = Paths.resolve(env).history
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"event": "created", "id": \n not json at all\n')
    history(env).append("created", id=_id(4), prompt="after the junk")
    assert bash(cli, env, "runway-img status ") == [_id(4), *tasks]


# --format and --public-figures ----------------------------------------------------------------


def test_format_completes_the_chosen_models_formats(cli, env):
    assert bash(cli, env, "runway-img generate -m muse_image --format ") == ["png", "jpeg", "webp"]
    assert bash(cli, env, "runway-img generate -m seedream5_pro --format ") == ["png", "jpeg"]
    assert bash(cli, env, "runway-img generate -m recraft_v4_1_flash --format ") == [
        "png",
        "webp",
    ]
    assert bash(cli, env, "runway-img generate -m muse_image --format j") == ["jpeg"]


def test_format_for_a_model_that_takes_none_completes_nothing(cli, env):
    assert bash(cli, env, "runway-img generate --model gen4_image --format ") == []


def test_format_without_a_model_on_the_line_offers_every_format(cli, env):
    assert bash(cli, env, "runway-img generate --format ") == ["png", "jpeg", "webp"]
    set_profile(env, "default", model="seedream5_pro")
    assert bash(cli, env, "runway-img generate --format ") == ["png", "jpeg"]


def test_format_description_marks_the_models_default(cli, env):
    assert fish(cli, env, "runway-img generate -m recraft_v4_1_flash --format ") == [
        ("png", ""),
        ("webp", "default for recraft_v4_1_flash"),
    ]


def test_public_figures_completes_auto_and_low(cli, env):
    assert bash(cli, env, "runway-img generate --public-figures ") == ["auto", "low"]
    assert bash(cli, env, "runway-img generate --public-figures l") == ["low"]
    assert fish(cli, env, "runway-img generate --public-figures ") == [
        ("auto", "standard moderation of public figures"),
        ("low", "less strict moderation of public figures"),
    ]


# --profile, auth use NAME, config set KEY ------------------------------------------------------


@pytest.fixture
def profiles(env: dict[str, str]) -> None:
    """Profiles in both files: work (key and base URL), ci (config only), old (key only)."""
    paths = Paths.resolve(env)
    store_key(paths.credentials, KEY, "work")
    store_key(paths.credentials, KEY, "old")
    set_profile(env, "work", **{"base-url": "http://127.0.0.1:8765"})
    set_profile(env, "ci", model="muse_image")
    config = ConfigFile.load(paths.config_file)
    config.current = "work"
    config.save()


@pytest.mark.parametrize(
    "line",
    [
        "runway-img generate --profile ",
        "runway-img status --profile ",
        "runway-img auth login --profile ",
        "runway-img auth logout --profile ",
        "runway-img config list --profile ",
        "runway-img auth use ",
    ],
)
def test_profile_completes_profile_names_from_both_files(cli, env, profiles, line):
    assert bash(cli, env, line) == ["ci", "old", "work"]


def test_profile_descriptions_say_current_and_key_but_never_show_it(cli, env, profiles):
    assert fish(cli, env, "runway-img generate --profile ") == [
        ("ci", "no key"),
        ("old", "key stored"),
        ("work", "current, key stored, http://127.0.0.1:8765"),
    ]
    assert fish(cli, env, "runway-img auth use w") == [
        ("work", "current, key stored, http://127.0.0.1:8765"),
    ]


def test_profile_without_any_files_completes_the_default_profile(cli, env):
    assert fish(cli, env, "runway-img generate --profile ") == [("default", "current, no key")]


def test_profile_with_broken_files_still_completes(cli, env):
    paths = Paths.resolve(env)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("{not json", encoding="utf-8")
    paths.credentials.write_text("[]", encoding="utf-8")
    assert bash(cli, env, "runway-img generate --profile ") == ["default"]


@pytest.mark.parametrize("command", ["set", "unset"])
def test_config_key_completes_setting_names(cli, env, command):
    assert bash(cli, env, f"runway-img config {command} ") == [
        "model",
        "ratio",
        "output-dir",
        "base-url",
    ]
    assert bash(cli, env, f"runway-img config {command} r") == ["ratio"]


def test_config_key_descriptions(cli, env):
    assert fish(cli, env, "runway-img config set ") == [
        ("model", "default --model"),
        ("ratio", "default --ratio"),
        ("output-dir", "default folder for saved images (-o)"),
        ("base-url", "API base URL for this profile"),
    ]


def test_config_set_model_value_completes_model_ids(cli, env):
    assert bash(cli, env, "runway-img config set model gpt_image_2") == [
        "gpt_image_2",
        "gpt_image_2_5_flare",
        "gpt_image_2_5_sunburst",
    ]
    assert bash(cli, env, "runway-img config set base-url ") == []


# What a completion request imports ---------------------------------------------------------

_PROBE = """
import io, json, os, sys
from runway_cli.cli import run
outputs = []
for request in json.loads(sys.argv[1]):  # one completion request after another, as a shell
    os.environ.update(request)
    real, sys.stdout = sys.stdout, io.StringIO()
    try:
        run([])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        out, sys.stdout = sys.stdout.getvalue(), real
    outputs.append([code, out])
heavy = ("requests", "urllib3", "rich.progress", "rich.live", "runway_cli.sandbox")
print(json.dumps({"outputs": outputs, "loaded": {name: name in sys.modules for name in heavy}}))
"""

# One request per kind of callback (catalog, history, profiles) and per shell: the candidates
# themselves are checked in-process above. All in one fresh process: what is loaded at its end
# is what any of them loaded.
_REQUESTS = [
    ("bash", "runway-img generate -m muse_image --ratio 1600", "1600:1600"),
    ("zsh", "runway-img status 0000000a", f'"{_id(10)}":"a prompt"'),
    ("fish", "runway-img generate --profile wo", "work\tkey stored"),
]


def test_completion_imports_no_http_client_live_display_or_sandbox(env, workdir):
    history(env).append("created", id=_id(10), prompt="a prompt")
    store_key(Paths.resolve(env).credentials, KEY, "work")
    requests = []
    for shell, line, _ in _REQUESTS:
        words = line.split()
        cword = len(words) if line.endswith(" ") else len(words) - 1
        requests.append(
            {
                "_RUNWAY_IMG_COMPLETE": f"complete_{shell}",
                "COMP_WORDS": line,
                "COMP_CWORD": str(cword),
                "_TYPER_COMPLETE_ARGS": line,
                "_TYPER_COMPLETE_FISH_ACTION": "get-args",
            }
        )
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(requests)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc
    answer = json.loads(proc.stdout)
    for (shell, _, expected), (code, out) in zip(_REQUESTS, answer["outputs"], strict=True):
        assert code == 0 and expected in out, (shell, code, out, proc.stderr)
    loaded = answer["loaded"]
    assert loaded == dict.fromkeys(loaded, False), loaded


def test_completion_module_imports_only_typer_at_load_time():
    """Everything else is imported inside the functions, when a completion asks."""
    source = (Path(__file__).resolve().parent.parent / "runway_cli/cli/completion.py").read_text()
    top_level = [
        line
        for line in source.splitlines()
        if line.startswith(("import ", "from ")) and "__future__" not in line
    ]
    assert top_level == ["import os", "from typing import TYPE_CHECKING", "import typer"]
