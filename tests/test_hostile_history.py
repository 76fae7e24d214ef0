"""Hostile histories: a torn last line, a full disk during the append, records with fields of
the wrong type, and a newest entry with no id. No task id is ever lost, and ``download --last``
never saves another task's image under the new name."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runway_cli.sandbox import FaultRule
from tests.helpers import (
    CREATE,
    SOME_TASK_ID,
    UUID_RE,
    error_line,
    files_in,
    history,
    task_id_from,
)
from tests.hostile_support import files_no_bigger_than, quick_sandbox

sandbox = quick_sandbox  # tasks that end at once: these tests are about what surrounds them

SMALL = ("-m", "gemini_image3.1_flash", "-r", "512:512")  # a small image: fast, and under limits


def _history_file(home):
    return home / "data" / "runway-img" / "history.jsonl"


def _ids(cli, env):
    return [entry["id"] for entry in history(cli, env)]


@pytest.mark.parametrize("damage", ["no-final-newline", "cut-mid-record"])
def test_a_torn_last_line_never_swallows_the_next_task(
    cli, api_env, sandbox, home, workdir, damage
):
    first = cli("generate", "a first fox", "--no-wait", *SMALL, env=api_env)
    assert first.code == 0, first
    first_id = first.stdout.strip()
    path = _history_file(home)
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    if damage == "no-final-newline":  # the record is whole, its newline was never written
        path.write_bytes(raw[:-1])
    else:  # a later append was cut short by a crash or a full disk
        torn = json.dumps({"event": "created", "id": SOME_TASK_ID, "prompt": "a lost fox"})
        path.write_bytes(raw + torn[: len(torn) // 2].encode())

    second = cli("generate", "a second fox", "-o", "second.png", *SMALL, env=api_env)
    assert second.code == 0, second
    second_id = task_id_from(second.stderr)

    listed = cli("history", "--json", env=api_env)
    assert listed.code == 0, listed
    ids = [t["id"] for t in json.loads(listed.stdout)["tasks"]]
    assert ids == [second_id, first_id]  # both ids kept, newest first
    skipped = "Skipped 1 unreadable line(s)" in listed.stderr
    assert skipped == (damage == "cut-mid-record"), listed

    last = cli("download", "--last", "-o", "last.png", env=api_env)
    assert last.code == 0, last
    assert f"Newest task in history: {second_id}" in last.stderr
    assert (workdir / "last.png").read_bytes() == sandbox.image_bytes(second_id, 0)


def test_a_full_disk_during_the_append_loses_no_id_and_misleads_no_download(
    cli, api_env, sandbox, home, workdir
):
    older = cli("generate", "an older fox", "--no-wait", *SMALL, env=api_env)
    older_id = older.stdout.strip()
    # The history is padded so that the image fits under the file-size limit but the history
    # append is cut after a few bytes: a nearly full disk, as `ulimit -f` makes one.
    path = _history_file(home)
    with path.open("ab") as fh:
        fh.write(b"\n" * (1024 * 1024))  # more than the 512x512 image
    padding = path.stat().st_size
    proc = subprocess.run(
        [sys.executable, "-m", "runway_cli", "generate", "a fox", "-q", "-o", "fox.png", *SMALL],
        env=api_env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=files_no_bigger_than(padding + 24),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == "fox.png\n"
    [task_id] = {e["path"].rsplit("/", 1)[1] for e in sandbox.requests if e["method"] == "GET"
                 and e["path"].startswith("/v1/tasks/")} - {older_id}  # fmt: skip
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings and "Could not write the task history" in warnings[0], proc.stderr
    assert task_id in proc.stderr  # -q hides notes, never the id of a task the history lost
    assert len(path.read_bytes()) == padding + 24  # a torn fragment was left behind

    # The newest record is the torn one: --last must not fetch the older task as the new one.
    last = cli("download", "--last", "-o", "new.png", env=api_env)
    assert last.code == 2, last
    assert "cut short" in error_line(last.stderr) and older_id not in last.stderr
    assert files_in(workdir) == ["fox.png"]

    # The torn fragment is counted, never glued to what comes next.
    after = cli("generate", "a second fox", "--no-wait", *SMALL, env=api_env)
    assert after.code == 0, after
    listed = cli("history", "--json", env=api_env)
    assert "Skipped 1 unreadable line(s)" in listed.stderr, listed
    ids = [t["id"] for t in json.loads(listed.stdout)["tasks"]]
    assert ids == [after.stdout.strip(), older_id]
    last = cli("download", "--last", "-o", "new.png", env=api_env)
    assert last.code == 0, last
    assert f"Newest task in history: {ids[0]}" in last.stderr


def test_records_with_wrong_typed_fields_are_skipped_not_fatal(
    cli, api_env, sandbox, home, workdir
):
    made = cli("generate", "a fox", "--no-wait", *SMALL, env=api_env)
    task_id = made.stdout.strip()
    path = _history_file(home)
    bad = [
        {"event": "created", "time": "2024-01-01T00:00:00Z", "id": SOME_TASK_ID, "prompt": 42},
        {"event": "created", "time": "2024-01-01T00:00:00Z", "id": [SOME_TASK_ID]},
        {"event": "created", "time": "2024-01-01T00:00:00Z", "id": SOME_TASK_ID, "params": [1]},
        {"event": "finished", "time": "2024-01-01T00:00:00Z", "id": task_id, "files": "fox.png"},
        {"event": "finished", "time": "2024-01-01T00:00:00Z", "id": task_id, "cost": "5"},
        {"event": "created", "time": 1700000000, "id": SOME_TASK_ID},
        [1, 2],
        None,
    ]
    with path.open("a") as fh:
        for rec in bad:
            fh.write(json.dumps(rec) + "\n")
    warning = f"Skipped {len(bad)} unreadable line(s)"

    shown = cli("history", env=api_env)
    assert shown.code == 0, shown
    assert warning in shown.stderr and task_id in shown.stdout
    assert SOME_TASK_ID not in shown.stdout

    for args, name in (([task_id], "by-id.png"), (["--last"], "last.png")):
        got = cli("download", *args, "-o", name, env=api_env)
        assert got.code == 0, got
        assert got.stderr.count(warning) == 1, got
        assert (workdir / name).read_bytes() == sandbox.image_bytes(task_id, 0)
    assert _ids(cli, api_env) == [task_id]


def test_download_last_refuses_when_the_newest_create_has_no_id(cli, api_env, sandbox, workdir):
    older = cli("generate", "an older fox", "-o", "older.png", *SMALL, env=api_env)
    assert older.code == 0, older
    older_id = task_id_from(older.stderr)
    sandbox.faults.add(FaultRule(action="drop_after", method="POST", path=CREATE))
    lost = cli("generate", "a new fox", "-o", "new.png", *SMALL, env=api_env)
    assert lost.code == 7, lost
    assert "may have reached Runway" in error_line(lost.stderr)
    entries = history(cli, api_env)
    assert [e["status"] for e in entries] == ["UNKNOWN", "SUCCEEDED"]
    assert entries[0]["id"] is None and entries[0]["prompt"] == "a new fox"

    gets_before = sandbox.count("GET", "/v1/tasks/")
    refused = cli("download", "--last", "-o", "new.png", env=api_env)
    assert refused.code == 2, refused
    line = error_line(refused.stderr)
    assert "newest task in the history has no id" in line
    assert "runway-img download TASK_ID" in line  # how to pick a task explicitly
    assert older_id not in refused.stderr + refused.stdout
    assert sandbox.count("GET", "/v1/tasks/") == gets_before  # nothing fetched
    assert files_in(workdir) == ["older.png"]  # the older image is not saved as new.png
    assert UUID_RE.search(refused.stdout) is None
