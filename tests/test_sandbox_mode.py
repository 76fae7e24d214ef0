"""--sandbox / RUNWAY_IMG_SANDBOX (the in-process sandbox), the `sandbox` command's checks, and
the sandbox server's own answers to any HTTP client. (Serving in the foreground until Ctrl-C is
in test_process_level.py.)"""

from __future__ import annotations

import re
import socket

import pytest
import requests

from runway_cli.sandbox.images import png_size
from tests.conftest import KEY
from tests.helpers import api_headers, error_line, wait_until


def test_generate_with_sandbox_flag_needs_no_key(cli, env, workdir):
    r = cli(
        "generate", "a lighthouse at dusk", "--ratio", "1280:720", "-o", "out.png", "--sandbox",
        env=env,
    )  # fmt: skip
    assert r.code == 0, r
    assert r.stdout == "out.png\n"
    assert png_size((workdir / "out.png").read_bytes()) == (1280, 720)
    assert "built-in sandbox" in r.stderr and "no credits spent" in r.stderr


@pytest.mark.parametrize(
    ("switch", "env_switch"),
    [
        pytest.param(["--sandbox"], {}, id="flag"),
        pytest.param([], {"RUNWAY_IMG_SANDBOX": "1"}, id="env"),
    ],
)
def test_sandbox_state_persists_across_invocations(cli, env, workdir, switch, env_switch):
    run_env = {**env, **env_switch}
    r = cli("generate", "a harbour", "--no-wait", *switch, env=run_env)
    assert r.code == 0, r
    task_id = r.stdout.strip()
    assert f"runway-img download {task_id} --sandbox" in r.stderr
    s = cli("status", task_id, *switch, env=run_env)
    assert s.code == 0, s
    assert "built-in sandbox" in s.stderr
    assert f"Task:     {task_id}" in s.stdout and "State:" in s.stdout
    d = cli("download", task_id, *switch, env=run_env)
    assert d.code == 0, d
    assert d.stdout.strip() == f"{task_id}.png"
    assert (workdir / f"{task_id}.png").read_bytes().startswith(b"\x89PNG")


def test_corrupt_sandbox_state_is_a_message(cli, env, home):
    state = home / "cache" / "runway-img" / "sandbox.sqlite3"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"this is not a database" * 100)
    r = cli("generate", "a fox", "--sandbox", env=env)
    assert r.code == 2, r
    assert "delete it to start over" in error_line(r.stderr)


def test_a_folder_given_as_the_sandbox_state_is_not_to_be_deleted(cli, env, workdir):
    r = cli("sandbox", "--port", "0", "--state", str(workdir), env=env)
    assert r.code == 2, r
    line = error_line(r.stderr)
    assert "is not a file" in line and "give --state a file path" in line
    assert "delete" not in line and r.stdout == ""


# -- the `sandbox` command refuses what it cannot serve, before serving -------------------------


@pytest.fixture
def bad_faults_file(workdir):
    path = workdir / "faults.json"
    path.write_text('[{"action": "status", "times": "abc"}]')
    return str(path)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["--port", "99999"], "Invalid value for '--port'", id="port-out-of-range"),
        pytest.param(
            ["--port", "0", "--task-seconds", "0"],
            "--task-seconds must be a positive number",
            id="task-seconds",
        ),
        pytest.param(
            ["--port", "0", "--faults", "FAULTS"], "Cannot use the fault file", id="faults"
        ),
        pytest.param(["--port", "IN_USE"], "Cannot listen on 127.0.0.1", id="port-in-use"),
    ],
)
def test_sandbox_command_bad_options_exit_2(cli, env, sandbox, bad_faults_file, args, needle):
    port = sandbox.base_url.rsplit(":", 1)[1]
    args = [{"FAULTS": bad_faults_file, "IN_USE": port}.get(a, a) for a in args]
    r = cli("sandbox", *args, env=env)
    assert r.code == 2, r
    assert needle in r.stderr
    assert r.stdout == ""  # no export lines: nothing is being served


# -- the server, to any HTTP client ------------------------------------------------------------


def _create(sandbox, prompt: str, ratio: str = "1280:720") -> dict:
    answer = requests.post(
        f"{sandbox.base_url}/v1/text_to_image",
        json={"model": "gen4_image", "promptText": prompt, "ratio": ratio},
        headers=api_headers(KEY),
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_delete_cancels_then_the_task_is_gone(sandbox):
    created = _create(sandbox, "x [sandbox:hang]")
    url = f"{sandbox.base_url}/v1/tasks/{created['id']}"
    h = api_headers(KEY)
    assert requests.delete(url, headers=h, timeout=5).status_code == 204
    # "Aborted and deleted tasks will not be able to be fetched again"
    for method in (requests.get, requests.delete):
        gone = method(url, headers=h, timeout=5)
        assert gone.status_code == 404 and gone.json() == {"error": "Could not find Task"}


def test_missing_version_header_is_refused(sandbox):
    r = requests.get(
        f"{sandbox.base_url}/v1/organization", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )
    assert r.status_code == 400 and "X-Runway-Version" in r.json()["error"]


def test_expired_output_url_is_refused(sandbox):
    created = _create(sandbox, "x", ratio="720:720")
    url = f"{sandbox.base_url}/v1/tasks/{created['id']}"
    tasks = []

    def succeeded() -> bool:
        tasks.append(requests.get(url, headers=api_headers(KEY), timeout=5).json())
        return tasks[-1]["status"] == "SUCCEEDED"

    wait_until(succeeded, timeout=10, what="the task to succeed")
    output = tasks[-1]["output"][0]
    assert requests.get(output, timeout=5).status_code == 200
    tampered = re.sub(r"expires=\d+", "expires=1", output)
    assert requests.get(tampered, timeout=5).status_code == 403


def test_fault_rules_with_bad_types_are_refused(sandbox):
    r = requests.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json=[{"action": "status", "times": "abc"}],
        headers=api_headers(KEY),
        timeout=5,
    )
    assert r.status_code == 400 and "Bad fault list" in r.json()["error"]
    ok = requests.get(f"{sandbox.base_url}/v1/organization", headers=api_headers(KEY), timeout=5)
    assert ok.status_code == 200  # the bad rule list was not installed


def test_bad_content_length_gets_a_400(sandbox):
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            f"POST /v1/text_to_image HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: abc\r\n\r\n".encode()
        )
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
