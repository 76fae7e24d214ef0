"""Messages and codes that point at the real cause: a base URL with /v1 or empty or not the API,
``auth login`` against something that is not the production API, rate-limit waits that are
visible (and a Ctrl-C during one that says no task was created), output URLs that are not
https, ``--count`` rules, ``auth status --json`` without a key, short keys masked, sandbox tasks
fetched from the sandbox, ``-v`` lines above a live spinner, and hints that can be pasted."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading

import pytest

from runway_cli.sandbox import FaultRule
from tests.conftest import KEY
from tests.helpers import (
    CREATE,
    SOME_TASK_ID,
    UUID,
    assert_refused,
    create_body,
    error_line,
    files_in,
    history,
    state_files,
    task_id_from,
    wait_until,
)
from tests.hostile_support import (
    FileHost,
    quick_sandbox,
    run_with_stderr_on_pty,
    screen,
    serve_succeeded_task,
)

sandbox = quick_sandbox  # tasks that end at once: these tests are about what surrounds them

# -- the base URL --------------------------------------------------------------------------------


def test_a_base_url_ending_in_v1_is_corrected_with_a_note(cli, api_env, sandbox, workdir):
    r = cli(
        "generate", "a fox", "-o", "fox.png", "--base-url", sandbox.base_url + "/v1/", env=api_env
    )
    assert r.code == 0, r
    assert f"using {sandbox.base_url} (runway-img adds /v1" in r.stderr
    assert sandbox.count("POST", CREATE) == 1 and sandbox.count("POST", "/v1/v1") == 0


def test_an_empty_base_url_is_refused(cli, api_env, sandbox, home):
    r = cli("generate", "a fox", "--base-url", "", env=api_env)
    assert_refused(r, sandbox, home, "The base URL is empty")


@pytest.mark.parametrize("command", ["status", "download"])
def test_a_404_from_something_that_is_not_the_api_says_so(cli, api_env, workdir, command):
    with FileHost({}) as host:  # a web server that answers every path with an HTML 404
        r = cli(command, SOME_TASK_ID, "--base-url", f"{host.url}/proxy", env=api_env)
    assert r.code == 7, r
    line = error_line(r.stderr)
    assert "does not look like the Runway API" in line and "--base-url" in line, line
    assert "task id" not in line.lower().replace(f"task {SOME_TASK_ID}", "")
    assert host.hits == [f"/proxy/v1/tasks/{SOME_TASK_ID}"]  # the path prefix is kept
    assert files_in(workdir) == []


@pytest.mark.parametrize("args", [("credits",), ("generate", "a fox")])
def test_a_404_with_no_task_involved_points_at_the_base_url(cli, api_env, sandbox, workdir, args):
    wrong = {**api_env, "RUNWAYML_BASE_URL": f"{sandbox.base_url}/foo"}  # an API-shaped 404
    r = cli(*args, env=wrong)
    assert r.code == 2, r
    line = error_line(r.stderr)
    assert "Check the base URL" in line and "task id" not in line, line
    assert files_in(workdir) == []


# -- auth login ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "advice"),
    [
        ("env", "Unset RUNWAYML_BASE_URL (or pass --base-url)"),
        ("flag", "That is what --base-url asked for; leave it out"),
        ("profile", "It is the profile's base URL (runway-img config unset base-url)"),
    ],
)
def test_login_against_a_sandbox_names_it_and_where_its_url_came_from(
    cli, env, sandbox, home, how, advice
):
    args, run_env = ["auth", "login"], dict(env)
    if how == "env":
        run_env["RUNWAYML_BASE_URL"] = sandbox.base_url
    elif how == "flag":
        args += ["--base-url", sandbox.base_url]
    else:
        assert cli("config", "set", "base-url", sandbox.base_url, env=env).code == 0
    r = cli(*args, env=run_env, input=KEY + "\n")
    assert r.code == 0, r
    assert f"Key accepted by {sandbox.base_url}" in r.stderr
    assert f"{sandbox.base_url} is a runway-img sandbox, not the Runway API" in r.stderr
    assert advice in r.stderr


def test_login_rejected_by_a_leftover_base_url_names_it(cli, env, sandbox, home):
    wrong = "key_" + "cd34" * 32
    r = cli("auth", "login", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url}, input=wrong + "\n")
    assert r.code == 3, r
    assert f"{sandbox.base_url} rejected this key" in error_line(r.stderr)
    assert wrong not in r.stderr + r.stdout
    assert state_files(home) == []  # not stored


# -- rate limits -----------------------------------------------------------------------------------


def test_a_rate_limit_wait_is_visible(cli, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="status", status=429, method="POST", path=CREATE, retry_after="0")
    )
    r = cli("generate", "a fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert re.search(r"Rate limited by Runway; retrying in \d+ s\.", r.stderr), r
    assert sandbox.count("POST", CREATE) == 2 and files_in(workdir) == ["fox.png"]


def _asleep(pid: int) -> bool:
    """The process's main thread is blocked (state S in /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "S"
    except OSError:
        return False


