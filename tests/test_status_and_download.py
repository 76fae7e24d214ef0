"""status and download: reattaching to a task by id, what they print, and where download saves."""

from __future__ import annotations

import json

import pytest

from tests.helpers import SOME_TASK_ID, assert_refused, file_requests, files_in


def test_no_wait_then_download_and_status(cli, api_env, sandbox, workdir):
    task_id = cli("generate", "a quiet harbour", "--no-wait", env=api_env).stdout.strip()

    d = cli("download", task_id, "-o", "later.png", env=api_env)  # waits for the end first
    assert d.code == 0, d
    assert d.stdout == "later.png\n"
    assert (workdir / "later.png").read_bytes() == sandbox.image_bytes(task_id, 0)

    s = cli("status", task_id, env=api_env)
    assert s.code == 0, s
    assert f"Task:     {task_id}" in s.stdout
    assert "SUCCEEDED" in s.stdout and "Output 1: http://127.0.0.1" in s.stdout
    assert "Cost:     5 credits" in s.stdout

    j = cli("status", task_id, "--json", env=api_env)
    assert j.code == 0, j
    task = json.loads(j.stdout)  # the API's task object, exactly as received
    assert task["id"] == task_id and task["status"] == "SUCCEEDED"
    assert task["cost"] == {"credits": 5} and isinstance(task["cost"]["credits"], int)
    assert sandbox.count("POST", "/v1/text_to_image") == 1


def test_status_of_a_failed_task_shows_reason_and_code(cli, api_env):
    task_id = cli("generate", "a fox [sandbox:fail]", "--no-wait", env=api_env).stdout.strip()
    d = cli("download", task_id, env=api_env)  # waits for the end: FAILED
    assert d.code == 4, d
    s = cli("status", task_id, env=api_env)
    assert s.code == 0, s  # status reports the state, whatever it is
    assert "State:    FAILED (failed)" in s.stdout
    assert "Failure:  The output was rejected by our quality checks." in s.stdout
    assert "Code:     INTERNAL.BAD_OUTPUT.CODE01" in s.stdout
    assert "Cost:     0 credits" in s.stdout


def test_download_fills_model_and_seed_from_history(cli, api_env, workdir):
    task_id = cli("generate", "a fox", "--seed", "7", "--no-wait", env=api_env).stdout.strip()
    r = cli("download", task_id, "-o", "{model}-{seed}-{n}.{ext}", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip() == "gen4_image-7-1.png"
    assert files_in(workdir) == ["gen4_image-7-1.png"]


@pytest.mark.parametrize(
    ("args", "output", "saved"),
    [
        pytest.param([], None, "{id}.png", id="default-name"),
        pytest.param(
            ["-m", "seedream5_pro", "--format", "jpeg"], "j-{n}.{ext}", "j-1.jpg", id="ext-template"
        ),
    ],
)
def test_download_onto_an_existing_file_is_exit_2_without_downloading(
    cli, api_env, sandbox, args, output, saved
):
    task_id = cli("generate", "x", *args, "--no-wait", env=api_env).stdout.strip()
    name = ["-o", output] if output else []
    first = cli("download", task_id, *name, env=api_env)
    assert first.code == 0, first
    assert first.stdout.strip() == saved.format(id=task_id)
    again = cli("download", task_id, *name, env=api_env)
    assert again.code == 2, again
    assert f"{saved.format(id=task_id)} already exists" in again.stderr
    assert "--force" in again.stderr
    assert len(file_requests(sandbox)) == 1  # only the first download fetched the image


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        pytest.param("nowhere/x.png", "does not exist", id="missing-folder"),
        pytest.param("{seed}.png", "{seed}", id="seed-unknown-to-history"),
    ],
)
def test_download_checks_output_before_any_request(cli, home, api_env, sandbox, output, needle):
    r = cli("download", SOME_TASK_ID, "-o", output, env=api_env)
    assert_refused(r, sandbox, home, needle)
