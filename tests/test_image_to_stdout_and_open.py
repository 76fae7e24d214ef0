"""``-o -`` and ``--open``, end to end against the sandbox.

``-o -``: the image's exact bytes and nothing else on stdout, verified in a temporary folder that
is gone afterwards; refused (exit 2, nothing sent, nothing created) with ``--json``, for several
outputs and when stdout is a terminal. ``--open``: each saved file is handed to the system
viewer (a fake ``xdg-open`` first in ``PATH`` records what it was given), except in CI or
without a display, which a note explains."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from runway_cli.sandbox import FaultRule
from tests.conftest import KEY, Result, check_clean
from tests.helpers import (
    api_headers,
    error_line,
    files_in,
    history,
    state_files,
    task_id_from,
    wait_until,
)
from tests.terminal_support import run_on_terminal

SMALL = ("-m", "gemini_image3.1_flash", "-r", "512:512")


@pytest.fixture
def tmpdir_(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder (TMPDIR) of the run, empty: to show nothing is left in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def cli_bytes(*args: str) -> tuple[Result, bytes]:
    """Run in-process like the ``cli`` fixture, keeping stdout as bytes (an image)."""
    from typer.testing import CliRunner

    from runway_cli.cli import run as run_cli

    with CliRunner().isolation() as streams:
        code = run_cli(list(args))
        sys.stdout.flush()
        sys.stderr.flush()
        out = streams[0].getvalue()
        err = streams[1].getvalue().decode("utf-8", "replace")
    return check_clean(Result(code, out.decode("utf-8", "replace"), err, args)), out


# -- -o - ---------------------------------------------------------------------------------------


def test_generate_and_download_write_exactly_the_image_bytes_to_stdout(
    cli, api_env, sandbox, workdir, tmpdir_
):
    r, out = cli_bytes("generate", "a fox", *SMALL, "-o", "-")
    assert r.code == 0, r
    task_id = task_id_from(r.stderr)
    image = sandbox.image_bytes(task_id, 0)
    assert out == image  # the bytes, and nothing else: no path, no newline
    assert files_in(tmpdir_) == [] and files_in(workdir) == []  # the checked copy is gone
    [entry] = history(cli, api_env)
    assert entry["id"] == task_id and entry["status"] == "SUCCEEDED" and entry["files"] == ["-"]

    r, out = cli_bytes("download", task_id, "-o", "-")
    assert r.code == 0, r
    assert out == image
    assert files_in(tmpdir_) == [] and files_in(workdir) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(("a fox", *SMALL, "--json"), "cannot go with --json", id="json"),
        pytest.param(
            ("cats", "-m", "gpt_image_2", "-n", "2"), "this request makes 2", id="two-outputs"
        ),
    ],
)
def test_image_bytes_on_stdout_are_refused_before_anything_is_sent(
    cli, api_env, sandbox, home, workdir, tmpdir_, args, needle
):
    r = cli("generate", *args, "-o", "-")
    assert r.code == 2, r
    assert needle in error_line(r.stderr)
    if "--json" in args:  # still one JSON object, holding the error
        assert json.loads(r.stdout)["error"]["kind"] == "usage"
    else:
        assert r.stdout == ""
    assert sandbox.requests == []
    assert files_in(tmpdir_) == files_in(workdir) == state_files(home) == []


def test_image_bytes_are_refused_on_a_terminal(
    api_env, sandbox, home, workdir, tmpdir_, monkeypatch
):
    run = run_on_terminal(monkeypatch, "generate", "a fox", *SMALL, "-o", "-", stdout=True)
    assert run.code == 2, run.screen
    assert "error: Refusing to write image bytes to a terminal" in run.screen
    assert "\x89PNG" not in run.screen
    assert sandbox.requests == []
    assert files_in(tmpdir_) == files_in(workdir) == state_files(home) == []


def test_several_outputs_for_stdout_are_refused_before_or_after_the_wait(
    cli, api_env, sandbox, workdir, tmpdir_
):
    made = cli("generate", "cats", "-m", "gpt_image_2", "-n", "2", "--no-wait", "-q")
    task_id = made.stdout.strip()
    url = f"{sandbox.base_url}/v1/tasks/{task_id}"

    def task() -> dict:
        return dict(requests.get(url, headers=api_headers(KEY), timeout=10).json())

    wait_until(lambda: task()["status"] == "SUCCEEDED", what="the task to finish")
    # The download's first look finds it still running (as it would have a moment earlier):
    # how many images it makes is known only at the end of the wait.
    running = {**task(), "status": "RUNNING", "progress": 0.5, "output": None}
    sandbox.faults.add(FaultRule("body", method="GET", path=f"/v1/tasks/{task_id}", body=running))
    r, out = cli_bytes("download", task_id, "-o", "-")
    assert r.code == 8, r
    line = error_line(r.stderr)
    assert f"-o - writes one image; task {task_id} made several" in line
    # the way out is a folder: the same command again would be refused
    assert line.endswith(f"save them with: runway-img download {task_id} -o FOLDER/"), line
    assert out == b"" and sandbox.count("GET", "/_sandbox/files/") == 0  # nothing downloaded
    assert files_in(tmpdir_) == files_in(workdir) == []
    [entry] = history(cli, api_env)
    assert entry["status"] == "SUCCEEDED" and entry["files"] == []
    # Finished: refused at once, as bad input.
    r, out = cli_bytes("download", task_id, "-o", "-")
    assert r.code == 2, r
    assert f"task {task_id} has 2. Save them to a folder instead" in error_line(r.stderr)
    assert out == b"" and sandbox.count("GET", "/_sandbox/files/") == 0
    assert files_in(tmpdir_) == files_in(workdir) == []


# -- --open -------------------------------------------------------------------------------------


@pytest.fixture
def viewer(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``xdg-open`` first in PATH, appending each argument it gets to a log; a display."""
    bin_dir = home / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "xdg-open"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" >> "$0.log"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return bin_dir / "xdg-open.log"


