"""Failures real networks and the real service produce, injected into the sandbox.

Each test asserts the CLI's outcome *and* what the server saw: how many creates arrived, how
many tasks exist, the bytes on disk, and that no partial file is left behind.
"""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from runway_cli.sandbox import FaultRule
from tests.conftest import spawn

CREATE = "/v1/text_to_image"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def tasks_created(sandbox) -> int:
    return sum(sandbox.store.daily_counts().values())


def task_id_from(stderr: str) -> str:
    return re.search(UUID, stderr).group(0)


def assert_clean(workdir, *expected):
    assert sorted(p.name for p in workdir.iterdir()) == sorted(expected)


# -- reads are retried -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_poll_errors_are_retried(run, api_env, sandbox, workdir, status):
    sandbox.faults.add(
        FaultRule(action="status", status=status, method="GET", path="/v1/tasks/", times=2)
    )
    r = run("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    assert f"-> {status}" in r.stderr and "retrying GET /v1/tasks/" in r.stderr
    assert sandbox.count("POST", CREATE) == 1 and tasks_created(sandbox) == 1
    task_id = task_id_from(r.stderr)
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)


def test_retry_after_is_honoured(run, api_env, sandbox):
    sandbox.faults.add(
        FaultRule(action="status", status=429, method="GET", path="/v1/tasks/", retry_after="1")
    )
    r = run("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    assert re.search(r"retrying GET /v1/tasks/\S+ in 1\.0s", r.stderr), r.stderr


def test_dropped_and_slow_reads_are_retried(run, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="drop", method="GET", path="/v1/tasks/", times=1),
        FaultRule(action="delay", delay=2.0, method="GET", path="/v1/tasks/", times=1),
    )
    r = run(
        "generate",
        "a fox",
        "-o",
        "fox.png",
        "-v",
        env={**api_env, "RUNWAY_IMG_HTTP_TIMEOUT": "0.5"},
    )
    assert r.code == 0, r
    assert "the server closed the connection" in r.stderr
    assert "timed out waiting for the answer" in r.stderr
    assert tasks_created(sandbox) == 1


