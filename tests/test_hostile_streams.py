"""Broken streams never cost a task: a closed or full stderr, stdout closed by its reader or
full or closed, and a closed stdin. Each runs the CLI as a process with its streams broken the
way a shell breaks them (``2>&-``, ``2>/dev/full``, ``| head -n1``, ``>/dev/full``, ``<&-``)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Result, check_clean
from tests.helpers import CREATE, UUID_RE, files_in, history, state_files
from tests.hostile_support import error_lines, quick_sandbox, shell

sandbox = quick_sandbox  # tasks that end at once: these tests are about what surrounds them

SMALL = "-m gemini_image3.1_flash -r 512:512"


def _only_task(sandbox) -> str:
    ids = {
        e["path"].rsplit("/", 1)[1]
        for e in sandbox.requests
        if e["method"] == "GET" and e["path"].startswith("/v1/tasks/")
    }
    assert len(ids) == 1, ids
    return ids.pop()


def _recorded(cli, env, task_id: str, files: list[str]) -> None:
    [entry] = history(cli, env)
    assert entry["id"] == task_id and entry["status"] == "SUCCEEDED", entry
    assert entry["files"] == files, entry


@pytest.mark.parametrize("broken", ["2>&-", "2>/dev/full"])
def test_a_closed_or_full_stderr_never_stops_the_wait_or_the_download(
    cli, api_env, sandbox, workdir, broken
):
    r = shell(f'$RW generate "a fox" -o fox.png {SMALL} {broken}', env=api_env, cwd=workdir)
    assert r.code == 0, r
    assert r.stdout == "fox.png\n"
    task_id = _only_task(sandbox)
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    _recorded(cli, api_env, task_id, [str(workdir / "fox.png")])


def test_both_streams_into_head_keep_the_task_and_exit_141(cli, api_env, sandbox, workdir):
    # head reads the first line of talk and leaves: every later write meets a broken pipe,
    # stderr's are dropped, and stdout's (the saved path) ends the run as SIGPIPE would.
    r = shell(
        f'$RW generate "a fox" -o fox.png {SMALL} 2>&1 | head -n1; echo "${{PIPESTATUS[0]}}" >&2',
        env=api_env,
        cwd=workdir,
    )
    assert r.stderr.strip() == "141", r
    assert len(r.stdout.splitlines()) == 1, r
    task_id = _only_task(sandbox)
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    _recorded(cli, api_env, task_id, [str(workdir / "fox.png")])


def test_stdout_closed_by_its_reader_before_no_wait_prints_the_id(cli, api_env, sandbox, workdir):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "runway_cli", "generate", "a fox", "--no-wait", "-q"],
            env=api_env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(write_end)
    check_clean(Result(proc.returncode, "", proc.stderr, ()))
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""  # as if killed by SIGPIPE: quiet
    [entry] = history(cli, api_env)  # the id is kept where it can always be found
    assert entry["status"] == "CREATED" and UUID_RE.fullmatch(entry["id"])
    assert sandbox.count("POST", CREATE) == 1


def test_image_bytes_into_head_leave_no_temporary_copy(cli, api_env, sandbox, workdir, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = shell(
        f'$RW generate "a fox" -o - {SMALL} 2>/dev/null | head -c 8 >/dev/null; '
        'echo "${PIPESTATUS[0]}"',
        env={**api_env, "TMPDIR": str(tmp)},
        cwd=workdir,
    )
    assert r.stdout == "141\n", r
    assert list(tmp.iterdir()) == []  # the image went to stdout only: no copy left behind
    assert files_in(workdir) == []
    entry = history(cli, api_env)[0]
    assert entry["status"] == "SUCCEEDED" and entry["files"] == ["-"]


def _kept_path(line: str) -> Path:
    match = re.search(r"(?:kept at|saved anyway:) (\S+?)\.?$", line)
    assert match, line
    return Path(shlex.split(match.group(1))[0])


@pytest.mark.parametrize(
    ("args", "closed"),
    [
        pytest.param("-o fox.png", ">/dev/full", id="path-full"),
        pytest.param("-o fox.png --json", ">/dev/full", id="json-full"),
        pytest.param("-o -", ">/dev/full", id="bytes-full"),
        pytest.param("--no-wait", ">/dev/full", id="no-wait-full"),
        pytest.param("-o fox.png", ">&-", id="path-closed"),
    ],
)
def test_a_full_or_closed_stdout_is_exit_8_with_the_task_id_and_the_files(
    cli, api_env, sandbox, workdir, tmp_path, args, closed
):
    env = {**api_env, "TMPDIR": str(tmp_path)}  # where -o - keeps its image
    r = shell(f'$RW generate "a fox" -q {args} {SMALL} {closed}', env=env, cwd=workdir)
    assert r.code == 8, r
    [line] = error_lines(r.stderr)
    assert "stdout" in line, line
    task_id = _only_task(sandbox) if "--no-wait" not in args else UUID_RE.search(line).group(0)
    assert task_id in line, line  # exit 8 always names the task (-q hides the notes)
    if "--no-wait" in args:
        assert f"fetch it later: runway-img download {task_id}" in line, line
        assert history(cli, api_env)[0]["id"] == task_id
        return
    saved = _kept_path(line)
    if "-o -" in args:
        assert saved.parent.parent == tmp_path, line
    else:
        assert saved == Path("fox.png"), line
    assert (workdir / saved).read_bytes() == sandbox.image_bytes(task_id, 0)  # kept, and whole
    entry = history(cli, api_env)[0]
    assert entry["id"] == task_id and entry["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "args",
    [pytest.param("generate -", id="generate"), pytest.param("auth login", id="auth-login")],
)
def test_a_closed_stdin_is_one_line_and_exit_2(api_env, sandbox, home, workdir, args):
    r = shell(f"$RW {args} <&-", env=api_env, cwd=workdir, stdin=None)
    assert r.code == 2, r
    [line] = error_lines(r.stderr)
    assert "stdin" in line and "closed" in line, line
    assert r.stdout == ""
    assert sandbox.requests == []
    assert state_files(home) == []  # no key stored, no history entry
