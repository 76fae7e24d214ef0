"""Every documented exit code, over real HTTP, and bad input refused before any request."""

from __future__ import annotations

import json
import socket

import pytest

from runway_cli.sandbox import FaultRule


def _only_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", ""], "The prompt is empty"),
        (["generate", "   \n\t "], "The prompt is empty"),
        (["generate", "x" * 1001], "accepts at most 1000 (1 too many"),
        # 500 astral-plane emoji are 1000 UTF-16 units; one more ASCII char is one too many
        (["generate", "😀" * 500 + "!"], "1001 characters; gen4_image accepts at most 1000"),
        (["generate", "a fox", "--ratio", "1584:672"], "Valid ratios: 1024:1024"),
        (["generate", "a fox", "--ratio", "banana"], "Ratio banana is not valid"),
        (["generate", "a fox", "--timeout", "0"], "--timeout must be a positive"),
        (["generate", "a fox", "--timeout", "-5"], "--timeout must be a positive"),
        (["generate", "a fox", "-o", "missing/dir/out.png"], "does not exist"),
        (["status", "not-a-task"], "is not a task id"),
        (["download", "12345"], "is not a task id"),
        (["generate", "a fox", "--base-url", "ftp://example.com"], "Invalid base URL"),
        (["generate", "a fox", "--base-url", "http://example.com"], "plain http://"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(run, api_env, sandbox, args, needle):
    r = run(*args, env=api_env)
    assert r.code == 2, r
    assert needle in _only_line(r.stderr)
    assert sandbox.requests == []
    assert r.stdout == ""


def test_existing_output_without_force(run, api_env, sandbox, workdir):
    (workdir / "out.png").write_bytes(b"precious")
    r = run("generate", "a fox", "-o", "out.png", env=api_env)
    assert r.code == 2, r
    assert "already exists" in r.stderr and "--force" in r.stderr
    assert (workdir / "out.png").read_bytes() == b"precious"
    assert sandbox.requests == []


def test_usage_error_from_typer_is_exit_2(run, api_env, sandbox):
    r = run("generate", "a fox", "--bogus", env=api_env)
    assert r.code == 2
    assert "No such option" in r.stderr
    assert sandbox.requests == []


def test_missing_prompt_is_exit_2(run, api_env, sandbox):
    r = run("generate", env=api_env)
    assert r.code == 2
    assert "--prompt-file" in _only_line(r.stderr)
    assert sandbox.requests == []


def test_unreadable_prompt_file_is_exit_2(run, api_env, sandbox, workdir):
    r = run("generate", "--prompt-file", "nope.txt", env=api_env)
    assert r.code == 2, r
    assert "Cannot read the prompt file nope.txt" in _only_line(r.stderr)
    (workdir / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    r = run("generate", "--prompt-file", "bin.txt", env=api_env)
    assert r.code == 2, r
    assert sandbox.requests == []


def test_prompt_file_is_sent(run, api_env, sandbox, workdir):
    (workdir / "p.txt").write_text("a lighthouse\non a cliff\n", encoding="utf-8")
    r = run("generate", "-f", "p.txt", "-o", "p.png", env=api_env)
    assert r.code == 0, r
    create = next(e for e in sandbox.requests if e["method"] == "POST")
    assert create["json"]["promptText"] == "a lighthouse\non a cliff"


def test_no_key_anywhere_exits_3_with_instructions(run, env, sandbox):
    r = run("generate", "a fox", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url})
    assert r.code == 3, r
    line = _only_line(r.stderr)
    assert "No Runway API key found" in line
    assert "runway-img auth login" in line and "RUNWAYML_API_SECRET" in line
    assert sandbox.requests == []


def test_rejected_key_exits_3(run, env, sandbox):
    r = run(
        "generate",
        "a fox",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url, "RUNWAYML_API_SECRET": "key_wrong"},
    )
    assert r.code == 3, r
    assert "HTTP 401" in r.stderr
    assert sandbox.count("POST", "/v1/text_to_image") == 1
    assert sandbox.requests[0]["status"] == 401


def test_key_with_whitespace_is_refused_before_sending(run, env, sandbox):
    r = run(
        "generate",
        "a fox",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url, "RUNWAYML_API_SECRET": "key_a b"},
    )
    assert r.code == 2, r
    assert "whitespace" in r.stderr
    assert sandbox.requests == []


