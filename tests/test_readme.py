"""The README's Quick start is exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README has no '## Quick start' section"
    return [
        block.strip()
        for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", section.group(1), re.S)
    ]


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    commands = _quick_start_commands()
    assert len(commands) == 2
    first, second = commands
    assert "runway-img generate" in first and "--sandbox" in first and "-o " in first
    assert second in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
