"""``history --clear`` and ``history --prune-older-than DAYS``, end to end: prompts are kept in
plain text, so users must be able to remove them. What is removed and what is kept (every line
of an old task, its later events too; a line that is not a record stays), a question on a terminal (no keeps everything; --yes
skips it), none off a terminal, and bad combinations refused before anything is touched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runway_cli import history as history_module
from runway_cli.history import History
from tests.helpers import error_line
from tests.terminal_support import run_on_terminal

OLD = "0b1e2c3d-0000-4000-8000-000000000001"
MID = "0b1e2c3d-0000-4000-8000-000000000002"
NEW = "0b1e2c3d-0000-4000-8000-000000000003"


def _days_ago(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))


@pytest.fixture
def store(home: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    """The real history file, written by History itself at chosen times: a task 40 days old
    (with a later event), a create of unknown outcome 35 days old, a task 10 days old (cancelled
    a day later), one from today, and a line that is not a record."""
    path = home / "data" / "runway-img" / "history.jsonl"
    store = History(path)

    def at(days: float, event: str, **fields: object) -> None:
        with monkeypatch.context() as m:
            m.setattr(history_module, "_now", lambda: _days_ago(days))
            assert store.append(event, **fields) is None

    at(40, "created", id=OLD, model="gen4_image", prompt="my old secret")
    at(39, "finished", id=OLD, status="SUCCEEDED", files=["/tmp/old.png"])
    at(35, "ambiguous", id=None, model="gen4_image", prompt="an old unknown", note="timeout")
    at(10, "created", id=MID, model="gen4_image", prompt="ten days ago")
    at(9, "cancelled", id=MID, note="cancelled while RUNNING")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("this is not a record\n")
    at(0, "created", id=NEW, model="gen4_image", prompt="today")
    at(0, "finished", id=NEW, status="SUCCEEDED", files=["/tmp/new.png"])
    return store


def _ids(cli) -> list[str | None]:
    r = cli("history", "--json")
    assert r.code == 0, r
    return [entry["id"] for entry in json.loads(r.stdout)["tasks"]]


def test_prune_then_clear_off_a_terminal(cli, store):
    assert _ids(cli) == [NEW, MID, None, OLD]

    r = cli("history", "--prune-older-than", "30")  # no question off a terminal
    assert r.code == 0, r
    assert r.stdout == ""
    assert r.stderr == "Removed 2 task(s) from the history; 2 kept.\n"
    assert _ids(cli) == [NEW, MID]
    text = store.path.read_text()
    assert "my old secret" not in text and "an old unknown" not in text  # the prompts are gone
    assert OLD not in text  # its later event too
    assert "this is not a record" in text  # a line it cannot read is kept: its age is unknown
    entries = store.read().entries
    assert [(e.id, e.status) for e in entries] == [(NEW, "SUCCEEDED"), (MID, "CANCELLED")]

    r = cli("history", "--prune-older-than", "5", "--yes", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout) == {"removed": 1, "kept": 1}
    assert _ids(cli) == [NEW]

    r = cli("history", "--clear", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout) == {"removed": 1, "kept": 0}
    assert store.path.read_bytes() == b""
    r = cli("history")
    assert r.code == 0 and r.stdout == "" and "No tasks yet" in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(("--clear", "--prune-older-than", "3"), "not both", id="both"),
        pytest.param(("--prune-older-than", "-1"), "days >= 0", id="negative"),
        pytest.param(("--prune-older-than", "nan"), "days >= 0", id="nan"),
    ],
)
def test_bad_removals_are_refused_and_touch_nothing(cli, store, args, needle):
    before = store.path.read_bytes()
    r = cli("history", *args, "--yes")
    assert r.code == 2, r
    assert needle in error_line(r.stderr)
    assert store.path.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "answer", "question", "left"),
    [
        pytest.param(["--clear"], "n", "every task", [NEW, MID, None, OLD], id="clear-no"),
        pytest.param(
            ["--prune-older-than", "30"], "y", "tasks created more than 30 days ago",
            [NEW, MID], id="prune-yes",
        ),
        pytest.param(["--clear", "--yes"], None, None, [], id="yes-asks-nothing"),
    ],
)  # fmt: skip
def test_on_a_terminal_removing_is_asked_first(
    cli, store, monkeypatch, args, answer, question, left
):
    before = store.path.read_bytes()
    run = run_on_terminal(monkeypatch, "history", *args, stdin=True, answer=answer)
    assert run.code == 0, run.screen
    assert run.stdout == b""  # the question is talk: stdout stays data
    if question is None:
        assert "[y/N]" not in run.screen
    else:
        assert f"Remove {question} from {store.path}? [y/N]: {answer}\r\n" in run.screen
    assert _ids(cli) == left
    if answer == "n":
        assert "Nothing was removed." in run.screen
        assert store.path.read_bytes() == before  # not a byte changed
    else:
        assert "task(s) from the history" in run.screen
