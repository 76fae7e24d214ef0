"""The shipped completion scripts match what the CLI generates today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_current(shell, env):
    exe = Path(sys.executable).parent / "runway-img"
    out = subprocess.run(
        [str(exe)],
        env={**env, "_RUNWAY_IMG_COMPLETE": f"source_{shell}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    assert out.stdout == (ROOT / "completions" / f"runway-img.{shell}").read_text()


def test_bash_completion_offers_commands(env):
    exe = Path(sys.executable).parent / "runway-img"
    out = subprocess.run(
        [str(exe)],
        env={
            **env,
            "_RUNWAY_IMG_COMPLETE": "complete_bash",
            "COMP_WORDS": "runway-img ge",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert "generate" in out.stdout.split()
