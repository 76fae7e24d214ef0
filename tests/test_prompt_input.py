"""Reading the prompt from an argument, a file or stdin: bounded, normalised (BOM, CRLF,
trailing newlines), control characters refused with their position, closed stdin handled."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runway_cli.errors import UsageError
from runway_cli.prompt_input import (
    max_prompt_bytes,
    normalise,
    read_prompt,
    read_stdin,
    stdin_is_terminal,
)

LIMIT = max_prompt_bytes()


def stdin_of(data: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


@pytest.fixture
def prompt_file(tmp_path: Path):
    def write(data: bytes) -> Path:
        path = tmp_path / "prompt.txt"
        path.write_bytes(data)
        return path

    return write


# --- normalise ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"a fox", "a fox"),
        (b"\xef\xbb\xbfa fox", "a fox"),  # a UTF-8 BOM is dropped
        (b"a fox\r\nin snow\r\n", "a fox\nin snow"),  # CRLF -> LF, trailing newline dropped
        (b"a fox\n\n\n", "a fox"),
        (b"\n\na fox", "\n\na fox"),  # leading newlines are the user's
        (b"a\tfox ", "a\tfox "),  # tabs and trailing spaces are kept
        ("r\u00e9sum\u00e9 \U0001f98a".encode(), "r\u00e9sum\u00e9 \U0001f98a"),
        (b"", ""),
    ],
)
def test_normalise(raw: bytes, text: str) -> None:
    assert normalise(raw, "stdin") == text


@pytest.mark.parametrize(
    ("raw", "char", "line", "column"),
    [
        (b"a\x00fox", "U+0000", 1, 2),
        (b"a fox\nin \x1b[31msnow", "U+001B", 2, 4),
        (b"\x7f", "U+007F", 1, 1),
        (b"one\rtwo", "U+000D", 1, 4),  # a lone CR is not a line end
        ("\u00e9\u00e9\x07".encode(), "U+0007", 1, 3),  # columns count characters, not bytes
    ],
)
def test_control_characters_are_refused_with_their_position(raw, char, line, column) -> None:
    with pytest.raises(UsageError) as info:
        normalise(raw, "prompt.txt")
    assert info.value.message == (
        f"The prompt from prompt.txt contains a control character ({char}) at line {line}, "
        f"column {column}; only newlines and tabs are allowed."
    )


def test_c1_control_characters_are_refused() -> None:
    with pytest.raises(UsageError, match="control character"):
        normalise("a \u009b31m fox".encode(), "stdin")


def test_bytes_that_are_not_utf8_name_their_position() -> None:
    with pytest.raises(UsageError, match=r"not UTF-8 text \(byte 3 is not valid\)"):
        normalise(b"ab\xffcd", "stdin")


@given(st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\n\t")))
def test_printable_text_round_trips_but_for_trailing_newlines(text: str) -> None:
    assert normalise(text.encode(), "stdin") == text.rstrip("\n")


@given(st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.just("\n"), max_size=50))
def test_crlf_and_lf_files_read_the_same(text: str) -> None:
    crlf = text.replace("\n", "\r\n").encode()
    assert normalise(crlf, "f") == normalise(text.encode(), "f")


# --- read_prompt ---------------------------------------------------------------------------------


def test_the_argument_is_taken_as_it_is() -> None:
    assert read_prompt("a fox\r\n", None) == "a fox\r\n"


@pytest.mark.parametrize(("prompt", "path"), [(None, None), ("a fox", Path("p.txt"))])
def test_exactly_one_source(prompt: str | None, path: Path | None) -> None:
    with pytest.raises(UsageError, match="one of them"):
        read_prompt(prompt, path)


def test_from_a_file(prompt_file) -> None:
    assert read_prompt(None, prompt_file(b"\xef\xbb\xbfa fox\r\n")) == "a fox"


def test_a_file_at_the_limit_is_read(prompt_file) -> None:
    assert len(read_prompt(None, prompt_file(b"a" * LIMIT))) == LIMIT


def test_a_file_over_the_limit_is_refused(prompt_file) -> None:
    with pytest.raises(UsageError, match=f"over {LIMIT:,} bytes") as info:
        read_prompt(None, prompt_file(b"a" * (LIMIT + 1)))
    assert "right file" in (info.value.hint or "")


def test_the_longest_accepted_prompt_can_be_read_from_a_file(prompt_file) -> None:
    text = "\u4e2d" * (LIMIT // 3)
    assert read_prompt(None, prompt_file(text.encode() + b"\n")) == text


def test_a_device_that_never_ends_is_refused() -> None:
    with pytest.raises(UsageError, match="over"):
        read_prompt(None, Path("/dev/zero"))


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d, "it is a folder"),
        (lambda d: d / "missing.txt", "No such file or directory"),
    ],
)
def test_unreadable_prompt_files(tmp_path: Path, make, needle: str) -> None:
    with pytest.raises(UsageError, match=f"Cannot read the prompt file .*{needle}"):
        read_prompt(None, make(tmp_path))


# --- stdin ------------------------------------------------------------------------------------------


def test_from_stdin(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", stdin_of(b"\xef\xbb\xbfa fox\r\n"))
    assert read_prompt("-", None) == "a fox"
    assert not stdin_is_terminal()


def test_stdin_over_the_limit(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", stdin_of(b"a" * (LIMIT + 10)))
    with pytest.raises(UsageError, match="The prompt from stdin is over"):
        read_prompt("-", None)


def test_no_stdin_at_all(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(UsageError, match="Cannot read the prompt from stdin: it is closed"):
        read_prompt("-", None)
    assert not stdin_is_terminal()


def test_a_closed_stdin_descriptor(monkeypatch) -> None:
    read_end, write_end = os.pipe()
    os.close(write_end)
    os.close(read_end)

    class Closed:
        def fileno(self) -> int:
            return read_end

    monkeypatch.setattr("sys.stdin", Closed())
    with pytest.raises(UsageError, match="Cannot read the key from stdin: it is closed"):
        read_stdin("the key")
    assert not stdin_is_terminal()


def test_a_stdin_that_fails_to_read(monkeypatch) -> None:
    stream = stdin_of(b"a fox")
    stream.close()
    monkeypatch.setattr("sys.stdin", stream)
    with pytest.raises(UsageError, match=r"Cannot read the prompt from stdin: .*closed file"):
        read_prompt("-", None)


def test_stdin_as_a_pipe(monkeypatch) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"a fox\n")
    os.close(write_end)
    with os.fdopen(read_end, "r", encoding="utf-8") as stream:
        monkeypatch.setattr("sys.stdin", stream)
        assert not stdin_is_terminal()
        assert read_prompt("-", None) == "a fox"


def test_the_bound_follows_the_catalog() -> None:
    from runway_cli.catalog import all_models

    longest = max(m.prompt_max or 0 for m in all_models().values())
    # 3 UTF-8 bytes per UTF-16 unit at most, plus a little room for a BOM and line ends
    assert 3 * longest < LIMIT <= 3 * longest + 64
