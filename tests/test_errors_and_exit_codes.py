"""Every documented exit code over real HTTP, each failure one line on stderr, and bad input
refused before any request is sent."""

from __future__ import annotations

import json
import socket
import threading

import pytest
import requests

from runway_cli.sandbox import FaultRule
from tests.conftest import KEY
from tests.helpers import (
    SOME_TASK_ID,
    api_headers,
    assert_refused,
    error_line,
    files_in,
    history,
    state_files,
    task_id_from,
    wait_until,
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- 2: bad input, refused before anything is sent --------------------------------------------


def case(name: str, args: list[str], needle: str, env: dict[str, str] | None = None):
    return pytest.param(args, env or {}, needle, id=name)


GEN = ["generate", "a fox"]
# 500 astral-plane emoji are 1000 UTF-16 units; one more ASCII char is one too many
EMOJI_1001 = "😀" * 500 + "!"


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        case("no-prompt", ["generate"], "--prompt-file"),
        case("empty-prompt", ["generate", ""], "The prompt is empty"),
        case("blank-prompt", ["generate", "   \n\t "], "The prompt is empty"),
        case("too-long", ["generate", "x" * 1001], "accepts at most 1000 (1 too many"),
        case("utf16", ["generate", EMOJI_1001], "1001 characters; gen4_image accepts at most 1000"),
        case(
            "prompt-file-missing",
            ["generate", "--prompt-file", "nope.txt"],
            "Cannot read the prompt file nope.txt",
        ),
        case(
            "prompt-file-not-utf8",
            ["generate", "--prompt-file", "bin.txt"],
            "bin.txt is not UTF-8 text",
        ),
        case("ratio-not-offered", [*GEN, "--ratio", "1584:672"], "Valid ratios: 1024:1024"),
        case("ratio-junk", [*GEN, "--ratio", "banana"], "Ratio banana is not valid"),
        case("timeout-zero", [*GEN, "--timeout", "0"], "--timeout must be a positive"),
        case("timeout-negative", [*GEN, "--timeout", "-5"], "--timeout must be a positive"),
        case("status-bad-id", ["status", "not-a-task"], "is not a task id"),
        case("download-bad-id", ["download", "12345"], "is not a task id"),
        case("base-url-ftp", [*GEN, "--base-url", "ftp://example.com"], "Invalid base URL"),
        case("base-url-unclosed", [*GEN, "--base-url", "https://[::1"], "Invalid base URL"),
        case("base-url-space", [*GEN, "--base-url", "https://exa mple.com"], "Invalid base URL"),
        case("base-url-bad-host", [*GEN, "--base-url", "https://bad_host!/"], "Invalid base URL"),
        case("base-url-plain-http", [*GEN, "--base-url", "http://example.com"], "plain http://"),
        # a key is sent over plain http:// only to a loopback address, not a look-alike name
        case("base-url-lookalike", [*GEN, "--base-url", "http://127.example.com"], "plain http://"),
        *(
            case(name, GEN, f"{name} must be a positive number of seconds", {name: value})
            for name, value in [
                ("RUNWAY_IMG_POLL_INTERVAL", "abc"),
                ("RUNWAY_IMG_RETRY_BACKOFF", "-1"),
                ("RUNWAY_IMG_HTTP_TIMEOUT", "inf"),
            ]
        ),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(
    cli, home, api_env, sandbox, workdir, args, env, needle
):
    (workdir / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    r = cli(*args, env={**api_env, **env})
    assert_refused(r, sandbox, home, needle)
    assert files_in(workdir) == ["bin.txt"]


@pytest.mark.parametrize(
    ("args", "key", "needle"),
    [
        (["generate", "a fox"], "key_a b", "contains whitespace or control characters"),
        (["generate", "a fox"], "key_ab\n", "contains whitespace or control characters"),
        (["status", SOME_TASK_ID], "key_€", "contains non-ASCII characters"),
    ],
    ids=["space", "newline", "non-ascii"],
)
def test_a_key_that_cannot_be_one_is_an_invalid_key_exit_3(
    cli, home, api_env, sandbox, args, key, needle
):
    r = cli(*args, env={**api_env, "RUNWAYML_API_SECRET": key})
    assert r.code == 3, r
    assert needle in error_line(r.stderr) and r.stdout == ""
    assert sandbox.requests == [] and state_files(home) == []


def test_usage_error_from_the_parser_is_exit_2(cli, api_env, sandbox):
    r = cli("generate", "a fox", "--bogus", env=api_env)
    assert r.code == 2, r
    assert "No such option: --bogus" in r.stderr
    assert r.stdout == "" and sandbox.requests == []


def test_tracebacks_never_show_locals():
    from runway_cli.cli.app import build

    app = build()

    assert app.pretty_exceptions_show_locals is False  # a local could be the key


def test_unknown_task_exits_2(cli, api_env):
    r = cli("status", SOME_TASK_ID, env=api_env)
    assert r.code == 2, r
    assert "Could not find Task (HTTP 404)" in error_line(r.stderr)


def test_server_400_shows_error_and_issues(cli, api_env, sandbox):
    # An unknown model passes through to the server, which answers with its 400 shape.
    r = cli("generate", "a fox", "--model", "gen9_future", "--ratio", "1280:720", env=api_env)
    assert r.code == 2, r
    assert "warning: gen9_future is not in the model catalog" in r.stderr
    assert "Validation of body failed (HTTP 400)" in error_line(r.stderr)
    assert "  - model: Invalid discriminator value" in r.stderr
    assert sandbox.count("POST", "/v1/text_to_image") == 1


# -- 3: the key ----------------------------------------------------------------------------------


def test_no_key_anywhere_exits_3_with_instructions(cli, env, sandbox):
    r = cli("generate", "a fox", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url})
    assert r.code == 3, r
    line = error_line(r.stderr)
    assert "No Runway API key found" in line
    assert "runway-img auth login" in line and "RUNWAYML_API_SECRET" in line
    assert sandbox.requests == []


def test_rejected_key_exits_3(cli, env, sandbox):
    r = cli(
        "generate",
        "a fox",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url, "RUNWAYML_API_SECRET": "key_wrong"},
    )
    assert r.code == 3, r
    assert "HTTP 401" in error_line(r.stderr)
    assert sandbox.count("POST", "/v1/text_to_image") == 1
    assert sandbox.requests[0]["status"] == 401


