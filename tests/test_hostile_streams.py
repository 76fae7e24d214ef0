"""Broken streams never cost a task: a closed or full stderr, stdout closed by its reader or
full or closed, and a closed stdin.

Each kind of breakage runs once as a process with its streams broken the way a shell breaks
them (``2>&-``, ``| head -n1``, ``| head -c``, ``>/dev/full``, ``>&-``, ``<&-``): what only a
process shows (a closed descriptor taken by the next file opened, the interpreter's last
flush, the exit status a shell sees) is checked there. The other variants of the same code
path (a full stderr, the id of ``--no-wait``, ``--json`` and image bytes into a full stdout,
``auth login`` on a closed stdin) run in-process with the stream failing as Python sees it
(see ``cli``'s ``stdout_errno``, ``stderr_errno`` and ``stdin_closed``)."""

from __future__ import annotations

import errno
import re
import shlex
import tempfile
from pathlib import Path

import pytest

from tests.conftest import Result
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


def test_a_closed_stderr_never_stops_the_wait_or_the_download(cli, api_env, sandbox, workdir):
    r = shell(f'$RW generate "a fox" -o fox.png {SMALL} 2>&-', env=api_env, cwd=workdir)
    assert r.code == 0, r
    assert r.stdout == "fox.png\n"
    task_id = _only_task(sandbox)
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    _recorded(cli, api_env, task_id, [str(workdir / "fox.png")])


def test_a_full_stderr_never_stops_the_wait_or_the_download(cli, api_env, sandbox, workdir):
    # 2>/dev/full: every line of talk fails with ENOSPC
    r = cli(
        "generate", "a fox", "-o", "fox.png", *SMALL.split(), env=api_env, stderr_errno=errno.ENOSPC
    )
    assert r.code == 0, r
    assert r.stdout == "fox.png\n" and r.stderr == ""  # every line of talk was lost
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
    # the reader is gone before anything is written: the id's write meets a broken pipe
    r = cli("generate", "a fox", "--no-wait", "-q", env=api_env, stdout_errno=errno.EPIPE)
    assert r.code == 141, r
    assert r.stderr == ""  # as if killed by SIGPIPE: quiet
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


def _check_exit_8(r: Result, cli, api_env, sandbox, workdir: Path, tmp: Path, args: str) -> None:
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
        assert saved.parent.parent == tmp, line
    else:
        assert saved == Path("fox.png"), line
    assert (workdir / saved).read_bytes() == sandbox.image_bytes(task_id, 0)  # kept, and whole
    entry = history(cli, api_env)[0]
    assert entry["id"] == task_id and entry["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("args", "closed"),
    [
        pytest.param("-o fox.png", ">/dev/full", id="path-full"),
        pytest.param("-o fox.png", ">&-", id="path-closed"),
    ],
)
def test_a_full_or_closed_stdout_is_exit_8_with_the_task_id_and_the_files(
    cli, api_env, sandbox, workdir, tmp_path, args, closed
):
    r = shell(f'$RW generate "a fox" -q {args} {SMALL} {closed}', env=api_env, cwd=workdir)
    _check_exit_8(r, cli, api_env, sandbox, workdir, tmp_path, args)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param("-o fox.png --json", id="json"),
        pytest.param("-o -", id="bytes"),
        pytest.param("--no-wait", id="no-wait"),
    ],
)
def test_every_output_into_a_full_stdout_is_exit_8_with_the_task_id_and_the_files(
    cli, api_env, sandbox, workdir, tmp_path, monkeypatch, args
):
    # >/dev/full as Python sees it: every write to stdout fails with ENOSPC
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where -o - keeps its image
    cmd = ["generate", "a fox", "-q", *args.split(), *SMALL.split()]
    r = cli(*cmd, env=api_env, stdout_errno=errno.ENOSPC)
    _check_exit_8(r, cli, api_env, sandbox, workdir, tmp_path, args)


def test_a_closed_stdin_is_one_line_and_exit_2(api_env, sandbox, home, workdir):
    r = shell("$RW generate - <&-", env=api_env, cwd=workdir, stdin=None)
    _check_closed_stdin(r, sandbox, home)


def test_a_closed_stdin_for_auth_login_is_one_line_and_exit_2(cli, api_env, sandbox, home):
    r = cli("auth", "login", env=api_env, stdin_closed=True)
    _check_closed_stdin(r, sandbox, home)


def _check_closed_stdin(r: Result, sandbox, home: Path) -> None:
    assert r.code == 2, r
    [line] = error_lines(r.stderr)
    assert "stdin" in line and "closed" in line, line
    assert r.stdout == ""
    assert sandbox.requests == []
    assert state_files(home) == []  # no key stored, no history entry
