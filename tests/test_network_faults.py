"""Failures real networks and the real service produce, injected into the sandbox.

Each test asserts the CLI's outcome *and* what the server saw: how many creates arrived, how
many tasks exist, the bytes on disk, and that no partial file is left behind.
"""

from __future__ import annotations

import re

import pytest

from runway_cli.sandbox import FaultRule
from tests.helpers import (
    CREATE,
    FILES,
    SOME_TASK_ID,
    error_line,
    file_requests,
    files_in,
    history,
    task_id_from,
    tasks_created,
    wait_until,
)

# -- a wait rides out a flaky service; single reads are retried a bounded number of times ------

NOT_ANSWERING = "Runway is not answering"


def test_a_wait_rides_out_every_kind_of_poll_error(cli, api_env, sandbox, workdir):
    # one after another, as a real outage looks: each status once, then an HTML error page
    statuses = [429, 500, 502, 503, 504]
    sandbox.faults.add(
        *(FaultRule(action="status", status=s, method="GET", path="/v1/tasks/") for s in statuses),
        FaultRule(action="status", status=502, html=True, method="GET", path="/v1/tasks/"),
    )
    r = cli("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    for status in statuses:
        assert r.stderr.count(f"-> {status}") == (2 if status == 502 else 1), status
    assert r.stderr.count(f"warning: {NOT_ANSWERING}") == 1  # said once, not per poll
    assert sandbox.count("POST", CREATE) == 1 and tasks_created(sandbox) == 1
    task_id = task_id_from(r.stderr)
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)


def test_retry_after_is_honoured_while_waiting(cli, api_env, sandbox):
    sandbox.faults.add(
        FaultRule(action="status", status=429, method="GET", path="/v1/tasks/", retry_after="1")
    )
    r = cli("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    polls = [e for e in sandbox.requests if e["path"].startswith("/v1/tasks/")]
    assert polls[0]["status"] == 429
    # the poll interval is 0.05 s and the backoff 0.01 s: only Retry-After explains the gap
    assert polls[1]["time"] - polls[0]["time"] >= 0.95, polls[:2]


def test_dropped_and_slow_reads_are_retried(cli, api_env, sandbox):
    sandbox.faults.add(
        FaultRule(action="drop", method="GET", path="/v1/tasks/", times=1),
        FaultRule(action="delay", delay=1.0, method="GET", path="/v1/tasks/", times=1),
    )
    r = cli(
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


def test_a_wait_that_ends_while_the_service_is_down_exits_7_with_resume(
    cli, api_env, sandbox, workdir
):
    sandbox.faults.add(
        FaultRule(action="status", status=503, method="GET", path="/v1/tasks/", times=None)
    )
    r = cli("generate", "a fox", "-o", "fox.png", "--timeout", "0.5", env=api_env)
    assert r.code == 7, r  # not 6: the task may be fine, Runway is what did not answer
    line = error_line(r.stderr)
    assert NOT_ANSWERING in line and "HTTP 503" in line
    assert f"runway-img download {task_id_from(r.stderr)} -o fox.png" in line
    assert r.stderr.count(f"warning: {NOT_ANSWERING}") == 1
    assert sandbox.count("GET", "/v1/tasks/") > 5  # kept polling until --timeout
    assert tasks_created(sandbox) == 1
    assert files_in(workdir) == []
    assert r.stdout == ""


def test_a_single_read_gives_up_after_5_attempts(cli, api_env, sandbox):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    sandbox.faults.add(
        FaultRule(action="status", status=503, method="GET", path="/v1/tasks/", times=None)
    )
    r = cli("status", task_id, "-v", env=api_env)
    assert r.code == 7, r
    assert "HTTP 503" in error_line(r.stderr)
    assert re.search(r"retrying GET /v1/tasks/\S+ in \d", r.stderr), r.stderr
    assert sandbox.count("GET", "/v1/tasks/") == 5  # bounded attempts


# -- answers that are not the API's ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        pytest.param(
            {"action": "status", "status": 502, "html": True, "times": None},
            "HTTP 502 (an HTML page)",
            id="html-error-page",
        ),
        pytest.param({"action": "bad_json"}, "not JSON (an HTML page)", id="html-success"),
        pytest.param({"action": "empty_json"}, "has no status field", id="missing-fields"),
    ],
)
def test_unusable_task_answers_are_a_message(cli, api_env, sandbox, rule, needle):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    sandbox.faults.add(FaultRule(**rule, method="GET", path="/v1/tasks/"))
    r = cli("status", task_id, env=api_env)
    assert r.code == 7, r
    assert needle in error_line(r.stderr)


