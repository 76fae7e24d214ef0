"""The architecture, checked: who may import what, module size, and the sandbox's independence.

ruff's banned-api rules enforce most of this while editing; this test reads every import
(function-level ones too) so nothing slips past a per-file exception.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "runway_cli"
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _imports(path: Path) -> frozenset[str]:
    """Absolute names of everything ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def _top(name: str) -> str:
    return name.split(".")[0]


# third-party package -> the only modules that may import it
ALLOWED_THIRD_PARTY = {
    "typer": lambda mod: mod.startswith("runway_cli.cli"),
    "rich": lambda mod: mod == "runway_cli.render" or mod.startswith("runway_cli.render."),
    "requests": lambda mod: mod in ("runway_cli.api.client", "runway_cli.api.classify"),
    "urllib3": lambda mod: mod in ("runway_cli.api.client", "runway_cli.api.classify"),
    "platformdirs": lambda mod: mod == "runway_cli.settings",
}


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_third_party_packages_stay_in_their_layer(path: Path) -> None:
    module = _name(path)
    for name in _imports(path):
        rule = ALLOWED_THIRD_PARTY.get(_top(name))
        assert rule is None or rule(module), f"{module} imports {name}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_nothing_below_the_command_layer_imports_it(path: Path) -> None:
    module = _name(path)
    if module.startswith("runway_cli.cli") or module == "runway_cli.__main__":
        return
    assert not any(n.startswith("runway_cli.cli") for n in _imports(path)), module


@pytest.mark.parametrize(
    "path", [p for p in _modules() if not _name(p).startswith("runway_cli.cli")], ids=_name
)
def test_only_the_rendering_module_and_commands_import_render(path: Path) -> None:
    module = _name(path)
    if module.startswith("runway_cli.render"):
        return
    assert not any(n.startswith("runway_cli.render") for n in _imports(path)), (
        f"{module} prints: report instead"
    )


@pytest.mark.parametrize(
    "path", [p for p in _modules() if _name(p).startswith("runway_cli.api")], ids=_name
)
def test_the_api_client_knows_nothing_of_the_workflow_above_it(path: Path) -> None:
    allowed = ("runway_cli.api", "runway_cli.errors", "runway_cli.wire")
    for name in _imports(path):
        if _top(name) == "runway_cli" and name != "runway_cli":
            assert name.startswith(allowed) or name == "runway_cli.__version__", name


SANDBOX = [p for p in _modules() if _name(p).startswith("runway_cli.sandbox")]


@pytest.mark.parametrize("path", SANDBOX, ids=_name)
def test_the_sandbox_imports_only_the_standard_library_and_the_wire_constants(
    path: Path,
) -> None:
    for name in _imports(path):
        top = _top(name)
        if top == "runway_cli":
            assert name.startswith(("runway_cli.sandbox", "runway_cli.wire")), name
        else:
            assert top in sys.stdlib_module_names or top == "__future__", name


def test_the_sandbox_lint_config_bans_every_other_module() -> None:
    config = tomllib.loads((PACKAGE / "sandbox" / "ruff.toml").read_text(encoding="utf-8"))
    banned = set(config["lint"]["flake8-tidy-imports"]["banned-api"])
    others = {
        _name(p).split(".")[1]
        for p in _modules()
        if _name(p).count(".") >= 1 and not _name(p).startswith("runway_cli.sandbox")
    } - {"wire", "__main__"}
    missing = sorted(f"runway_cli.{m}" for m in others if f"runway_cli.{m}" not in banned)
    assert not missing, f"add to runway_cli/sandbox/ruff.toml: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_source_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines"
