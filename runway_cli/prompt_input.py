"""Reading a prompt from an argument, a file or stdin: bounded, normalised, checked.

A prompt file or stdin is never read beyond what any model accepts (``/dev/zero``, a huge file,
a FIFO get a clear error instead of eating memory). A UTF-8 BOM at the start is dropped, CRLF
line ends become LF, trailing newlines are removed, and control characters other than newline
and tab are refused with their position.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import BinaryIO

from runway_cli.catalog import all_models
from runway_cli.errors import UsageError
from runway_cli.input_checks import control_character

# Room for what editors add around a prompt: a BOM, line ends, trailing blank lines.
_SLACK = 64


def max_prompt_bytes() -> int:
    """UTF-8 bytes of the longest prompt any catalog model accepts (3 bytes per UTF-16 unit
    at most), plus a little slack, so reading more can only end in a refusal."""
    longest = max((m.prompt_max or 0) for m in all_models().values())
    return 3 * longest + _SLACK


def _read_bounded(stream: BinaryIO, source: str, what: str = "the prompt") -> bytes:
    limit = max_prompt_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        if what != "the prompt":  # e.g. the key for auth login: no model, no file involved
            raise UsageError(
                f"{what[:1].upper()}{what[1:]} from {source} is over {limit:,} bytes; "
                "that cannot be it.",
                hint="Check what is piped into runway-img.",
            )
        raise UsageError(
            f"The prompt from {source} is over {limit:,} bytes, longer than any model accepts.",
            hint="Check you named the right file.",
        )
    return data


def normalise(raw: bytes, source: str) -> str:
    """Decoded, BOM dropped, CRLF -> LF, trailing newlines removed; UsageError for bad input."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"The prompt from {source} is not UTF-8 text (byte {exc.start + 1} is not valid)."
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").rstrip("\n")
    where = control_character(text)
    if where is not None:
        raise UsageError(
            f"The prompt from {source} contains a control character {where}; only newlines "
            "and tabs are allowed."
        )
    return text


def read_prompt(prompt: str | None, prompt_file: Path | None) -> str:
    """The prompt text from exactly one of: the argument, ``-`` (stdin), ``--prompt-file``."""
    if (prompt is None) == (prompt_file is None):
        raise UsageError(
            "Give the prompt as an argument, as - for stdin, or with --prompt-file (one of them)."
        )
    if prompt_file is not None:
        return normalise(_read_file(prompt_file), str(prompt_file))
    assert prompt is not None
    if prompt != "-":
        return prompt
    return normalise(read_stdin("the prompt"), "stdin")


def _read_file(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise UsageError(f"Cannot read the prompt file {path}: it is a folder.")
        with path.open("rb") as fh:
            return _read_bounded(fh, str(path))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"Cannot read the prompt file {path}: {reason}.") from None


def read_stdin(what: str) -> bytes:
    """Bounded bytes from stdin; UsageError when stdin is closed or unreadable."""
    stream = sys.stdin
    if stream is None or not _fd_open(stream):
        raise UsageError(f"Cannot read {what} from stdin: it is closed.")
    try:
        return _read_bounded(stream.buffer, "stdin", what)
    except (OSError, ValueError) as exc:
        raise UsageError(f"Cannot read {what} from stdin: {exc}.") from None


def confirm(question: str) -> bool:
    """Ask ``question`` (a terminal's user; check ``stdin_is_terminal`` first): True only for
    y or yes. The whole question goes to stderr, even with -q, and nothing to stdout, which is
    data (click's confirm printed the space after its colon on stdout). An empty answer or
    the end of input is no; Ctrl-C interrupts as anywhere else."""
    while True:
        try:
            sys.stderr.write(f"{question} [y/N]: ")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass  # a question nobody can see is still answered no by an empty line
        line = sys.stdin.readline() if sys.stdin is not None else ""
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if not line or answer in ("", "n", "no"):
            return False
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write("Please answer y or n.\n")


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and _fd_open(sys.stdin) and sys.stdin.isatty()


def _fd_open(stream: object) -> bool:
    try:
        fileno = stream.fileno()  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return True  # not a real file (a test's stdin): readable as it is
    try:
        os.fstat(fileno)
    except OSError:
        return False
    return True