def test_succeeded_without_outputs_exits_7(cli, api_env, workdir):
    r = cli("generate", "a fox [sandbox:no-output]", "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    assert "succeeded but returned no output URLs" in error_line(r.stderr)
    assert files_in(workdir) == []


def test_status_survives_odd_task_fields(cli, api_env, sandbox):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    odd = {"id": "x", "status": "RUNNING", "progress": "half", "estimatedCost": {"credits": "n/a"}}
    sandbox.faults.add(FaultRule(action="body", method="GET", path="/v1/tasks/", body=odd))
    r = cli("status", task_id, env=api_env)
    assert r.code == 0, r
    assert "State:    RUNNING (running)" in r.stdout


# -- creates are never sent twice unless the server provably did not take them ----------------


def test_creates_the_server_refused_are_sent_again_until_accepted(cli, api_env, sandbox):
    # 503 and 429 say the server did not take the create: safe to send again (never billed twice)
    sandbox.faults.add(
        FaultRule(action="status", status=503, method="POST", path=CREATE),
        FaultRule(action="status", status=429, method="POST", path=CREATE, retry_after="1"),
        FaultRule(action="status", status=429, method="POST", path=CREATE),
    )
    r = cli("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    creates = [e for e in sandbox.requests if e["path"] == CREATE]
    assert [e["status"] for e in creates] == [503, 429, 429, 200]
    assert creates[2]["time"] - creates[1]["time"] >= 0.95  # Retry-After: 1 was honoured
    assert r.stderr.count("POST /v1/text_to_image -> 429") == 2
    assert tasks_created(sandbox) == 1


MAY_HAVE_BEEN_CREATED = "the task may have been created"
MAY_HAVE_REACHED = "may have reached Runway"


@pytest.mark.parametrize(
    ("rule", "needle", "created"),
    [
        *(
            pytest.param(
                {"action": "status", "status": status},
                f"Runway answered HTTP {status} to the create request; {MAY_HAVE_BEEN_CREATED}",
                0,
                id=f"http-{status}",
            )
            for status in (500, 501, 502, 504, 520)
        ),
        pytest.param(
            {"action": "empty_json"},
            f"its answer has no usable task id: {MAY_HAVE_BEEN_CREATED}",
            1,
            id="empty-json",
        ),
        pytest.param(
            {"action": "body", "body": {"id": "../escape"}},
            f"its answer has no usable task id: {MAY_HAVE_BEEN_CREATED}",
            1,
            id="bad-id",
        ),
        pytest.param(
            {"action": "drop_after"},
            f"{MAY_HAVE_REACHED} (the server closed the connection); not sending it again, "
            "so you are not billed twice",
            1,
            id="dropped-after-creating",
        ),
    ],
)
def test_ambiguous_create_answers_are_not_resent(
    cli, api_env, sandbox, workdir, rule, needle, created
):
    sandbox.faults.add(FaultRule(**rule, method="POST", path=CREATE))
    r = cli("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    line = error_line(r.stderr)
    assert needle in line and "Check `runway-img history`" in line
    assert sandbox.count("POST", CREATE) == 1
    assert tasks_created(sandbox) == created  # when the server did create it: exactly once
    entry = history(cli, api_env)[0]
    assert entry["id"] is None and entry["status"] == "UNKNOWN" and entry["prompt"] == "a fox"
    assert needle.split(";")[0] in entry["note"]
    assert not (workdir.parent / "escape.png").exists()
    assert files_in(workdir) == []
    assert r.stdout == ""


def test_create_read_timeout_is_not_resent(cli, api_env, sandbox):
    sandbox.faults.add(FaultRule(action="delay", delay=1.0, method="POST", path=CREATE))
    r = cli("generate", "a fox", env={**api_env, "RUNWAY_IMG_HTTP_TIMEOUT": "0.3"})
    assert r.code == 7, r
    assert f"{MAY_HAVE_REACHED} (timed out waiting for the answer)" in error_line(r.stderr)
    # the server logs a request when it has answered it: wait for the delayed one
    wait_until(lambda: sandbox.count("POST", CREATE) == 1, what="the delayed create")
    assert tasks_created(sandbox) == 1  # the slow create did go through: not resent
    assert history(cli, api_env)[0]["status"] == "UNKNOWN"


def test_daily_limit_is_reported_plainly_and_not_retried(cli, api_env, sandbox):
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
    r = cli("generate", "a fox", env=api_env)
    assert r.code == 7, r
    line = error_line(r.stderr)
    assert "daily task limit" in line and "rolling 24 hours" in line
    assert sandbox.count("POST", CREATE) == 1  # a daily cap does not lift in seconds: no retry
    assert tasks_created(sandbox) == 0


# -- downloads never leave a broken file -------------------------------------------------------


def test_cut_download_resumes_with_range(cli, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="cut", method="GET", path=FILES))
    r = cli("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id_from(r.stderr), 0)
    gets = file_requests(sandbox)
    assert gets[0]["range"] is None and gets[1]["range"].startswith("bytes=")
    assert files_in(workdir) == ["fox.png"]


def test_verbose_explains_download_resumes_and_refreshes(cli, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="cut", method="GET", path=FILES),
        FaultRule(action="status", status=403, method="GET", path=FILES),
    )
    r = cli("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    assert "download broke (" in r.stderr and "resuming at byte" in r.stderr
    assert "output URL refused (HTTP 403); fetching fresh URLs" in r.stderr
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id_from(r.stderr), 0)


def test_cut_download_restarts_when_range_is_ignored(cli, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="cut", method="GET", path=FILES),
        FaultRule(action="no_range", method="GET", path=FILES),
    )
    r = cli("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id_from(r.stderr), 0)
    assert files_in(workdir) == ["fox.png"]


def test_expired_url_is_refreshed_from_the_task(cli, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="status", status=403, method="GET", path=FILES))
    r = cli("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id_from(r.stderr), 0)
    gets = file_requests(sandbox)
    assert [e["status"] for e in gets] == [403, 200]
    assert not any(e["authorized"] for e in gets)  # the key never goes to the file host


def test_download_that_keeps_failing_exits_8_and_touches_nothing(cli, api_env, sandbox, workdir):
    (workdir / "fox.png").write_bytes(b"keep me")
    sandbox.faults.add(FaultRule(action="drop", method="GET", path=FILES, times=None))
    r = cli("generate", "a fox", "-o", "fox.png", "--force", env=api_env)
    assert r.code == 8, r
    task_id = task_id_from(r.stderr)
    assert f"runway-img download {task_id} -o fox.png --force" in error_line(r.stderr)
    assert (workdir / "fox.png").read_bytes() == b"keep me"
    assert files_in(workdir) == ["fox.png"]
    # later, with the network healthy again, the same task is saved without a new create
    sandbox.faults.replace([])
    d = cli("download", "--last", "-o", "fox.png", "--force", env=api_env)
    assert d.code == 0, d
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    assert sandbox.count("POST", CREATE) == 1


def test_partial_multi_output_failure_keeps_and_reports_what_was_saved(
    cli, api_env, sandbox, workdir
):
    sandbox.faults.add(FaultRule(action="drop", method="GET", path=f"{FILES}*/1.png", times=None))
    r = cli("generate", "cats", "-m", "gpt_image_2", "-n", "3", "-o", "cat.png", env=api_env)
    assert r.code == 8, r
    assert r.stdout.split() == ["cat-1.png"]  # what did land is still reported as data
    task_id = task_id_from(r.stderr)
    line = error_line(r.stderr)
    assert "saved 1 of 3 files" in line
    assert f"runway-img download {task_id} -o cat.png --force" in line
    assert files_in(workdir) == ["cat-1.png"]
    assert history(cli, api_env)[0]["files"] == [str(workdir / "cat-1.png")]
    # the printed command really works once the file host recovers
    sandbox.faults.replace([])
    d = cli("download", task_id, "-o", "cat.png", "--force", env=api_env)
    assert d.code == 0, d
    assert d.stdout.split() == ["cat-1.png", "cat-2.png", "cat-3.png"]
    assert sandbox.count("POST", CREATE) == 1


def test_unknown_task_status_reads_are_not_sent_twice(cli, api_env, sandbox):
    """A 404 is an answer, not a failure: it is not retried."""
    r = cli("status", SOME_TASK_ID, env=api_env)
    assert r.code == 2, r
    assert sandbox.count("GET", "/v1/tasks/") == 1