def _opened(log: Path, count: int) -> list[str]:
    wait_until(
        lambda: log.exists() and len(log.read_text().splitlines()) >= count,
        what=f"{count} file(s) handed to xdg-open",
    )
    return sorted(log.read_text().splitlines())


def test_generate_open_hands_every_saved_file_to_the_viewer(cli, api_env, workdir, viewer):
    r = cli("generate", "cats", "-m", "gpt_image_2", "-n", "2", "-o", "cat.png", "--open")
    assert r.code == 0, r
    assert r.stdout == "cat-1.png\ncat-2.png\n"  # stdout is still only the paths
    assert _opened(viewer, 2) == [str(workdir / "cat-1.png"), str(workdir / "cat-2.png")]


def test_download_open_hands_the_saved_file_to_the_viewer(cli, api_env, workdir, viewer):
    task_id = cli("generate", "a fox", *SMALL, "--no-wait", "-q").stdout.strip()
    (workdir / "renders").mkdir()
    r = cli("download", task_id, "-o", "renders/", "--open")
    assert r.code == 0, r
    saved = workdir / r.stdout.strip()
    assert saved.parent == workdir / "renders" and saved.is_file()
    assert _opened(viewer, 1) == [str(saved)]


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        pytest.param({"CI": "1"}, "CI is set", id="CI"),
        pytest.param({"DISPLAY": ""}, "there is no display", id="no-display"),
    ],
)
def test_open_never_launches_a_viewer_in_ci_or_without_a_display(
    cli, api_env, workdir, viewer, monkeypatch, variables, reason
):
    launched: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(args, *rest, **kw):  # type: ignore[no-untyped-def]
        launched.append(list(args))
        return real_popen(args, *rest, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    r = cli("generate", "a fox", *SMALL, "-o", "fox.png", "--open")
    assert r.code == 0, r
    assert r.stdout == "fox.png\n" and (workdir / "fox.png").is_file()  # saved all the same
    assert f"Not opening the images: {reason}" in r.stderr
    assert launched == [] and not viewer.exists()
