"""Bounded input: prompt files and references are never read beyond what could be accepted, so
``/dev/zero``, a 1 GB file or a FIFO that never ends is a clear error (and a FIFO that never
sends anything honours Ctrl-C) instead of eating memory or hanging. A prompt file saved by an
editor (BOM, CRLF) reads as typed; control characters are refused with their position."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runway_cli.prompt_input import max_prompt_bytes
from tests.helpers import assert_refused, create_body, error_line, history, wait_until
from tests.hostile_support import blocked_reading_a_pipe, quick_sandbox

sandbox = quick_sandbox  # tasks that end at once: these tests are about what surrounds them

pytestmark = pytest.mark.timeout(20)  # a read that hangs fails the test, never the suite


def _endless_writer(fifo: Path, stop: threading.Event) -> threading.Thread:
    """Feed ``fifo`` zeros until its reader goes away (like ``<(yes)`` or ``/dev/zero``)."""

    def feed() -> None:
        deadline = time.monotonic() + 15
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:  # ENXIO: no reader yet
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.005)
        else:
            return
        os.set_blocking(fd, True)
        chunk = b"\0" * 65536
        try:
            while not stop.is_set():
                os.write(fd, chunk)
        except BrokenPipeError:
            pass  # the reader stopped reading: what a bounded read does
        finally:
            os.close(fd)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def endless_fifo(workdir):
    fifo = workdir.parent / "endless.fifo"
    os.mkfifo(fifo)
    stop = threading.Event()
    thread = _endless_writer(fifo, stop)
    yield fifo
    stop.set()
    thread.join(timeout=5)


@pytest.fixture
def sparse_gigabyte(workdir):
    big = workdir.parent / "huge.bin"
    with big.open("wb") as fh:
        fh.truncate(1 << 30)  # 1 GB that takes no room
    return big


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "1GB"])
def test_an_endless_prompt_file_is_refused_at_the_bound(
    cli, api_env, sandbox, home, source, request
):
    path = {
        "/dev/zero": lambda: "/dev/zero",
        "fifo": lambda: str(request.getfixturevalue("endless_fifo")),
        "1GB": lambda: str(request.getfixturevalue("sparse_gigabyte")),
    }[source]()
    r = cli("generate", "--prompt-file", path, env=api_env)
    assert_refused(r, sandbox, home, f"over {max_prompt_bytes():,} bytes")


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "1GB"])
def test_an_endless_reference_is_refused_at_the_bound(cli, api_env, sandbox, home, source, request):
    path = {
        "/dev/zero": lambda: "/dev/zero",
        "fifo": lambda: str(request.getfixturevalue("endless_fifo")),
        "1GB": lambda: str(request.getfixturevalue("sparse_gigabyte")),
    }[source]()
    r = cli("generate", "a fox", "-m", "gen4_image_turbo", "--ref", path, env=api_env)
    assert_refused(r, sandbox, home, "over 16 MB")


def test_endless_stdin_is_refused_at_the_bound(cli, api_env, sandbox, home):
    r = cli("generate", "-", env=api_env, input=b"a" * (max_prompt_bytes() + 1))
    assert_refused(r, sandbox, home, "The prompt from stdin is over")


def test_an_endless_key_on_stdin_is_refused_as_a_key(cli, env, sandbox, home):
    r = cli("auth", "login", "--no-verify", env=env, input=b"key_" + b"0" * max_prompt_bytes())
    assert_refused(r, sandbox, home, "The key from stdin is over")
    assert "prompt" not in r.stderr and "model" not in r.stderr  # it names the real cause


@pytest.mark.timeout(40)  # a process under load; a hang still fails
@pytest.mark.parametrize("option", ["--prompt-file", "--ref"])
def test_a_fifo_that_never_sends_honours_ctrl_c(api_env, sandbox, home, workdir, option):
    fifo = workdir.parent / "silent.fifo"
    os.mkfifo(fifo)
    args = (
        ["--prompt-file", str(fifo)] if option == "--prompt-file" else ["a fox", "--ref", str(fifo)]
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "runway_cli", "generate", *args, "-m", "gen4_image_turbo"],
        env=api_env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = None
    try:

        def reader_is_waiting() -> bool:
            nonlocal writer
            try:  # succeeds only once the CLI has the FIFO open for reading
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return proc.poll() is not None
            return True

        wait_until(reader_is_waiting, timeout=15, what="the CLI to open the FIFO")
        assert writer is not None, proc.communicate()
        wait_until(
            lambda: blocked_reading_a_pipe(proc.pid) or proc.poll() is not None,
            timeout=15,
            what="the CLI to wait in read()",
        )
        proc.send_signal(signal.SIGINT)  # it would wait there forever
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        if writer is not None:
            os.close(writer)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: Interrupted."
    ]
    assert out == ""
    assert sandbox.requests == []
    assert not (home / "data" / "runway-img").exists()  # nothing recorded: nothing was sent


def test_a_prompt_file_saved_with_bom_and_crlf_reads_as_typed(cli, api_env, sandbox, workdir):
    (workdir / "prompt.txt").write_bytes(b"\xef\xbb\xbfa red fox\r\n\tin deep snow\r\n\r\n")
    dry = cli("generate", "--prompt-file", "prompt.txt", "--dry-run", env=api_env)
    assert dry.code == 0, dry
    assert json.loads(dry.stdout)["promptText"] == "a red fox\n\tin deep snow"
    sent = cli("generate", "-f", "prompt.txt", "--no-wait", env=api_env)
    assert sent.code == 0, sent
    assert create_body(sandbox)["promptText"] == "a red fox\n\tin deep snow"
    assert history(cli, api_env)[0]["prompt"] == "a red fox\n\tin deep snow"


@pytest.mark.parametrize(
    ("raw", "where", "code"),
    [
        (b"a red fox\r\nin \x07snow", "line 2, column 4", "U+0007"),  # BEL, after CRLF -> LF
        (b"\xef\xbb\xbfa\x1b[31m fox", "line 1, column 2", "U+001B"),  # ESC, after the BOM
        (b"a fox\x7f", "line 1, column 6", "U+007F"),  # DEL
        ("a fox\n\nthen\u0085".encode(), "line 3, column 5", "U+0085"),  # C1 (NEL)
        (b"a fox\rin snow", "line 1, column 6", "U+000D"),  # a lone CR is not a line end
    ],
)
@pytest.mark.parametrize("via", ["file", "stdin"])
def test_control_characters_are_refused_with_their_position(
    cli, api_env, sandbox, home, workdir, raw, where, code, via
):
    if via == "file":
        (workdir.parent / "prompt.txt").write_bytes(raw)
        r = cli("generate", "-f", str(workdir.parent / "prompt.txt"), env=api_env)
    else:
        r = cli("generate", "-", env=api_env, input=raw)
    assert_refused(r, sandbox, home, f"control character ({code}) at {where}")


@pytest.mark.parametrize(
    ("text", "where", "code"),
    [
        ("a fox \x1b]0;pwned\x07", "line 1, column 7", "U+001B"),  # sets the terminal title
        ("nul a\x00b", "line 1, column 6", "U+0000"),
        ("two\nlines \x9b2J", "line 2, column 7", "U+009B"),  # C1 CSI
    ],
)
@pytest.mark.parametrize("via", ["argument", "batch"])
def test_control_characters_in_any_prompt_are_refused_before_the_create(
    cli, api_env, sandbox, home, text, where, code, via
):
    if via == "argument":  # e.g. "$(cat notes.txt)": sent, billed, then replayed raw
        r = cli("generate", text, env=api_env)
        assert_refused(r, sandbox, home, f"control character ({code}) at {where}")
        return
    r = cli("batch", "-", "-o", "out", env=api_env, input=json.dumps({"prompt": text}) + "\n")
    assert r.code == 2 and sandbox.requests == [], r
    assert f"line 1: The prompt contains a control character ({code}) at {where}" in r.stderr


def test_escapes_already_in_the_history_are_shown_not_sent_to_the_terminal(cli, api_env, home):
    path = home / "data" / "runway-img" / "history.jsonl"
    path.parent.mkdir(parents=True)
    record = {
        "event": "created",
        "id": "6a1d3b2e-6f1e-4c39-9e57-5b8d5f0f0c11",
        "time": "2026-12-01T10:00:00Z",
        "model": "gen4_image",
        "prompt": "a fox \x1b]0;pwned\x07\x1b[2J",
    }
    path.write_text(json.dumps(record) + "\n")
    r = cli("history", env=api_env)
    assert r.code == 0, r
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "a fox \\x1b]0;pwned\\x07" in r.stdout


def test_a_prompt_file_that_is_not_utf8_names_the_byte(cli, api_env, sandbox, home, workdir):
    (workdir.parent / "latin1.txt").write_bytes("a café".encode("latin-1"))
    r = cli("generate", "-f", str(workdir.parent / "latin1.txt"), env=api_env)
    assert_refused(r, sandbox, home, "not UTF-8 text (byte 6 is not valid)")


@pytest.mark.parametrize("option", ["-f", "--ref"])
def test_a_folder_given_as_a_file_is_one_line(cli, api_env, sandbox, home, option):
    args = ["-f", str(home)] if option == "-f" else ["a fox", "--ref", str(home)]
    r = cli("generate", *args, "-m", "gen4_image_turbo", env=api_env)
    assert_refused(r, sandbox, home, "folder")
    assert str(home) in error_line(r.stderr)


def test_values_quoted_back_in_messages_never_reach_the_terminal_as_escapes(
    cli, api_env, sandbox, home
):
    line = json.dumps({"prompt": "a fox", "model": "x\x1b]0;T\x07\x9b", "ratio": "1:1"}) + "\n"
    r = cli("batch", "-", "-o", "out", "--dry-run", env=api_env, input=line)
    assert r.code == 0 and sandbox.requests == [], r
    assert "\x1b" not in r.stderr and "\x9b" not in r.stderr and "\x07" not in r.stderr
    assert "warning: x\\x1b]0;T\\x07\\x9b is not in the model catalog" in r.stderr

    config = home / "config" / "runway-img" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"profiles": {"default": {"model": "m\x1b[2J"}}}))
    listed = cli("config", "list", env=api_env)
    assert listed.code == 0, listed
    assert "\x1b" not in listed.stdout and "m\\x1b[2J" in listed.stdout
    made = cli("generate", "a fox", env=api_env)  # the model is unknown: a message quotes it
    assert "\x1b" not in made.stderr
