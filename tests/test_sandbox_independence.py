"""The sandbox is an independent oracle: it uses none of the client's code.

It may import only the standard library, its own modules and ``runway_cli.wire`` (names and
values both sides share); it reads the catalog as JSON data. Checked statically (every import
in every module) and at run time (what a working sandbox has loaded).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import runway_cli.sandbox

SANDBOX = Path(runway_cli.sandbox.__file__).parent
ALLOWED_FROM_PACKAGE = {"runway_cli.wire"}
MODULES = sorted(SANDBOX.glob("*.py"))


def imported_names(path: Path) -> list[tuple[str, int]]:
    """(absolute module name, level) for every import; relative ones resolved in the sandbox."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ["runway_cli", "sandbox"][: max(0, 2 - (node.level - 1))] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.append((module, node.level))
    return names


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_sandbox_modules_import_nothing_else_from_the_package(path: Path) -> None:
    for name, level in imported_names(path):
        if name.startswith("runway_cli.sandbox"):
            assert level == 1, f"{path.name}: use a relative import for {name}"
        elif name == "runway_cli" or name.startswith("runway_cli."):
            assert name in ALLOWED_FROM_PACKAGE, f"{path.name} imports {name}"


def test_no_sandbox_module_is_over_500_lines() -> None:
    for path in MODULES:
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, path.name


def test_a_working_sandbox_loads_nothing_else_from_the_package() -> None:
    script = """
import sys, requests
from runway_cli.sandbox import SandboxServer
with SandboxServer(keys=["key_x"]) as s:
    h = {"Authorization": "Bearer key_x", "X-Runway-Version": "2024-11-06"}
    r = requests.post(s.base_url + "/v1/text_to_image", headers=h, timeout=5,
                      json={"model": "gen4_image", "promptText": "a fox", "ratio": "720:720"})
    assert r.status_code == 200, r.text
    assert requests.get(s.base_url + "/v1/tasks/" + r.json()["id"], headers=h, timeout=5).ok
print("\\n".join(sorted(m for m in sys.modules if m.split(".")[0] == "runway_cli")))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    others = [m for m in out if m not in ("runway_cli", "runway_cli.wire", "runway_cli.sandbox")]
    assert others and all(m.startswith("runway_cli.sandbox.") for m in others), out