def test_persistent_poll_failure_exits_7_with_task_id(run, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="status", status=503, method="GET", path="/v1/tasks/", times=None)
    )
    r = run("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    task_id = task_id_from(r.stderr)
    line = next(x for x in r.stderr.splitlines() if x.startswith("error:"))
    assert "HTTP 503" in line and f"runway-img download {task_id} -o fox.png" in line
    assert sandbox.count("GET", "/v1/tasks/") == 5  # bounded attempts
    assert tasks_created(sandbox) == 1
    assert_clean(workdir)


def test_html_error_page_is_a_message(run, api_env, sandbox):
    sandbox.faults.add(
        FaultRule(
            action="status", status=502, html=True, method="GET", path="/v1/tasks/", times=None
        )
    )
    r = run("status", "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b", env=api_env)
    assert r.code == 7, r
    assert "HTTP 502 (an HTML page)" in r.stderr


def test_non_json_success_is_a_message(run, api_env, sandbox):
    sandbox.faults.add(FaultRule(action="bad_json", method="GET", path="/v1/tasks/"))
    r = run("status", "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b", env=api_env)
    assert r.code == 7, r
    assert "not JSON (an HTML page)" in r.stderr


def test_json_missing_fields_is_a_message(run, api_env, sandbox, workdir):
    r0 = run("generate", "a fox", "--no-wait", env=api_env)
    sandbox.faults.add(FaultRule(action="empty_json", method="GET", path="/v1/tasks/"))
    r = run("status", r0.stdout.strip(), env=api_env)
    assert r.code == 7, r
    assert "has no status field" in r.stderr


def test_succeeded_without_outputs_exits_7(run, api_env, sandbox, workdir):
    r = run("generate", "a fox [sandbox:no-output]", "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    assert "succeeded but returned no output URLs" in r.stderr
    assert_clean(workdir)


# -- creates are never sent twice unless the server provably did not take them ----------------


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, "1"), (429, None)])
def test_create_refused_is_retried_once_accepted(
    run, api_env, sandbox, workdir, status, retry_after
):
    sandbox.faults.add(
        FaultRule(
            action="status", status=status, method="POST", path=CREATE, retry_after=retry_after
        )
    )
    r = run("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    assert sandbox.count("POST", CREATE) == 2
    assert tasks_created(sandbox) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_create_server_error_is_not_resent(run, api_env, sandbox, workdir, env, status):
    sandbox.faults.add(FaultRule(action="status", status=status, method="POST", path=CREATE))
    r = run("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    assert "may have been created" in r.stderr and "runway-img history" in r.stderr
    assert sandbox.count("POST", CREATE) == 1
    h = run("history", "--json", env=api_env)
    entries = json.loads(h.stdout)
    assert entries[0]["id"] is None and entries[0]["status"] == "UNKNOWN"
    assert entries[0]["prompt"] == "a fox"


def test_create_dropped_after_success_is_not_resent(run, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="drop_after", method="POST", path=CREATE))
    r = run("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    assert "may have reached Runway" in r.stderr and "not billed twice" in r.stderr
    assert sandbox.count("POST", CREATE) == 1
    assert tasks_created(sandbox) == 1  # the server did create it: exactly once
    h = run("history", env=api_env)
    assert "UNKNOWN" in h.stdout and "may have reached Runway" in h.stdout
    assert_clean(workdir)


def test_create_read_timeout_is_not_resent(run, api_env, sandbox):
    sandbox.faults.add(FaultRule(action="delay", delay=2.0, method="POST", path=CREATE))
    r = run("generate", "a fox", env={**api_env, "RUNWAY_IMG_HTTP_TIMEOUT": "0.5"})
    assert r.code == 7, r
    assert "timed out waiting for the answer" in r.stderr
    # the server logs a request when it has answered it: wait for the delayed one
    deadline = time.monotonic() + 10
    while sandbox.count("POST", CREATE) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.count("POST", CREATE) == 1
    assert tasks_created(sandbox) == 1  # the slow create did go through: not resent


def test_daily_limit_is_reported_plainly(run, api_env, sandbox):
    sandbox.faults.add(
        FaultRule(
            action="status",
            status=429,
            method="POST",
            path=CREATE,
            times=None,
            message="Your daily task limit has been reached.",
        )
    )
    r = run("generate", "a fox", env=api_env)
    assert r.code == 7, r
    line = next(x for x in r.stderr.splitlines() if x.startswith("error:"))
    assert "daily task limit" in line and "rolling 24 hours" in line
    assert sandbox.count("POST", CREATE) == 1  # a daily cap does not lift in seconds: no retry
    assert tasks_created(sandbox) == 0


# -- downloads never leave a broken file -------------------------------------------------------


def test_cut_download_resumes_with_range(run, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="cut", method="GET", path="/_sandbox/files/"))
    r = run("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    task_id = task_id_from(r.stderr)
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    ranges = [e["range"] for e in sandbox.requests if e["path"].startswith("/_sandbox/files/")]
    assert ranges[0] is None and ranges[1] and ranges[1].startswith("bytes=")
    assert_clean(workdir, "fox.png")


def test_cut_download_restarts_when_range_is_ignored(run, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="cut", method="GET", path="/_sandbox/files/"),
        FaultRule(action="no_range", method="GET", path="/_sandbox/files/"),
    )
    r = run("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id_from(r.stderr), 0)
    assert_clean(workdir, "fox.png")


def test_expired_url_is_refreshed_from_the_task(run, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="status", status=403, method="GET", path="/_sandbox/files/")
    )
    r = run("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id_from(r.stderr), 0)
    file_gets = [e for e in sandbox.requests if e["path"].startswith("/_sandbox/files/")]
    assert [e["status"] for e in file_gets] == [403, 200]
    assert not any(e["authorized"] for e in file_gets)  # the key never goes to the file host


def test_download_that_keeps_failing_exits_8_and_touches_nothing(run, api_env, sandbox, workdir):
    (workdir / "fox.png").write_bytes(b"keep me")
    sandbox.faults.add(FaultRule(action="drop", method="GET", path="/_sandbox/files/", times=None))
    r = run("generate", "a fox", "-o", "fox.png", "--force", env=api_env)
    assert r.code == 8, r
    task_id = task_id_from(r.stderr)
    line = next(x for x in r.stderr.splitlines() if x.startswith("error:"))
    assert f"runway-img download {task_id} -o fox.png" in line
    assert (workdir / "fox.png").read_bytes() == b"keep me"
    assert_clean(workdir, "fox.png")
    # later, with the network healthy again, the same task is saved without a new create
    sandbox.faults.replace([])
    d = run("download", "--last", "-o", "fox.png", "--force", env=api_env)
    assert d.code == 0, d
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    assert sandbox.count("POST", CREATE) == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_download_removes_temp_file(api_env, sandbox, workdir, sig):
    sandbox.faults.add(
        FaultRule(action="slow_body", delay=0.2, method="GET", path="/_sandbox/files/")
    )
    proc = spawn(["generate", "a fox", "-o", "fox.png"], api_env, workdir)
    try:
        deadline = time.monotonic() + 30
        while not any(p.name.endswith(".part") for p in workdir.iterdir()):
            assert time.monotonic() < deadline and proc.poll() is None, "download never started"
            time.sleep(0.02)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Download interrupted" in err and "runway-img download" in err
    assert "Traceback" not in err
    assert_clean(workdir)


# -- history -------------------------------------------------------------------------------------


def test_history_records_tasks_and_download_last(run, api_env, sandbox, workdir):
    a = run("generate", "first prompt", "-o", "a.png", env=api_env)
    b = run("generate", "second prompt [sandbox:fail]", env=api_env)
    c = run("generate", "third prompt", "--no-wait", env=api_env)
    assert (a.code, b.code, c.code) == (0, 4, 0)
    h = run("history", "--json", env=api_env)
    rows = json.loads(h.stdout)
    assert [r["prompt"] for r in rows] == [
        "third prompt",
        "second prompt [sandbox:fail]",
        "first prompt",
    ]
    assert [r["status"] for r in rows] == ["CREATED", "FAILED", "SUCCEEDED"]
    assert rows[2]["files"] == [str(workdir / "a.png")] and rows[2]["cost"] == 5
    assert rows[0]["id"] == c.stdout.strip()
    d = run("download", "--last", env=api_env)
    assert d.code == 0, d
    assert d.stdout.strip() == f"{c.stdout.strip()}.png"
    rows = json.loads(run("history", "--json", "-n", "1", env=api_env).stdout)
    assert len(rows) == 1 and rows[0]["status"] == "SUCCEEDED"
    text = run("history", env=api_env).stdout
    assert "third prompt" in text and "FAILED" in text


def test_history_is_written_before_waiting(run, api_env, sandbox):
    r = run("generate", "a fox [sandbox:hang]", "--timeout", "0.3", env=api_env)
    assert r.code == 6
    rows = json.loads(run("history", "--json", env=api_env).stdout)
    assert rows[0]["id"] == task_id_from(r.stderr) and rows[0]["status"] == "CREATED"


def test_download_last_with_empty_history(run, api_env):
    r = run("download", "--last", env=api_env)
    assert r.code == 2 and "No tasks in the local history" in r.stderr


def test_verbose_logs_requests_without_the_key(run, api_env, sandbox):
    r = run("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    assert re.search(r"POST /v1/text_to_image -> 200 \(\d+ ms\)", r.stderr)
    assert re.search(r"GET /v1/tasks/\S+ -> 200 \(\d+ ms\)", r.stderr)
    assert re.search(r"GET 127\.0\.0\.1:\d+/_sandbox/files/\S+ -> 200", r.stderr)
    assert "sig=" not in r.stderr  # signed output URLs are not logged either
    # the run fixture already asserts the key is absent from stdout and stderr