def test_ctrl_c_during_a_rate_limit_wait_says_no_task_was_created(cli, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="status", status=429, method="POST", path=CREATE, retry_after="30")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "runway_cli", "generate", "a fox", "-o", "fox.png"],
        env=api_env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    try:
        reader.start()
        wait_until(
            lambda: any("Rate limited" in line for line in lines) or proc.poll() is not None,
            timeout=15,
            what="the rate-limit note",
        )
        # Said before it sleeps: signal once it is asleep (its only wait left is the back-off).
        wait_until(lambda: _asleep(proc.pid) or proc.poll() is not None, timeout=15)
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()
        proc.wait(timeout=10)
        reader.join(timeout=5)
    finally:
        proc.kill()
    err = "".join(lines)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and out == ""
    line = error_line(err)
    assert "no task was created" in line and "may have been created" not in line, line
    assert sandbox.count("POST", CREATE) == 1
    assert history(cli, api_env) == []  # no UNKNOWN entry: nothing is in doubt
    assert files_in(workdir) == []


# -- output URLs that are not https ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://images.example.com/out.png", "file:///etc/passwd", "ftp://example.com/x.png"]
)
def test_an_output_url_that_is_not_https_is_the_servers_fault(cli, api_env, sandbox, workdir, url):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    serve_succeeded_task(sandbox, task_id, url)
    r = cli("download", task_id, "-o", "fox.png", env=api_env)
    assert r.code == 7, r
    line = error_line(r.stderr)
    assert "not https://" in line and task_id in line, line
    assert f"runway-img download {task_id} -o fox.png" in line
    assert "?" not in line.split("not https://")[1].split(")")[0]  # no signed query string
    assert files_in(workdir) == []


# -- --count -----------------------------------------------------------------------------------------


def test_the_count_cap_applies_to_models_outside_the_catalog(cli, api_env, sandbox, home):
    args = ("generate", "a fox", "-m", "future_model_9", "-r", "1:1", "--dry-run")
    over = cli(*args, "-n", "11", env=api_env)
    assert_refused(over, sandbox, home, "10")
    ok = cli(*args, "-n", "10", env=api_env)
    assert ok.code == 0, ok
    assert json.loads(ok.stdout)["outputCount"] == 10


def test_count_one_is_accepted_everywhere_and_not_sent_where_not_taken(cli, api_env, sandbox):
    r = cli("generate", "a fox", "-n", "1", "--no-wait", env=api_env)  # gen4_image: no outputCount
    assert r.code == 0, r
    assert "outputCount" not in create_body(sandbox)


# -- auth status and masking -----------------------------------------------------------------------


def test_auth_status_json_without_a_key_is_one_object(cli, env):
    r = cli("auth", "status", "--json", env=env)
    assert r.code == 3, r
    obj = json.loads(r.stdout)  # exactly one object, even with no key at all
    assert obj["key"] is None and obj["error"]["exitCode"] == 3
    error_line(r.stderr)


@pytest.mark.parametrize("key", ["key_0123456789ab", "key_01234567", "k3y"])
def test_a_short_key_is_masked_to_at_most_a_quarter(cli, env, sandbox, key):
    r = cli("auth", "status", "--json", env={**env, "RUNWAYML_API_SECRET": key,
                                                  "RUNWAYML_BASE_URL": sandbox.base_url})  # fmt: skip
    shown = json.loads(r.stdout)["key"]
    visible = len(shown.replace("…", "").replace("*", ""))
    assert visible <= len(key) // 4, shown
    assert key not in r.stdout + r.stderr


