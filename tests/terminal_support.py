"""Running the CLI in-process with some of its standard streams on a real pseudo-terminal.

The streams are as much a terminal as a process's would be (``isatty``, Rich's detection, a
user typing on the other side), at a fraction of a process's cost. The tests that need the
process itself (its start-up, signals, what Rich does in a fresh interpreter) spawn one; see
``tests/test_output_manners.py`` and ``tests/test_process_level.py``.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from dataclasses import dataclass

import pytest

from tests.conftest import Result, check_clean


@dataclass
class TerminalRun:
    code: int
    stdout: bytes  # what reached stdout when it was not the terminal
    screen: str  # everything the terminal showed (with its \r\n line ends)


def run_on_terminal(
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: bool = False,
    stdout: bool = False,
    answer: str | None = None,
    question_ends: str = "]:",
) -> TerminalRun:
    """Run ``runway_cli.cli.run(args)`` with stderr on a pseudo-terminal, and stdin and stdout
    too when asked. With ``answer``, type it (and Enter) once the screen shows a question (text
    ending in ``question_ends``, then maybe a space), as a user would; the typed text is
    echoed, as on a terminal.
    """
    from runway_cli import render
    from runway_cli.cli import run as run_cli

    master, slave = os.openpty()
    err = open(os.dup(slave), "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    inp = open(os.dup(slave), encoding="utf-8") if stdin else None  # noqa: SIM115
    out = (
        open(os.dup(slave), "w", encoding="utf-8", buffering=1)  # noqa: SIM115
        if stdout
        else io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    )
    os.close(slave)
    chunks: list[bytes] = []
    answered = threading.Event()

    def pump() -> None:
        seen = b""
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return  # every copy of the terminal's other end is closed: the run is over
            if not data:
                return
            chunks.append(data)
            seen += data
            asked = seen.rstrip(b" ").endswith(question_ends.encode())
            if answer is not None and asked and not answered.is_set():
                answered.set()
                os.write(master, answer.encode() + b"\n")

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    with monkeypatch.context() as m:
        m.setattr(sys, "stderr", err)
        m.setattr(sys, "stdout", out)
        if inp is not None:
            m.setattr(sys, "stdin", inp)
        m.setattr(render, "_console", None)  # a console that looks at this terminal
        try:
            code = run_cli(list(args))
        finally:
            out.flush()
            captured = b"" if stdout else out.buffer.getvalue()  # type: ignore[attr-defined]
            for stream in (err, inp, out):
                if stream is not None:
                    stream.close()  # the last copies of the terminal's end: the reader stops
    reader.join(timeout=10)
    os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    check_clean(Result(code, captured.decode("utf-8", "replace"), screen, args))
    return TerminalRun(code, captured, screen)
