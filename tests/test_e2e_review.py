"""Regression tests for failure modes found in review: each one once cost credits, lost an id,
printed a traceback or gave the wrong exit code."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from runway_cli.sandbox import FaultRule
from tests.conftest import KEY, spawn

CREATE = "/v1/text_to_image"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _history(run, env):
    return json.loads(run("history", "--json", env=env).stdout)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RUNWAY_IMG_POLL_INTERVAL", "abc"),
        ("RUNWAY_IMG_RETRY_BACKOFF", "-1"),
        ("RUNWAY_IMG_HTTP_TIMEOUT", "inf"),
    ],
)
def test_bad_env_settings_are_refused_before_the_create(run, api_env, sandbox, name, value):
    r = run("generate", "a fox", env={**api_env, name: value})
    assert r.code == 2, r
    assert name in r.stderr
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "url", ["https://[::1", "https://exa mple.com", "https://bad_host!/", "http://127.example.com"]
)
def test_malformed_base_urls_are_usage_errors(run, api_env, sandbox, url):
    r = run("generate", "a fox", "--base-url", url, env=api_env)
    assert r.code == 2, r
    assert "base URL" in r.stderr or "plain http://" in r.stderr
    assert _history(run, api_env) == []  # nothing was sent, so nothing is in doubt


def test_non_ascii_key_is_a_usage_error(run, env, sandbox):
    r = run(
        "status",
        "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url, "RUNWAYML_API_SECRET": "key_€"},
    )
    assert r.code == 2, r
    assert "non-ASCII" in r.stderr
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(action="empty_json", method="POST", path=CREATE),
        FaultRule(action="body", body={"id": "../escape"}, method="POST", path=CREATE),
        FaultRule(action="status", status=520, method="POST", path=CREATE),
        FaultRule(action="status", status=501, method="POST", path=CREATE),
    ],
    ids=["empty-json", "bad-id", "http-520", "http-501"],
)
def test_unusable_create_answers_are_ambiguous_not_resent(run, api_env, sandbox, workdir, rule):
    sandbox.faults.add(rule)
    r = run("generate", "a fox", env=api_env)
    assert r.code == 7, r
    assert "may have been created" in r.stderr or "may have reached" in r.stderr
    assert sandbox.count("POST", CREATE) == 1
    entry = _history(run, api_env)[0]
    assert entry["status"] == "UNKNOWN" and entry["prompt"] == "a fox"
    assert not (workdir.parent / "escape.png").exists()
    assert list(workdir.iterdir()) == []


def test_downloads_ask_for_identity_encoding(run, api_env, sandbox):
    r = run("generate", "a fox", "-o", "f.png", env=api_env)
    assert r.code == 0, r
    files = [e for e in sandbox.requests if e["path"].startswith("/_sandbox/files/")]
    assert files and all(e["accept_encoding"] == "identity" for e in files)


def test_partial_multi_output_failure_keeps_and_reports_what_was_saved(
    run, api_env, sandbox, workdir
):
    sandbox.faults.add(
        FaultRule(action="drop", method="GET", path="/_sandbox/files/*/1.png", times=None)
    )
    r = run("generate", "cats", "-m", "gpt_image_2", "-n", "3", "-o", "cat.png", env=api_env)
    assert r.code == 8, r
    assert r.stdout.split() == ["cat-1.png"]  # what did land is still reported as data
    task_id = re.search(UUID, r.stderr).group(0)
    line = next(x for x in r.stderr.splitlines() if x.startswith("error:"))
    assert "saved 1 of 3 files" in line
    assert f"runway-img download {task_id} -o cat.png --force" in line
    assert sorted(p.name for p in workdir.iterdir()) == ["cat-1.png"]
    entry = _history(run, api_env)[0]
    assert entry["files"] == [str(workdir / "cat-1.png")]
    # the printed command really works once the file host recovers
    sandbox.faults.replace([])
    d = run("download", task_id, "-o", "cat.png", "--force", env=api_env)
    assert d.code == 0, d
    assert d.stdout.split() == ["cat-1.png", "cat-2.png", "cat-3.png"]
    assert sandbox.count("POST", CREATE) == 1


def test_json_is_printed_when_saving_fails(run, api_env, sandbox):
    sandbox.faults.add(FaultRule(action="not_image", path="/_sandbox/files/", times=None))
    r = run("generate", "a fox", "--json", env=api_env)
    assert r.code == 8, r
    obj = json.loads(r.stdout)
    assert obj["status"] == "SUCCEEDED" and obj["files"] == [] and re.fullmatch(UUID, obj["id"])


def test_resume_command_keeps_force(run, api_env, workdir):
    (workdir / "f.png").write_bytes(b"old")
    r = run(
        "generate",
        "a fox [sandbox:hang]",
        "-o",
        "f.png",
        "--force",
        "--timeout",
        "0.3",
        env=api_env,
    )
    assert r.code == 6, r
    assert re.search(rf"runway-img download {UUID} -o f.png --force", r.stderr)


def test_download_checks_output_before_any_request(run, api_env, sandbox, workdir):
    r = run("download", "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b", "-o", "nowhere/x.png", env=api_env)
    assert r.code == 2, r
    assert "does not exist" in r.stderr
    assert sandbox.requests == []


def test_download_onto_existing_file_is_exit_2_without_downloading(run, api_env, sandbox, workdir):
    task_id = run("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    first = run("download", task_id, env=api_env)
    assert first.code == 0, first
    again = run("download", task_id, env=api_env)
    assert again.code == 2, again
    assert "already exists" in again.stderr and "--force" in again.stderr
    file_gets = [e for e in sandbox.requests if e["path"].startswith("/_sandbox/files/")]
    assert len(file_gets) == 1  # only the first download fetched the image


def test_status_survives_odd_task_fields(run, api_env, sandbox):
    task_id = run("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    sandbox.faults.add(
        FaultRule(
            action="body",
            method="GET",
            path="/v1/tasks/",
            body={
                "id": "x",
                "status": "RUNNING",
                "progress": "half",
                "estimatedCost": {"credits": "n/a"},
            },
        )
    )
    r = run("status", task_id, env=api_env)
    assert r.code == 0, r
    assert "State:    RUNNING (running)" in r.stdout


def test_unreadable_history_is_a_message(run, api_env, workdir):
    folder = workdir / "hist"
    folder.mkdir()
    r = run("history", env={**api_env, "RUNWAY_IMG_HISTORY": str(folder)})
    assert r.code == 2, r
    assert "Cannot read the history file" in r.stderr
    g = run("generate", "a fox", "-o", "f.png", env={**api_env, "RUNWAY_IMG_HISTORY": str(folder)})
    assert g.code == 0, g
    assert "Could not write the task history" in g.stderr


def test_history_with_invalid_utf8_still_lists(run, api_env, home):
    path = home / "data" / "runway-img" / "history.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        b'\xff\xfe garbage\n{"event": "created", "id": "t1", "prompt": "ok", "time": "now"}\n'
    )
    r = run("history", "--json", env=api_env)
    assert r.code == 0, r
    assert [e["id"] for e in json.loads(r.stdout)] == ["t1"]


def test_interrupt_during_create_records_an_unknown_entry(api_env, sandbox, workdir, run):
    sandbox.faults.add(FaultRule(action="delay", delay=3.0, method="POST", path=CREATE))
    proc = spawn(["generate", "a slow fox"], api_env, workdir)
    try:
        deadline = time.monotonic() + 20
        # wait until the create is in flight: the sandbox thread is inside the delay
        while not sandbox.faults_taken() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "it may have been created" in err
    entry = _history(run, api_env)[0]
    assert entry["status"] == "UNKNOWN" and entry["note"] == "interrupted while creating"


def test_login_without_verify_sends_nothing(run, env, sandbox, home):
    r = run(
        "auth",
        "login",
        "--no-verify",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url},
        input=KEY,
    )
    assert r.code == 0, r
    assert sandbox.requests == []
    assert json.loads((home / "config" / "runway-img" / "credentials.json").read_text()) == {
        "api_key": KEY
    }


def test_auth_commands_ignore_the_sandbox_switch(run, env, sandbox):
    r = run("auth", "status", env={**env, "RUNWAY_IMG_SANDBOX": "1"})
    assert r.code == 3 and "No Runway API key found" in r.stderr


def test_tracebacks_never_show_locals():
    from runway_cli.cli import app

    assert app.pretty_exceptions_show_locals is False


# -- the foreground sandbox command ----------------------------------------------------------------


def _sandbox_cmd(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "runway_cli", "sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_sandbox_command_bad_options(env, workdir):
    r = _sandbox_cmd(env, "--port", "99999")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = _sandbox_cmd(env, "--port", "0", "--task-seconds", "0")
    assert r.returncode == 2 and "--task-seconds must be a positive number" in r.stderr
    bad = workdir / "faults.json"
    bad.write_text('[{"action": "status", "times": "abc"}]')
    r = _sandbox_cmd(env, "--port", "0", "--faults", str(bad))
    assert r.returncode == 2 and "Cannot use the fault file" in r.stderr


def test_corrupt_sandbox_state_is_a_message(run, env, home):
    state = home / "cache" / "runway-img" / "sandbox.sqlite3"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"this is not a database" * 100)
    r = run("generate", "a fox", "--sandbox", env=env)
    assert r.code == 2, r
    assert "delete it to start over" in r.stderr


def test_fault_rules_with_bad_types_are_refused(sandbox):
    import requests

    r = requests.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json=[{"action": "status", "times": "abc"}],
        timeout=5,
    )
    assert r.status_code == 400
    ok = requests.get(
        f"{sandbox.base_url}/v1/organization",
        headers={"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"},
        timeout=5,
    )
    assert ok.status_code == 200  # the bad rule list was not installed


def test_bad_content_length_gets_a_400(sandbox):
    import socket

    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /v1/text_to_image HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