# -- the sandbox in the history ----------------------------------------------------------------------


def test_download_last_of_a_sandbox_task_fetches_it_from_the_sandbox(cli, api_env, workdir):
    made = cli("generate", "a fox", "--sandbox", "--no-wait", env=api_env)
    assert made.code == 0, made
    task_id = made.stdout.strip()
    api = cli("generate", "a real fox", "--no-wait", env=api_env)
    entries = history(cli, api_env)
    assert [(e["id"], e["sandbox"]) for e in entries] == [
        (api.stdout.strip(), False),
        (task_id, True),
    ]
    r = cli("download", task_id, "-o", "fox.png", env=api_env)  # no --sandbox: the history knows
    assert r.code == 0, r
    assert f"Task {task_id} was made in the built-in sandbox; fetching it from there." in r.stderr
    assert (workdir / "fox.png").read_bytes().startswith(b"\x89PNG")


# -- -v on a terminal --------------------------------------------------------------------------------


def test_verbose_lines_print_above_the_spinner_and_stay(api_env, sandbox, workdir):
    env = {**api_env, "TERM": "xterm-256color", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    code, raw, out = run_with_stderr_on_pty(
        ["generate", "a fox", "-v", "-o", "fox.png"], env, workdir
    )
    assert code == 0, raw
    assert out == b"fox.png\n"
    assert re.search(rb"Generating \xc2\xb7 task", raw), raw  # the spinner was live
    shown = screen(raw)
    polls = sandbox.count("GET", "/v1/tasks/")
    requests = [line for line in shown if re.search(r"\d\d:\d\d:\d\d (GET|POST) /", line)]
    assert len([line for line in requests if "GET /v1/tasks/" in line]) == polls, shown
    assert any(re.search(r"POST /v1/text_to_image -> 200 \(\d+ ms\)$", x) for x in requests), shown
    for line in requests:  # each on a line of its own, never glued to the spinner
        assert re.fullmatch(
            r"\d\d:\d\d:\d\d (GET|POST) (/v1/\S+|127\.0\.0\.1:\d+/\S+) -> \d+ \(\d+ ms\)", line
        ), line
    assert not any("Generating ·" in line for line in shown)  # the spinner is gone at the end
    assert re.search(rf"Task {UUID} created\.", "\n".join(shown))


# -- wording -------------------------------------------------------------------------------------------


def test_hints_quote_paths_for_the_shell_and_never_double_punctuation(cli, api_env, sandbox, home):
    r = cli("generate", "a fox", "-o", "my renders/fox.png", env=api_env)
    assert_refused(r, sandbox, home, "does not exist")
    line = error_line(r.stderr)
    assert "mkdir -p 'my renders'" in line, line
    assert not re.search(r"[.!?:][.!?:]|\.\s+\.", line.replace("...", "")), line


def test_a_resume_command_with_odd_names_can_be_pasted(cli, api_env, sandbox, workdir):
    sandbox.faults.add(
        FaultRule(action="status", status=500, method="GET", path="/v1/tasks/", times=None)
    )
    r = cli("generate", "a fox", "-o", "it's a fox.png", "--timeout", "0.3", env=api_env)
    assert r.code == 7, r
    task_id = task_id_from(r.stderr)
    line = error_line(r.stderr)
    assert f"""runway-img download {task_id} -o 'it'"'"'s a fox.png'""" in line, line


# -- sandbox fault rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"action": "status", "status": 99}, "status 99"),
        ({"action": "delay", "delay": -1}, "delay"),
        ({"action": "delay", "delay": 1e9}, "delay"),
        ({"action": "status", "retry_after": "1\r\nSet-Cookie: x=1"}, "retry_after"),
        ({"action": "explode"}, "explode"),
    ],
)
def test_sandbox_fault_rules_are_checked_when_loaded(cli, env, home, rule, needle):
    rules = home / "rules.json"
    rules.write_text(json.dumps([rule]))
    r = cli("sandbox", "--port", "0", "--faults", str(rules), env=env)
    assert r.code == 2, r
    assert needle in error_line(r.stderr)
    assert r.stdout == ""  # refused before serving