def test_failed_task_exits_4_with_reason(run, api_env, sandbox, workdir):
    r = run("generate", "a fox [sandbox:fail]", "-o", "f.png", env=api_env)
    assert r.code == 4, r
    line = _only_line(r.stderr)
    assert "failed" in line and "INTERNAL.BAD_OUTPUT.CODE01" in line
    assert not (workdir / "f.png").exists()
    assert r.stdout == ""


def test_failed_task_json_has_failure_fields(run, api_env):
    r = run("generate", "a fox [sandbox:fail]", "--json", env=api_env)
    assert r.code == 4, r
    obj = json.loads(r.stdout)
    assert obj["status"] == "FAILED"
    assert obj["failureCode"] == "INTERNAL.BAD_OUTPUT.CODE01" and obj["failure"]


def test_cancelled_task_exits_5(run, api_env):
    r = run("generate", "a fox [sandbox:cancel]", env=api_env)
    assert r.code == 5, r
    assert "cancelled" in _only_line(r.stderr)


def test_timeout_exits_6_with_id_and_resume_command(run, api_env, sandbox):
    r = run("generate", "a fox [sandbox:hang]", "-o", "h.png", "--timeout", "0.5", env=api_env)
    assert r.code == 6, r
    line = _only_line(r.stderr)
    polled = {e["path"] for e in sandbox.requests if e["path"].startswith("/v1/tasks/")}
    assert len(polled) == 1
    task_id = polled.pop().rsplit("/", 1)[1]
    assert f"runway-img download {task_id} -o h.png" in line
    assert "still RUNNING" in line


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_exits_7(run, env):
    r = run(
        "status",
        "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b",
        env={
            **env,
            "RUNWAYML_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
            "RUNWAYML_API_SECRET": "key_x",
        },
    )
    assert r.code == 7, r
    assert "could not connect" in _only_line(r.stderr)


def test_unknown_task_exits_2(run, api_env):
    r = run("status", "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b", env=api_env)
    assert r.code == 2, r
    assert "Could not find Task (HTTP 404)" in _only_line(r.stderr)


def test_server_400_shows_error_and_issues(run, api_env, sandbox):
    # An unknown model passes through to the server, which answers with its 400 shape.
    r = run("generate", "a fox", "--model", "gen9_future", "--ratio", "1280:720", env=api_env)
    assert r.code == 2, r
    assert "warning: gen9_future is not in the model catalog" in r.stderr
    assert "Validation of body failed (HTTP 400)" in _only_line(r.stderr)
    assert "  - model: Invalid discriminator value" in r.stderr


def test_output_that_is_not_an_image_exits_8_and_leaves_nothing(run, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="not_image", path="/_sandbox/files/", times=None))
    r = run("generate", "a fox", "-o", "n.png", env=api_env)
    assert r.code == 8, r
    line = _only_line(r.stderr)
    assert "not a PNG, JPEG, WebP or SVG image" in line
    assert "runway-img download" in line  # resume command with the id
    assert list(workdir.iterdir()) == []
    assert sandbox.count("POST", "/v1/text_to_image") == 1


def test_output_folder_that_is_a_file_is_refused(run, api_env, sandbox, workdir):
    (workdir / "afile").write_text("x")
    r = run("generate", "a fox", "-o", "afile/out.png", env=api_env)
    assert r.code == 2, r
    assert "is not a folder" in _only_line(r.stderr)
    assert sandbox.requests == []


def test_status_of_a_failed_task_shows_reason_and_code(run, api_env):
    r = run("generate", "a fox [sandbox:fail]", "--no-wait", env=api_env)
    task_id = r.stdout.strip()
    d = run("download", task_id, env=api_env)  # waits for the end: FAILED
    assert d.code == 4, d
    s = run("status", task_id, env=api_env)
    assert s.code == 0, s
    assert "State:    FAILED (failed)" in s.stdout
    assert "Failure:  The sandbox failed this task" in s.stdout
    assert "Code:     INTERNAL.BAD_OUTPUT.CODE01" in s.stdout
    assert "Cost:     0 credits" in s.stdout
