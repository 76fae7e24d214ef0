"""The shipped completion scripts match what the CLI generates today, and completion works.

Both run in-process: the shell asks `runway-img` with `_RUNWAY_IMG_COMPLETE` set, which the app
answers the same way whichever entry point started it (the entry point is tested in
test_process_level.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_current(cli, env, shell):
    r = cli(env={**env, "_RUNWAY_IMG_COMPLETE": f"source_{shell}"})
    assert r.code == 0, r
    assert r.stdout == (ROOT / "completions" / f"runway-img.{shell}").read_text()


def test_bash_completion_offers_commands(cli, env):
    r = cli(
        env={
            **env,
            "_RUNWAY_IMG_COMPLETE": "complete_bash",
            "COMP_WORDS": "runway-img ge",
            "COMP_CWORD": "1",
        }
    )
    assert r.code == 0, r
    assert r.stdout.split() == ["generate"]
