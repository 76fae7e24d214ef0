"""--sandbox / RUNWAY_IMG_SANDBOX and the foreground `runway-img sandbox` server."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import requests

from runway_cli.sandbox.images import png_size
from tests.conftest import KEY


def test_generate_with_sandbox_flag_needs_no_key(run, env, workdir):
    r = run(
        "generate",
        "a lighthouse at dusk",
        "--ratio",
        "1280:720",
        "-o",
        "out.png",
        "--sandbox",
        env=env,
    )
    assert r.code == 0, r
    assert r.stdout == "out.png\n"
    assert png_size((workdir / "out.png").read_bytes()) == (1280, 720)
    assert "built-in sandbox" in r.stderr and "no credits spent" in r.stderr


def test_sandbox_state_persists_across_invocations(run, env, workdir):
    r = run("generate", "a harbour", "--no-wait", "--sandbox", env=env)
    assert r.code == 0, r
    task_id = r.stdout.strip()
    assert f"runway-img download {task_id} --sandbox" in r.stderr
    d = run("download", task_id, "--sandbox", env=env)
    assert d.code == 0, d
    assert d.stdout.strip() == f"{task_id}.png"
    assert (workdir / f"{task_id}.png").read_bytes().startswith(b"\x89PNG")


def test_sandbox_env_var_turns_it_on(run, env):
    r = run("generate", "a harbour", "--no-wait", env={**env, "RUNWAY_IMG_SANDBOX": "1"})
    assert r.code == 0, r
    s = run("status", r.stdout.strip(), env={**env, "RUNWAY_IMG_SANDBOX": "1"})
    assert s.code == 0, s
    assert "built-in sandbox" in s.stderr
    assert "State:" in s.stdout


def _read_until(stream, pattern: str, deadline: float) -> list[str]:
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"never saw {pattern!r} in {lines!r}")


def _foreground_sandbox(env, state, *extra):
    """Start `runway-img sandbox` on a free port; return (process, exported variables)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runway_cli",
            "sandbox",
            "--port",
            "0",
            "--key",
            KEY,
            "--task-seconds",
            "0.3",
            "--state",
            str(state),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _read_until(proc.stdout, r"RUNWAYML_API_SECRET=", time.monotonic() + 20)
    except BaseException:
        proc.kill()
        raise
    return proc, dict(line.removeprefix("export ").strip().split("=", 1) for line in lines)


def _generate_against(env, base, workdir, *args):
    return subprocess.run(
        [sys.executable, "-m", "runway_cli", "generate", "a fox", *args],
        env={**env, "RUNWAYML_BASE_URL": base, "RUNWAYML_API_SECRET": KEY},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_foreground_sandbox_serves_real_clients(env, workdir):
    proc, exports = _foreground_sandbox(env, workdir.parent / "fg.sqlite3")
    try:
        base = exports["RUNWAYML_BASE_URL"]
        assert exports["RUNWAYML_API_SECRET"] == KEY
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        # any HTTP client can use it
        bad = requests.get(
            f"{base}/v1/organization", headers={"Authorization": "Bearer nope"}, timeout=5
        )
        assert bad.status_code == 401
        gen = _generate_against(env, base, workdir, "-o", "fg.png")
        assert gen.returncode == 0, gen.stderr
        assert (workdir / "fg.png").read_bytes().startswith(b"\x89PNG")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Sandbox stopped" in err
    assert "Traceback" not in err


def test_foreground_sandbox_port_in_use_is_a_message(env, sandbox):
    port = sandbox.base_url.rsplit(":", 1)[1]
    r = subprocess.run(
        [sys.executable, "-m", "runway_cli", "sandbox", "--port", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 2
    assert "Cannot listen on 127.0.0.1" in r.stderr and "Traceback" not in r.stderr


def test_sandbox_delete_cancels_then_deletes(sandbox):
    h = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
    created = requests.post(
        f"{sandbox.base_url}/v1/text_to_image",
        json={"model": "gen4_image", "promptText": "x [sandbox:hang]", "ratio": "1280:720"},
        headers=h,
        timeout=5,
    ).json()
    url = f"{sandbox.base_url}/v1/tasks/{created['id']}"
    assert requests.delete(url, headers=h, timeout=5).status_code == 204
    assert requests.get(url, headers=h, timeout=5).json()["status"] == "CANCELLED"
    assert requests.delete(url, headers=h, timeout=5).status_code == 204
    gone = requests.get(url, headers=h, timeout=5)
    assert gone.status_code == 404 and gone.json() == {"error": "Could not find Task"}


def test_sandbox_requires_version_header(sandbox):
    r = requests.get(
        f"{sandbox.base_url}/v1/organization", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )
    assert r.status_code == 400 and "X-Runway-Version" in r.json()["error"]


def test_expired_output_url_is_refused(sandbox):
    h = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
    created = requests.post(
        f"{sandbox.base_url}/v1/text_to_image",
        json={"model": "gen4_image", "promptText": "x", "ratio": "720:720"},
        headers=h,
        timeout=5,
    ).json()
    deadline = time.monotonic() + 10
    while True:
        task = requests.get(
            f"{sandbox.base_url}/v1/tasks/{created['id']}", headers=h, timeout=5
        ).json()
        if task["status"] == "SUCCEEDED" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    url = task["output"][0]
    assert requests.get(url, timeout=5).status_code == 200
    tampered = re.sub(r"expires=\d+", "expires=1", url)
    assert requests.get(tampered, timeout=5).status_code == 403


def test_foreground_sandbox_loads_a_faults_file(env, workdir):
    rules = workdir.parent / "rules.json"
    rules.write_text(
        '[{"action": "status", "status": 503, "method": "POST", "path": "/v1/text_to_image"}]'
    )
    proc, exports = _foreground_sandbox(env, workdir.parent / "ff.sqlite3", "--faults", str(rules))
    try:
        base = exports["RUNWAYML_BASE_URL"]
        gen = _generate_against(env, base, workdir, "-o", "ff.png", "-v")
        assert gen.returncode == 0, gen.stderr
        assert "POST /v1/text_to_image -> 503" in gen.stderr  # the injected fault, then a retry
        log = requests.get(f"{base}/_sandbox/requests", timeout=5).json()
        assert [e["status"] for e in log if e["path"] == "/v1/text_to_image"] == [503, 200]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
