"""How runway-img talks, end to end: ``-q`` leaves stderr to errors and the warnings that put a
task at risk, with stdout unchanged; colour follows NO_COLOR, FORCE_COLOR and TERM=dumb, and
animation appears only when stderr really is a terminal (a real pseudo-terminal and a real pipe);
off a terminal a wait prints one line per state change and a bounded heartbeat.

Most runs are in-process; two are real processes, one with stderr on a pseudo-terminal and
one with stderr on a pipe, because how the process's streams are wired is the point there."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

from runway_cli.render import console_reporter
from runway_cli.sandbox import SandboxServer, Timeline
from tests.conftest import KEY, Result, check_clean
from tests.helpers import SOME_TASK_ID, UUID, error_line, files_in, task_id_from
from tests.hostile_support import run_with_stderr_on_pty
from tests.terminal_support import run_on_terminal

SMALL = ("-m", "gemini_image3.1_flash", "-r", "512:512")  # the cheapest image to make
SGR = re.compile(r"\x1b\[([0-9;]*)m")
SPINNER = re.compile("[\u2800-\u28ff]")  # Rich's default spinner: braille frames


def _colours(text: str) -> list[str]:
    """The SGR parameters that set a colour (bold and resets are not colours)."""
    found = []
    for params in SGR.findall(text):
        for p in params.split(";"):
            if p and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.append(p)
    return found


# -- -q: stdout unchanged, stderr only for errors and at-risk warnings ----------------------------


def _loud_and_quiet(cli, *args: str, input: str | None = None) -> tuple[Result, Result]:
    loud = cli(*args, input=input)
    quiet = cli(*args, "-q", input=input)
    assert loud.code == quiet.code, (loud, quiet)
    assert loud.stderr.strip(), f"nothing to silence: {loud!r}"  # -q has something to hide
    assert quiet.stderr == "", quiet
    return loud, quiet


def test_quiet_task_commands_keep_stdout_and_silence_stderr(cli, api_env, sandbox, workdir):
    loud, quiet = _loud_and_quiet(cli, "generate", "a fox", *SMALL, "-o", "fox.png", "--force")
    assert loud.stdout == quiet.stdout == "fox.png\n"
    task_id = task_id_from(loud.stderr)
    assert re.search(rf"^task {task_id}: pending \(0s\)$", loud.stderr, re.M)  # talk -q drops

    loud, quiet = _loud_and_quiet(cli, "download", task_id, "-o", "dl.png", "--force")
    assert loud.stdout == quiet.stdout == "dl.png\n"

    for args in (("status", task_id), ("credits",), ("history", "--prune-older-than", "999")):
        loud, quiet = _loud_and_quiet(cli, *args)
        assert loud.code == 0, loud
        # a status names signed output URLs that expire a fixed time after each answer: the
        # two runs may be a second apart
        signed = re.compile(r"expires=\d+&sig=[0-9a-f]+")
        assert signed.sub("signed", loud.stdout) == signed.sub("signed", quiet.stdout), args
        if args[0] == "status":
            assert task_id in quiet.stdout

    hung = [
        cli("generate", f"fox {n} [sandbox:hang]", *SMALL, "--no-wait", "-q").stdout.strip()
        for n in (1, 2)
    ]
    loud = cli("cancel", hung[0])
    quiet = cli("cancel", hung[1], "-q")
    assert loud.code == quiet.code == 0, (loud, quiet)
    assert "Cancelled task" in loud.stderr and "Refunds depend" in loud.stderr
    assert loud.stdout == quiet.stdout == quiet.stderr == ""

    # history (listing) prints nothing on stderr to begin with: -q changes nothing there
    assert cli("history", "-q").stdout == cli("history").stdout != ""


def test_quiet_auth_and_config_commands(cli, api_env, sandbox, home, workdir):
    loud, quiet = _loud_and_quiet(
        cli, "auth", "login", "--profile", "spare", "--base-url", sandbox.base_url, input=KEY
    )
    assert loud.stdout == quiet.stdout == ""
    assert "Key accepted" in loud.stderr and "sandbox" in loud.stderr  # a note and a warning
    for args in (
        ("auth", "status"),
        ("auth", "use", "spare"),
        ("config", "set", "ratio", "512:512"),
        ("config", "list"),
        ("config", "unset", "ratio"),
        ("auth", "logout", "--profile", "spare"),
    ):
        loud, quiet = _loud_and_quiet(cli, *args)
        assert loud.stdout == quiet.stdout, args
    listed = [cli("auth", "list", *q) for q in ((), ("-q",))]
    assert listed[0].stdout == listed[1].stdout and "* spare" in listed[0].stdout
    assert listed[0].stderr == listed[1].stderr == ""


def test_quiet_still_shows_errors_and_at_risk_warnings(cli, api_env, sandbox, home, workdir):
    r = cli("status", SOME_TASK_ID, "-q")
    assert r.code == 2 and r.stdout == ""
    assert r.stderr == error_line(r.stderr) + "\n"  # exactly the one error line

    # A history that cannot be written puts the task id at risk: said even with -q.
    blocked = home / "data" / "not-a-file"
    blocked.mkdir()
    env = {**api_env, "RUNWAY_IMG_HISTORY": str(blocked)}
    loud = cli("generate", "a fox", *SMALL, "-o", "a.png", env=env)
    quiet = cli("generate", "a fox", *SMALL, "-o", "b.png", "-q", env=env)
    assert loud.code == quiet.code == 0, (loud, quiet)
    assert (loud.stdout, quiet.stdout) == ("a.png\n", "b.png\n")
    kept = quiet.stderr.splitlines()
    assert kept and all(
        line.startswith("warning: Could not write the task history") for line in kept
    ), quiet
    task_id = task_id_from(quiet.stderr)  # the warning names the task to keep
    assert (workdir / "b.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    assert len(loud.stderr.splitlines()) > len(kept)


# -- colour and animation ---------------------------------------------------------------------


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxServer]:
    """Tasks that run for a few tenths of a second: long enough for several spinner frames."""
    with SandboxServer(keys=[KEY], timeline=Timeline(pending=0.05, running=0.4)) as server:
        yield server


def test_a_real_terminal_animates_in_colour_while_stdout_carries_only_the_image(
    env, slow_sandbox, workdir
):
    tty_env = {**env, "TERM": "xterm-256color", "COLUMNS": "160"}
    tty_env.pop("NO_COLOR")
    tty_env.update(RUNWAYML_BASE_URL=slow_sandbox.base_url, RUNWAYML_API_SECRET=KEY)
    code, raw, out = run_with_stderr_on_pty(
        ["generate", "a fox", *SMALL, "-o", "-"], tty_env, workdir
    )
    screen = raw.decode("utf-8", "replace")
    check_clean(Result(code, "", screen, ()))
    assert code == 0, screen
    task_id = task_id_from(screen)
    assert out == slow_sandbox.image_bytes(task_id, 0)  # no talk, no control codes on stdout
    assert "\r" in screen and "\x1b[2K" in screen  # frames redrawn in place
    assert len(set(SPINNER.findall(screen))) >= 2, screen  # the spinner turned
    assert re.search(rf"Generating · task {task_id} · (pending|running)", screen), screen
    assert _colours(screen), screen
    assert files_in(workdir) == []


def test_forced_colour_on_a_pipe_has_colour_but_no_animation(env, sandbox, workdir):
    piped = {**env, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    piped.pop("NO_COLOR")
    piped.update(RUNWAYML_BASE_URL=sandbox.base_url, RUNWAYML_API_SECRET=KEY)
    proc = subprocess.run(
        [sys.executable, "-m", "runway_cli", "generate", "@hero on a cliff", *SMALL, "-o", "x.png"],
        env=piped,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    r = check_clean(Result(proc.returncode, proc.stdout, proc.stderr, ()))
    assert r.code == 0 and r.stdout == "x.png\n", r
    assert _colours(r.stderr), r  # the warning label is coloured: FORCE_COLOR is honoured
    plain = SGR.sub("", r.stderr)
    assert "\x1b" not in plain and "\r" not in plain, r  # nothing but colour: no cursor moves
    assert not SPINNER.search(plain), r
    assert "warning: The prompt mentions @hero" in plain
    assert re.search(rf"^task {UUID}: pending \(0s\)$", plain, re.M), r  # a log's lines


@pytest.mark.parametrize(
    ("variables", "animates"),
    [
        pytest.param({"NO_COLOR": "1", "TERM": "xterm-256color"}, True, id="NO_COLOR"),
        pytest.param({"TERM": "dumb"}, False, id="TERM=dumb"),
    ],
)
def test_no_colour_on_a_terminal_with_no_color_or_a_dumb_terminal(
    api_env, slow_sandbox, workdir, monkeypatch, variables, animates
):
    monkeypatch.setenv("RUNWAYML_BASE_URL", slow_sandbox.base_url)
    monkeypatch.delenv("NO_COLOR")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    run = run_on_terminal(monkeypatch, "generate", "@hero on a cliff", *SMALL, "-o", "x.png")
    screen = run.screen
    assert run.code == 0, screen
    assert run.stdout == b"x.png\n"
    assert "warning: The prompt mentions @hero" in screen
    assert _colours(screen) == [], screen
    task_id = task_id_from(screen)
    if animates:  # NO_COLOR takes the colour, not the spinner
        assert "\r\x1b[2K" in screen and SPINNER.search(screen), screen
    else:  # a dumb terminal cannot redraw a line: the plain lines a log gets, nothing else
        assert "\x1b" not in screen and not SPINNER.search(screen), screen
        assert f"task {task_id}: pending (0s)\r\n" in screen, screen


# -- the plain-mode heartbeat -----------------------------------------------------------------


def test_off_a_terminal_a_wait_prints_state_changes_and_a_bounded_heartbeat(
    cli, api_env, sandbox, monkeypatch
):
    every = 0.15
    monkeypatch.setattr(console_reporter, "HEARTBEAT_EVERY", every)
    said: list[tuple[float, str]] = []
    note = console_reporter.note

    def timed_note(text: str) -> None:
        said.append((time.monotonic(), text))
        note(text)

    monkeypatch.setattr(console_reporter, "note", timed_note)
    r = cli("generate", "a fox [sandbox:hang]", *SMALL, "--timeout", "0.7", "-o", "fox.png")
    assert r.code == 6, r  # the wait timed out; the task runs on
    task_id = task_id_from(r.stderr)
    assert "\r" not in r.stderr and "\x1b" not in r.stderr  # a log, not a display

    line = re.compile(rf"^task {task_id}: (pending|running \d+%) \((\d+)s\)$")  # state, %, time
    waits = [(t, line.match(text)) for t, text in said if text.startswith("task ")]
    assert waits and all(m is not None for _, m in waits), said
    shown = [m.group(0) for _, m in waits if m]
    assert all(text in r.stderr.splitlines() for text in shown)  # what the log holds
    states = [m.group(1).split()[0] for _, m in waits if m]
    assert states[:2] == ["pending", "running"], shown  # each change of state, as it happens
    # a heartbeat repeats the state of the line before it; it comes a period after that line
    gaps = [
        t - before
        for ((before, _), old), ((t, _), new) in pairwise(zip(waits, states, strict=True))
        if new == old
    ]
    assert len(gaps) >= 2, shown  # life while nothing changes...
    # ...but never more than one per period (polls come every 0.05 s: one a poll would fail)
    assert all(gap >= every - 0.05 for gap in gaps), gaps
    assert len(waits) <= 2 + 0.7 / every + 1, shown
