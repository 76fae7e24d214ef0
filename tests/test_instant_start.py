"""--version, --help, every command's --help and shell completion start without importing the
HTTP client, Rich's live displays or the sandbox (issue 10, "Instant start"). One process runs
them all: if none of the heavy modules is loaded after all of them, none of them loaded one."""

from __future__ import annotations

import json
import subprocess
import sys

from runway_cli.cli.app import COMMANDS

HEAVY = (
    "requests",
    "urllib3",
    "rich.progress",
    "rich.live",
    "runway_cli.sandbox",
    "runway_cli.api.client",
)
GROUPS = {"auth": ["login", "status", "list", "use", "logout"], "config": ["set", "unset", "list"]}

SCRIPT = """
import contextlib, io, json, os, sys
from runway_cli.cli import run

def quietly(args):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            run(args)
        except SystemExit:
            pass

for args in json.loads(sys.argv[1]):
    quietly(args)
os.environ.update(_RUNWAY_IMG_COMPLETE="complete_bash", COMP_WORDS="runway-img generate --model ", COMP_CWORD="3")
quietly([])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("requests", "urllib3", "rich", "runway_cli"))))
"""


def test_help_version_and_completion_import_nothing_heavy(env) -> None:
    lines = [["--version"], ["--help"]]
    for name in COMMANDS:
        lines += [[name, sub, "--help"] for sub in GROUPS.get(name, [])] or [[name, "--help"]]
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(lines)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    loaded = set(json.loads(out))
    assert not {m for m in loaded if m.startswith(HEAVY)}, sorted(loaded)
