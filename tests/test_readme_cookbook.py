"""Every shell example in the README's cookbook runs, as written, against a sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _cookbook_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^### Cookbook\n(.*?)(?=^##)", text, re.S | re.M)
    assert section, "README has no '### Cookbook' section"
    return re.findall(r"```sh\n(.*?)```", section.group(1), re.S)


BLOCKS = _cookbook_blocks()


def test_the_cookbook_has_the_examples_scripts_need() -> None:
    joined = "\n".join(BLOCKS)
    for needle in ("while IFS= read -r", "path=$(", "| jq", "--no-wait", "-eq 7", "sandbox --port"):
        assert needle in joined, needle


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0][:40] for b in BLOCKS])
def test_cookbook_example_runs(block: str, api_env: dict[str, str], workdir: Path) -> None:
    env = {
        **api_env,
        # the console script installed next to this Python
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{api_env.get('PATH', '')}",
    }
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "error:" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    for count in re.findall(r"^\s*(\d+)\s*$", proc.stdout, re.M):
        assert int(count) > 0, proc.stdout  # `ls ... | wc -l` lines count real files