# -- 4, 5, 6: how the task ended -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "code", "hint"),
    [
        ("[sandbox:fail]", "INTERNAL.BAD_OUTPUT.CODE01", "The model produced a bad result"),
        ("[sandbox:fail:SAFETY.INPUT.TEXT]", "SAFETY.INPUT.TEXT", "Content moderation"),
        (
            "[sandbox:fail:INPUT_PREPROCESSING.SAFETY.TEXT]",
            "INPUT_PREPROCESSING.SAFETY.TEXT",
            "Content moderation",
        ),
        ("[sandbox:fail:ASSET.INVALID]", "ASSET.INVALID", "A reference image is not usable"),
        (
            "[sandbox:fail:THIRD_PARTY.UNAVAILABLE]",
            "THIRD_PARTY.UNAVAILABLE",
            "provider is unavailable",
        ),
        ("[sandbox:fail:INTERNAL]", "INTERNAL", "A temporary problem at Runway"),
        ("[sandbox:fail:NEW.CODE]", "NEW.CODE", "Trying again later may help"),
    ],
    ids=[
        "default",
        "safety",
        "preprocessing-safety",
        "asset",
        "third-party",
        "internal",
        "unknown-code",
    ],
)
def test_failed_task_exits_4_with_reason_code_and_hint(cli, api_env, workdir, marker, code, hint):
    r = cli("generate", f"a fox {marker}", "-o", "f.png", env=api_env)
    assert r.code == 4, r
    line = error_line(r.stderr)
    assert "failed" in line and f"({code})" in line
    assert hint in r.stderr
    assert files_in(workdir) == []
    assert r.stdout == ""


