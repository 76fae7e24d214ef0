"""The README's worked batch example runs as written (in-process, against --sandbox): each
command exits as its comment says and prints the lines the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CliRun

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Batch\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README has no '## Batch' section"
    block = re.search(r"```sh\n(.*?)```", section.group(1), re.S)
    assert block, "the Batch section has no example"
    return block.group(1)


def test_the_worked_example_runs_as_written(
    cli: CliRun, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWAY_IMG_SANDBOX_TASK_SECONDS", "0.1")
    commands: list[tuple[str, list[str]]] = []  # (command, the comment lines after it)
    for line in _example().replace("\\\n", " ").splitlines():
        if line.startswith("#"):
            commands[-1][1].append(line.lstrip("# ").rstrip())
        elif line.strip():
            commands.append((line, []))
    printf, *batches = commands
    subprocess.run(["bash", "-c", printf[0]], cwd=workdir, check=True)
    assert len(batches) == 3
    for command, shown in batches:
        words = shlex.split(command, comments=True)
        assert words[0] == "runway-img"
        result = cli(*words[1:])
        expected = re.search(r"# exit (\d+)", command)
        assert result.code == int(expected.group(1) if expected else 0), result
        for line in shown:
            for part in (p.strip() for p in line.split("(...)")):
                if part and not part.startswith("spent or in flight"):
                    assert part in " ".join(result.stderr.split()), (part, result.stderr)
    assert (workdir / "renders" / "index.html").is_file()
    assert sorted(p.name for p in (workdir / "renders").glob("harbour-*")) == [
        "harbour-1.png",
        "harbour-2.png",
    ]
