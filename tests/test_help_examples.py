"""Every command's --help ends with one real example (issue 9, "Documentation")."""

from __future__ import annotations

import pytest

from runway_cli.cli.app import COMMANDS

GROUPS = {"auth": ["login", "status", "list", "use", "logout"], "config": ["set", "unset", "list"]}
COMMAND_LINES = [
    [name, *([sub] if sub else [])] for name in COMMANDS for sub in (GROUPS.get(name) or [None])
] + [["auth"], ["config"]]


@pytest.mark.parametrize("words", COMMAND_LINES, ids=" ".join)
def test_help_shows_a_real_example(cli, words: list[str]) -> None:
    r = cli(*words, "--help")
    assert r.code == 0, r
    [example] = [line.strip() for line in r.stdout.splitlines() if "Example: " in line]
    assert f"runway-img {' '.join(words)}" in example, example  # on one line: copyable


def test_the_top_level_help_shows_a_real_example(cli) -> None:
    r = cli("--help")
    assert r.code == 0, r
    assert '  Example: runway-img generate "a red fox" --sandbox -o fox.png\n' in r.stdout
