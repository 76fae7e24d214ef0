"""The local history file: folding events, tolerance of torn lines, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os

from runway_cli import history


def _writer(path: str, tag: str, n: int) -> None:
    os.environ[history.HISTORY_ENV] = path
    for i in range(n):
        history.append("created", id=f"{tag}-{i}", model="gen4_image", prompt="p" * 2000)


def test_concurrent_writers_lose_nothing(tmp_path, monkeypatch):
    path = tmp_path / "h.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), tag, 150)) for tag in "abcd"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 600
    assert all(json.loads(line)["event"] == "created" for line in lines)  # none interleaved
    monkeypatch.setenv(history.HISTORY_ENV, str(path))
    assert len({e.id for e in history.entries()}) == 600


def test_events_fold_into_tasks_newest_first(tmp_path, monkeypatch):
    monkeypatch.setenv(history.HISTORY_ENV, str(tmp_path / "h.jsonl"))
    history.append("created", id="t1", model="gen4_image", prompt="one", ratio="1280:720")
    history.append("created", id="t2", model="gen4_image", prompt="two", ratio="1280:720")
    history.append("finished", id="t1", status="SUCCEEDED", cost=5, files=["/x/one.png"])
    history.append("ambiguous", id=None, model="gen4_image", prompt="three", note="dropped")
    rows = history.entries()
    assert [r.prompt for r in rows] == ["three", "two", "one"]
    assert rows[2].status == "SUCCEEDED" and rows[2].cost == 5 and rows[2].files == ["/x/one.png"]
    assert rows[0].id is None and rows[0].status == "UNKNOWN" and rows[0].note == "dropped"
    assert history.last_task_id() == "t2"


def test_torn_or_foreign_lines_are_skipped(tmp_path, monkeypatch):
    path = tmp_path / "h.jsonl"
    monkeypatch.setenv(history.HISTORY_ENV, str(path))
    history.append("created", id="t1", prompt="one")
    with path.open("a") as fh:
        fh.write('{"event": "created", "id": "t2", "pro\n[1, 2]\n')
    history.append("created", id="t3", prompt="three")
    assert [r.id for r in history.entries()] == ["t3", "t1"]


def test_history_file_is_private(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "h.jsonl"
    monkeypatch.setenv(history.HISTORY_ENV, str(path))
    history.append("created", id="t1")
    assert path.stat().st_mode & 0o777 == 0o600


def test_unwritable_history_never_breaks_a_run(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(history.HISTORY_ENV, str(blocker / "h.jsonl"))
    history.append("created", id="t1")  # must not raise
    assert not (blocker / "h.jsonl").exists()
