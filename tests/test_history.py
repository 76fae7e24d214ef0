"""The local history file: folding events into tasks, tolerance of torn and foreign lines,
concurrent writers, and never breaking a paid-for run."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from runway_cli import history as history_module
from runway_cli.errors import UsageError
from runway_cli.history import History, Snapshot


@pytest.fixture
def store(tmp_path: Path) -> History:
    return History(tmp_path / "h.jsonl")


def lines(store: History) -> list[dict]:
    return [json.loads(line) for line in store.path.read_text().splitlines()]


def test_concurrent_writers_lose_nothing(store: History) -> None:
    """Each writer opens the file itself, as separate processes do; flock serialises them."""

    def write(tag: str) -> None:
        for i in range(100):
            assert store.append("created", id=f"{tag}-{i}", prompt="p" * 3000) is None

    writers = [threading.Thread(target=write, args=(tag,)) for tag in "abcd"]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(30)
    records = lines(store)  # every line parses: none interleaved
    assert len(records) == 400
    snapshot = store.read()
    assert snapshot.bad_lines == 0 and len({e.id for e in snapshot.entries}) == 400


def test_events_fold_into_tasks_newest_first(store: History) -> None:
    store.append("created", id="t1", model="gen4_image", prompt="one", ratio="1280:720")
    store.append("created", id="t2", model="gen4_image", prompt="two", params={"seed": 3})
    store.append("finished", id="t1", status="SUCCEEDED", cost=5, files=["/x/one.png"])
    store.append("ambiguous", id=None, model="gen4_image", prompt="three", note="dropped")
    rows = store.read().entries
    assert [r.prompt for r in rows] == ["three", "two", "one"]
    one = rows[2]
    assert (one.status, one.cost, one.files, one.ratio) == (
        "SUCCEEDED",
        5,
        ["/x/one.png"],
        "1280:720",
    )
    assert one.updated is not None
    assert rows[1].status == "CREATED" and rows[1].params == {"seed": 3}
    assert rows[0].id is None and rows[0].status == "UNKNOWN" and rows[0].note == "dropped"


def test_later_events_keep_what_they_do_not_say(store: History) -> None:
    store.append("created", id="t1", prompt="one")
    store.append("finished", id="t1", status="SUCCEEDED", cost=5, files=["/a.png"], note="n")
    store.append("finished", id="t1", status=None, cost=None, files=[], note=None)
    entry = store.read().find("t1")
    assert entry is not None
    assert (entry.status, entry.cost, entry.files, entry.note) == ("SUCCEEDED", 5, ["/a.png"], "n")


def test_finished_task_not_created_here_still_shows(store: History) -> None:
    store.append("finished", id="t9", status="SUCCEEDED", files=["/b.png"])
    (entry,) = store.read().entries
    assert entry.id == "t9" and entry.status == "SUCCEEDED" and entry.files == ["/b.png"]


@pytest.mark.parametrize(("event", "status"), [("cancelled", "CANCELLED"), ("deleted", "DELETED")])
def test_cancel_and_delete_events_set_the_status(store: History, event: str, status: str) -> None:
    store.append("created", id="t1", prompt="one")
    store.append(event, id="t1", note=f"{event} while RUNNING")
    entry = store.read().find("t1")
    assert entry is not None
    assert (entry.status, entry.note, entry.prompt) == (status, f"{event} while RUNNING", "one")


def test_find(store: History) -> None:
    store.append("created", id="t1", prompt="one")
    snapshot = store.read()
    assert snapshot.find("t1") is snapshot.entries[0]
    assert snapshot.find("nope") is None


def test_missing_file_is_an_empty_history(store: History) -> None:
    assert store.read() == Snapshot([])


def test_unreadable_history_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "h.jsonl"
    folder.mkdir()
    with pytest.raises(UsageError, match=r"history file .* is not a regular file") as info:
        History(folder).read()
    assert "RUNWAY_IMG_HISTORY" in (info.value.hint or "")


def test_a_device_or_fifo_as_the_history_is_never_read_or_written(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        History(fifo).read()  # reading a FIFO with no writer would hang
    assert History(fifo).append("created", id=None) == "it is not a regular file"
    # /dev/null would swallow every record: the caller is told, and warns with the task id
    assert History(Path(os.devnull)).append("created", id=None) == "it is not a regular file"


def test_torn_or_foreign_lines_are_skipped_and_counted(store: History) -> None:
    store.append("created", id="t1", prompt="one")
    with store.path.open("a") as fh:
        fh.write('{"event": "created", "id": "t2", "pro\n[1, 2]\n\n')
    store.append("created", id="t3", prompt="three")
    snapshot = store.read()
    assert [r.id for r in snapshot.entries] == ["t3", "t1"]
    assert snapshot.bad_lines == 2  # blank lines are not counted


def test_append_after_a_torn_last_line_starts_a_fresh_line(store: History) -> None:
    store.append("created", id="t1")
    with store.path.open("a") as fh:
        fh.write('{"event": "crea')  # a writer died mid-line
    store.append("created", id="t2")
    assert [r.id for r in store.read().entries] == ["t2", "t1"]


def test_a_torn_last_line_is_flagged_until_the_next_append(store: History) -> None:
    store.append("created", id="t1")
    assert not store.read().torn_tail
    with store.path.open("a") as fh:
        fh.write('{"event": "created", "id": "t2", "pro\n\n')  # cut, then blank lines
    assert store.read().torn_tail  # the newest record may be the lost one
    store.path.write_text(store.path.read_text() + "[1, 2]\n")
    assert not store.read().torn_tail  # a foreign line is not a cut write
    store.append("created", id="t3")
    assert not store.read().torn_tail


BAD_RECORDS = [
    {"event": "renamed", "id": "t", "time": "x"},
    {"event": "created", "id": 5, "time": "x"},
    {"event": "created", "id": "t"},  # no time
    {"event": "created", "id": "t", "time": "x", "cost": True},
    {"event": "created", "id": "t", "time": "x", "cost": "5"},
    {"event": "created", "id": "t", "time": "x", "files": ["a", 3]},
    {"event": "created", "id": "t", "time": "x", "files": "a"},
    {"event": "created", "id": "t", "time": "x", "params": []},
    {"event": "created", "id": "t", "time": "x", "sandbox": "yes"},
    {"event": "finished", "id": None, "time": "x"},
    {"event": "cancelled", "time": "x"},
    {"event": "deleted", "id": 3, "time": "x"},
    ["created"],
    "created",
]


@pytest.mark.parametrize("record", BAD_RECORDS, ids=range(len(BAD_RECORDS)))
def test_records_of_the_wrong_shape_are_skipped(store: History, record: object) -> None:
    store.path.write_text(json.dumps(record) + "\n")
    assert store.read() == Snapshot([], bad_lines=1)


def test_history_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "h.jsonl"
    assert History(path).append("created", id="t1") is None
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_unwritable_history_never_breaks_a_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    problem = History(blocker / "h.jsonl").append("created", id="t1")  # must not raise
    assert problem  # says why, for the caller's warning
    assert not (blocker / "h.jsonl").exists()


def test_a_short_write_is_reported_not_ignored(
    store: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_module.os, "write", lambda fd, data: 0)
    assert store.append("created", id="t1") == "short write (is the disk full?)"


def test_entry_json_has_the_documented_fields(store: History) -> None:
    store.append("created", id="t1", model="m", prompt="p", ratio="1:1", sandbox=True)
    record = store.read().entries[0].to_json()
    assert set(record) >= {
        "id",
        "created",
        "model",
        "prompt",
        "ratio",
        "params",
        "status",
        "cost",
        "files",
        "note",
        "updated",
    }
    assert record["sandbox"] is True and record["status"] == "CREATED"


# --- clear and prune -----------------------------------------------------------------------------

DAY = 86400.0
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def stamp(days_ago: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - days_ago * DAY))


def write_records(store: History, *records: dict) -> None:
    store.path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_prune_drops_old_tasks_with_all_their_lines(store: History) -> None:
    write_records(
        store,
        {"event": "created", "id": "old", "time": stamp(40)},
        {"event": "ambiguous", "id": None, "time": stamp(35), "note": "reset"},
        {"event": "created", "id": "new", "time": stamp(2)},
        {"event": "finished", "id": "old", "time": stamp(1), "status": "SUCCEEDED"},
        {"event": "finished", "id": "new", "time": stamp(1), "status": "SUCCEEDED"},
    )
    assert store.prune(30, now=NOW) == (2, 1)
    snapshot = store.read()
    assert [(e.id, e.status) for e in snapshot.entries] == [("new", "SUCCEEDED")]
    assert snapshot.bad_lines == 0


def test_prune_never_deletes_a_line_it_cannot_read(store: History) -> None:
    today = {"event": "created", "id": "today", "time": stamp(0), "prompt": "a fox"}
    mistyped = {"event": "created", "id": "typed", "time": stamp(0), "params": "not a dict"}
    store.path.write_text(
        "\ufeff"
        + json.dumps(today)
        + "\n"  # an editor's BOM on the first line
        + json.dumps(mistyped)
        + "\n"
        + "not a record\n"
        + json.dumps({"event": "created", "id": "old", "time": stamp(40)})
        + "\n"
    )
    assert store.prune(30, now=NOW) == (1, 1)  # old removed; today's read through its BOM
    lines = store.path.read_text().splitlines()
    assert len(lines) == 3 and "not a record" in lines and json.dumps(mistyped) in lines
    assert [e.id for e in store.read().entries] == ["today"]  # the others: skipped, counted


def test_prune_keeps_everything_newer(store: History) -> None:
    write_records(store, {"event": "created", "id": "a", "time": stamp(1)})
    assert store.prune(30, now=NOW) == (0, 1)
    assert [e.id for e in store.read().entries] == ["a"]


def test_clear_removes_every_task(store: History) -> None:
    store.append("created", id="t1")
    store.append("created", id="t2")
    store.append("finished", id="t1", status="SUCCEEDED")
    assert store.clear() == 2
    assert store.read() == Snapshot([])
    assert store.append("created", id="t3") is None  # the file is still usable
    assert [e.id for e in store.read().entries] == ["t3"]


def test_clear_and_prune_without_a_file(store: History) -> None:
    assert store.clear() == 0
    assert store.prune(1) == (0, 0)
    assert not store.path.exists()


def test_prune_of_an_unopenable_history_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "h.jsonl"
    folder.mkdir()
    with pytest.raises(UsageError, match="Cannot open"):
        History(folder).prune(1)


def test_an_append_under_a_file_says_which_file_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    why = History(tmp_path / "afile" / "sub" / "history.jsonl").append("created", id="t1")
    assert why == f"{tmp_path / 'afile'} is a file, not a folder"


def test_a_prompt_with_a_line_separator_stays_one_record(store: History) -> None:
    assert store.append("created", id="t1", prompt="a fox\u2028in snow") is None
    snapshot = store.read()
    assert [e.prompt for e in snapshot.entries] == ["a fox\u2028in snow"]
    assert snapshot.bad_lines == 0
    assert store.prune(30) == (0, 1) and len(store.path.read_bytes().split(b"\n")) == 2


def test_prune_keeps_a_task_any_of_whose_starts_is_recent_or_undated(store: History) -> None:
    write_records(
        store,
        {"event": "created", "id": "a", "time": stamp(40)},
        {"event": "created", "id": "a", "time": stamp(0)},  # the same id again, today
        {"event": "created", "id": "b", "time": stamp(40)},
        {"event": "created", "id": "b", "time": ""},  # a date it cannot read
        {"event": "created", "id": "c", "time": stamp(40)},
    )
    with store.path.open("ab") as fh:
        fh.write(b"\xff\xfe not utf-8\n")
    assert store.prune(30, now=NOW) == (1, 4)
    data = store.path.read_bytes()
    assert b'"c"' not in data and data.count(b'"a"') == 2 and data.count(b'"b"') == 2
    assert b"\xff\xfe not utf-8\n" in data  # kept byte for byte
