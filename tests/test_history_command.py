"""The local task history: written before waiting, updated as tasks end, listed by `history`,
and the source of `download --last`."""

from __future__ import annotations

import json

from runway_cli.sandbox import FaultRule
from tests.helpers import CREATE, error_line, history, png, task_id_from


def test_history_records_tasks_and_download_last(cli, api_env, workdir):
    a = cli("generate", "first prompt", "-o", "a.png", env=api_env)
    b = cli("generate", "second prompt [sandbox:fail]", env=api_env)
    c = cli("generate", "third prompt", "--no-wait", env=api_env)
    assert (a.code, b.code, c.code) == (0, 4, 0)
    rows = history(cli, api_env)
    assert [r["prompt"] for r in rows] == [
        "third prompt",
        "second prompt [sandbox:fail]",
        "first prompt",
    ]
    assert [r["status"] for r in rows] == ["CREATED", "FAILED", "SUCCEEDED"]
    assert rows[2]["files"] == [str(workdir / "a.png")] and rows[2]["cost"] == 5
    assert rows[0]["id"] == c.stdout.strip()
    d = cli("download", "--last", env=api_env)
    assert d.code == 0, d
    assert d.stdout.strip() == f"{c.stdout.strip()}.png"
    one = json.loads(cli("history", "--json", "-n", "1", env=api_env).stdout)["tasks"]
    assert len(one) == 1 and one[0]["status"] == "SUCCEEDED"
    assert one[0]["files"] == [str(workdir / f"{c.stdout.strip()}.png")]
    text = cli("history", env=api_env).stdout
    assert "third prompt" in text and "FAILED" in text


def test_history_is_written_before_waiting(cli, api_env):
    r = cli("generate", "a fox [sandbox:hang]", "--timeout", "0.2", env=api_env)
    assert r.code == 6, r
    rows = history(cli, api_env)
    assert rows[0]["id"] == task_id_from(r.stderr) and rows[0]["status"] == "CREATED"


def test_download_last_with_empty_history(cli, api_env, sandbox):
    r = cli("download", "--last", env=api_env)
    assert r.code == 2, r
    assert "No tasks in the local history" in error_line(r.stderr)
    assert sandbox.requests == []


def test_download_last_refuses_a_newest_entry_without_an_id(cli, api_env, sandbox):
    ok = cli("generate", "an older fox", "--no-wait", env=api_env)
    assert ok.code == 0, ok
    sandbox.faults.add(FaultRule(action="status", status=500, method="POST", path=CREATE))
    unknown = cli("generate", "a fox", env=api_env)
    assert unknown.code == 7, unknown
    assert history(cli, api_env)[0]["status"] == "UNKNOWN"
    text = cli("history", env=api_env).stdout.splitlines()
    assert "UNKNOWN" in text[0] and "the task may have been created" in text[0]  # newest first
    assert "CREATED" in text[1] and "an older fox" in text[1]
    before = len(sandbox.requests)
    r = cli("download", "--last", env=api_env)
    assert r.code == 2, r
    assert "The newest task in the history has no id" in error_line(r.stderr)
    assert "runway-img download TASK_ID" in r.stderr  # the hint: pick one explicitly
    assert len(sandbox.requests) == before  # not silently the older task


def test_unreadable_history_is_a_message(cli, api_env, workdir):
    folder = workdir / "hist"
    folder.mkdir()
    env = {**api_env, "RUNWAY_IMG_HISTORY": str(folder)}
    r = cli("history", env=env)
    assert r.code == 2, r
    assert "is not a regular file" in error_line(r.stderr)
    g = cli("generate", "a fox", "-o", "f.png", env=env)
    assert g.code == 0, g  # the image matters more than the history: a warning only
    assert "Could not write the task history" in g.stderr
    assert (workdir / "f.png").is_file()


def test_history_with_invalid_utf8_still_lists(cli, api_env, home):
    path = home / "data" / "runway-img" / "history.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        b'\xff\xfe garbage\n{"event": "created", "id": "t1", "prompt": "ok", "time": "now"}\n'
    )
    assert [e["id"] for e in history(cli, api_env)] == ["t1"]


def test_history_keeps_data_uris_short(cli, api_env, home, workdir):
    (workdir / "mid.png").write_bytes(png("mid", 1024, 1024))  # ~1.5 MB, inlined
    r = cli("generate", "a fox", "--ref", "mid.png", "-o", "o.png", env=api_env)
    assert r.code == 0, r
    history_file = home / "data" / "runway-img" / "history.jsonl"
    assert history_file.stat().st_size < 10_000
    entry = history(cli, api_env)[0]
    assert entry["params"]["referenceImages"][0]["uri"].endswith("chars)")