def test_failed_task_json_has_failure_fields(cli, api_env):
    r = cli("generate", "a fox [sandbox:fail]", "--json", env=api_env)
    assert r.code == 4, r
    obj = json.loads(r.stdout)
    assert obj["status"] == "FAILED"
    assert obj["failureCode"] == "INTERNAL.BAD_OUTPUT.CODE01" and obj["failure"]


def test_cancelled_task_exits_5(cli, api_env):
    r = cli("generate", "a fox [sandbox:cancel]", env=api_env)
    assert r.code == 5, r
    assert "cancelled" in error_line(r.stderr)


def test_task_deleted_elsewhere_while_followed_exits_5(cli, api_env, sandbox):
    """A 404 for the task being followed: cancelled or deleted elsewhere, not a bad id."""

    def delete_once_polled() -> None:
        wait_until(lambda: sandbox.count("GET", "/v1/tasks/") > 0, what="the first poll")
        task_path = next(e["path"] for e in sandbox.requests if e["path"].startswith("/v1/tasks/"))
        answer = requests.delete(sandbox.base_url + task_path, headers=api_headers(KEY), timeout=5)
        assert answer.status_code == 204

    deleter = threading.Thread(target=delete_once_polled)
    deleter.start()
    r = cli("generate", "a fox [sandbox:hang]", "-o", "h.png", "--timeout", "20", env=api_env)
    deleter.join(timeout=20)
    assert r.code == 5, r
    task_id = task_id_from(r.stderr)
    line = error_line(r.stderr)
    assert f"Task {task_id} is gone: it was cancelled or deleted elsewhere (HTTP 404)" in line
    assert "check the task id" not in r.stderr.lower()
    assert history(cli, api_env)[0]["status"] == "CANCELLED"


def test_timeout_exits_6_with_id_and_resume_command(cli, api_env, sandbox):
    r = cli("generate", "a fox [sandbox:hang]", "-o", "h.png", "--timeout", "0.3", env=api_env)
    assert r.code == 6, r
    line = error_line(r.stderr)
    polled = {e["path"] for e in sandbox.requests if e["path"].startswith("/v1/tasks/")}
    assert len(polled) == 1
    task_id = polled.pop().rsplit("/", 1)[1]
    assert f"runway-img download {task_id} -o h.png" in line
    assert "still RUNNING" in line


def test_resume_command_keeps_force(cli, api_env, workdir):
    (workdir / "f.png").write_bytes(b"old")
    r = cli(
        "generate", "a fox [sandbox:hang]", "-o", "f.png", "--force", "--timeout", "0.3",
        env=api_env,
    )  # fmt: skip
    assert r.code == 6, r
    line = error_line(r.stderr)
    assert f"runway-img download {task_id_from(r.stderr)} -o f.png --force" in line
    assert (workdir / "f.png").read_bytes() == b"old"


# -- 7: network or server trouble ----------------------------------------------------------------


def test_unreachable_server_exits_7(cli, env):
    r = cli(
        "status",
        SOME_TASK_ID,
        env={
            **env,
            "RUNWAYML_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
            "RUNWAYML_API_SECRET": "key_x",
        },
    )
    assert r.code == 7, r
    assert "could not connect" in error_line(r.stderr)


# -- 8: the task succeeded but saving failed -----------------------------------------------------


def test_output_that_is_not_an_image_exits_8_and_leaves_nothing(cli, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="not_image", path="/_sandbox/files/", times=None))
    r = cli("generate", "a fox", "-o", "n.png", env=api_env)
    assert r.code == 8, r
    line = error_line(r.stderr)
    assert "not a PNG, JPEG, WebP or SVG image" in line
    assert f"runway-img download {task_id_from(r.stderr)} -o n.png" in line
    assert files_in(workdir) == []
    assert sandbox.count("POST", "/v1/text_to_image") == 1


def test_json_is_printed_when_saving_fails(cli, api_env, sandbox):
    sandbox.faults.add(FaultRule(action="not_image", path="/_sandbox/files/", times=None))
    r = cli("generate", "a fox", "--json", env=api_env)
    assert r.code == 8, r
    obj = json.loads(r.stdout)
    assert (
        obj["status"] == "SUCCEEDED" and obj["files"] == [] and obj["id"] == task_id_from(r.stderr)
    )
