"""What the user sees, as pure functions of typed data: error lines, task views, history and
model tables, and the console reporter's plain lines (time injected, no terminal needed)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from runway_cli import render
from runway_cli.api.types import Organization, RetryEvent, Task
from runway_cli.catalog import all_models, get_model
from runway_cli.errors import (
    BadRequestError,
    FollowError,
    Issue,
    NetworkError,
    RunwayImgError,
    StdoutError,
    UsageError,
)
from runway_cli.history import Entry
from runway_cli.quietness import set_quiet
from tests.fakes import TASK_ID, FakeTime, task

MODELS = list(all_models().values())


@pytest.fixture(autouse=True)
def talkative() -> Iterator[None]:
    """Each test starts (and leaves) render in its default, non-quiet mode."""
    set_quiet(False)
    render.reset_console()
    yield
    set_quiet(False)


# --- error_line ----------------------------------------------------------------------------


def error(message: str, hint: str | None = None, *notes: str) -> RunwayImgError:
    exc = RunwayImgError(message, hint)
    for note in notes:
        exc.add_note(note)
    return exc


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (error("Task failed"), "Task failed"),
        (error("Task failed", "Try again."), "Task failed. Try again."),
        (error("Task failed.", "Try again."), "Task failed. Try again."),
        (error("Why?", "Because!"), "Why? Because!"),
        (error("Retry with:", "runway-img download x"), "Retry with: runway-img download x"),
        (error("Bad (HTTP 502)", "Later"), "Bad (HTTP 502). Later"),
        (error("A.", None, "Resume with: cmd"), "A. Resume with: cmd"),
        (error("A", "B", "C", "D."), "A. B. C. D."),
        (error("  A.  ", "  ", "", " B "), "A. B"),
    ],
)
def test_error_line_joins_message_hint_and_notes(exc: RunwayImgError, line: str) -> None:
    assert render.error_line(exc) == line
    assert ".." not in render.error_line(exc)


def test_error_prints_one_line_then_the_issues(capsys: pytest.CaptureFixture[str]) -> None:
    bad = BadRequestError(
        "Validation of body failed (HTTP 400)",
        status_code=400,
        issues=[Issue(("ratio",), "Invalid enum value"), Issue((), "Too big")],
    )
    render.error(bad)
    render.error(FollowError(bad, task_id=TASK_ID))  # a FollowError shows its cause's issues
    lines = capsys.readouterr().err.splitlines()
    assert (
        lines
        == [
            "error: Validation of body failed (HTTP 400)",
            "  - ratio: Invalid enum value",
            "  - (body): Too big",
        ]
        * 2
    )


def test_error_text_is_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    render.error(UsageError("Unknown placeholder in -o '[bold]{x}[/bold]'."))
    assert "[bold]{x}[/bold]" in capsys.readouterr().err


# --- talk: notes, warnings, quiet ------------------------------------------------------------


def test_quiet_keeps_only_errors_and_at_risk_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    set_quiet(True)
    render.note("a note")
    render.warn("a warning")
    render.warn("keep the task id", at_risk=True)
    render.error_text("an error")
    assert capsys.readouterr().err.splitlines() == [
        "warning: keep the task id",
        "error: an error",
    ]


def test_talk_never_raises_on_a_broken_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr("sys.stderr", Broken())
    render.note("still fine")
    render.warn("still fine")


def test_log_handler_goes_through_the_console(capsys: pytest.CaptureFixture[str]) -> None:
    handler = render.log_handler()
    handler.emit(
        logging.LogRecord("runway_cli.http", logging.INFO, "", 0, "GET /v1 -> 200", (), None)
    )
    assert capsys.readouterr().err.rstrip().endswith("GET /v1 -> 200")


# --- data on stdout --------------------------------------------------------------------------


def test_data_and_json_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    render.data("/tmp/fox.png")
    render.print_json({"id": TASK_ID, "prompt": "r\u00e9sum\u00e9"})
    out = capsys.readouterr().out
    first, rest = out.split("\n", 1)
    assert first == "/tmp/fox.png"
    assert json.loads(rest) == {"id": TASK_ID, "prompt": "r\u00e9sum\u00e9"}
    assert "r\u00e9sum\u00e9" in rest  # not \\u-escaped


class FailingStdout:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        raise ValueError("no file descriptor")  # so the real stdout is never redirected

    @property
    def buffer(self) -> FailingStdout:
        return self


@pytest.mark.parametrize(
    ("error", "broken_pipe", "needle"),
    [
        (BrokenPipeError(32, "Broken pipe"), True, "closed by the reader"),
        (OSError(28, "No space left on device"), False, "No space left on device"),
        (ValueError("I/O operation on closed file."), False, "closed file"),
    ],
)
def test_a_failing_stdout_is_a_stdout_error(monkeypatch, error, broken_pipe, needle) -> None:
    monkeypatch.setattr("sys.stdout", FailingStdout(error))
    with pytest.raises(StdoutError, match=needle) as info:
        render.data("x")
    assert info.value.broken_pipe is broken_pipe


def test_no_stdout_at_all_is_not_a_broken_pipe(monkeypatch) -> None:
    # Started with stdout closed (>&-): no reader went away, so not 141 but exit 8 with a line.
    monkeypatch.setattr("sys.stdout", None)
    for write in (lambda: render.data("x"), lambda: render.write_bytes(Path("unused"))):
        with pytest.raises(StdoutError, match="it is closed") as info:
            write()
        assert not info.value.broken_pipe


def test_write_bytes(monkeypatch, tmp_path) -> None:
    class Out:
        buffer = io.BytesIO()

    path = tmp_path / "f.bin"
    path.write_bytes(b"\x89PNG" * 50_000)
    monkeypatch.setattr("sys.stdout", Out())
    render.write_bytes(path)
    assert Out.buffer.getvalue() == path.read_bytes()


@pytest.mark.parametrize(
    ("error", "broken_pipe"),
    [(BrokenPipeError(32, "Broken pipe"), True), (OSError(28, "No space left"), False)],
)
def test_write_bytes_on_a_failing_stdout(monkeypatch, tmp_path, error, broken_pipe) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    monkeypatch.setattr("sys.stdout", FailingStdout(error))
    with pytest.raises(StdoutError) as info:
        render.write_bytes(path)
    assert info.value.broken_pipe is broken_pipe


# --- task views ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fields", "words"),
    [
        ("PENDING", {}, "pending"),
        ("THROTTLED", {}, "queued behind your concurrency limit"),
        ("RUNNING", {}, "running"),
        ("RUNNING", {"progress": 0.456}, "running 46%"),
        ("PENDING", {"progress": 0.5}, "pending"),  # progress only means something when running
        ("SUCCEEDED", {}, "succeeded"),
        ("FAILED", {}, "failed"),
        ("CANCELLED", {}, "cancelled"),
        ("WARMING_UP", {}, "warming_up"),  # a status this version does not know
    ],
)
def test_describe_state(status: str, fields: dict, words: str) -> None:
    assert render.describe_state(task(status, **fields)) == words


def test_task_view_of_a_succeeded_task() -> None:
    done = task(
        "SUCCEEDED",
        createdAt="2026-01-01T00:00:00Z",
        cost={"credits": 5},
        output=["https://f.example/1.png", "https://f.example/2.png"],
    )
    assert render.task_view(done) == [
        f"Task:     {TASK_ID}",
        "State:    SUCCEEDED (succeeded)",
        "Created:  2026-01-01T00:00:00Z",
        "Cost:     5 credits",
        "Output 1: https://f.example/1.png",
        "Output 2: https://f.example/2.png",
    ]


def test_task_view_of_a_running_task_shows_the_estimate() -> None:
    running = task("RUNNING", progress=0.25, estimatedCost={"credits": 2.5})
    assert render.task_view(running) == [
        f"Task:     {TASK_ID}",
        "State:    RUNNING (running 25%)",
        "Estimate: 2.5 credits",
    ]


def test_task_view_of_a_failed_task() -> None:
    failed = task("FAILED", failure="Moderated", failureCode="SAFETY.INPUT.TEXT")
    assert render.task_view(failed)[2:] == ["Failure:  Moderated", "Code:     SAFETY.INPUT.TEXT"]
    assert render.task_view(task("FAILED"))[2:] == ["Failure:  no reason given"]


# --- history ---------------------------------------------------------------------------------


def test_history_lines() -> None:
    rows = [
        Entry(
            id=TASK_ID,
            created="2026-01-01T00:00:00Z",
            model="gen4_image",
            prompt="a fox\nin the snow",
            status="SUCCEEDED",
            files=["/x/a.png", "/x/b.png"],
            note="ignored: the task has an id",
        ),
        Entry(
            id=None, created="2026-01-02T00:00:00Z", prompt="p" * 60, status="UNKNOWN", note="reset"
        ),
    ]
    first, second = render.history_lines(rows)
    assert first == (
        f"{TASK_ID}  2026-01-01T00:00:00Z  SUCCEEDED  gen4_image  a fox in the snow  /x/a.png, /x/b.png"
    )
    assert second == (f"{'?' * 36}  2026-01-02T00:00:00Z  UNKNOWN    -  {'p' * 39}\u2026  (reset)")


def test_history_lines_columns_line_up() -> None:
    rows = [Entry(id=TASK_ID, created="t", status=s, model="m") for s in ("CREATED", "SUCCEEDED")]
    a, b = render.history_lines(rows)
    assert a.index("  m") == b.index("  m")


# --- models ------------------------------------------------------------------------------------


def test_models_table_has_a_header_and_one_aligned_row_per_model() -> None:
    lines = render.models_table(MODELS)
    assert lines[0].split() == ["MODEL", "PROMPT", "REFS", "OUTPUTS", "FORMATS", "RATIOS"]
    assert len(lines) == 1 + len(MODELS)
    starts = [lines[0].index(h) for h in ("PROMPT", "REFS")]
    for line, model in zip(lines[1:], MODELS, strict=True):
        assert line.split()[0] == model.id
        assert all(line[s - 2 : s] == "  " for s in starts)
        assert line == line.rstrip()


@pytest.mark.parametrize(
    ("model", "cells"),
    [
        ("gen4_image", ["1000", "0-3", "1", "png"]),
        ("gemini_image3_pro", ["5500", "0-14", "1", "or", "4", "png"]),
        ("seedream5_flash", ["?", "0-any", "1-10", "png,jpeg"]),
        ("recraft_v4_1_vector", ["?", "-", "1", "svg"]),
        ("muse_image", ["4000", "0-10", "1-10", "webp,png,jpeg"]),
    ],
)
def test_models_table_cells(model: str, cells: list[str]) -> None:
    line = next(line for line in render.models_table(MODELS) if line.startswith(model + " "))
    assert line.split()[1 : 1 + len(cells)] == cells


def test_models_table_counts_ratios_and_freeform() -> None:
    lite = get_model("seedream5_lite")
    assert lite is not None
    (_, row) = render.models_table([lite])
    assert row.split()[-1] == f"{len(lite.ratio.values)}+free"


def detail(model_id: str) -> list[str]:
    model = get_model(model_id)
    assert model is not None
    return render.model_detail(model)


def test_model_detail_gen4_image() -> None:
    lines = detail("gen4_image")
    assert lines[0] == "Model:    gen4_image"
    assert lines[1] == "Prompt:   1-1000 (1000 UTF-16 code units)"
    assert lines[2] == "Ratio:    default 1280:720"
    assert "Refs:     0-3; tags (TAG=FILE)" in lines
    assert "Outputs:  1 (no --count)" in lines
    assert "Param:    seed: integer 0-4294967295  (--seed)" in lines
    assert (
        "Param:    contentModeration.publicFigureThreshold: auto | low  (--public-figures)" in lines
    )
    assert not any(line.startswith("Formats:") for line in lines)


def test_model_detail_lists_ratios_eight_to_a_line() -> None:
    model = get_model("gen4_image")
    assert model is not None
    ratio_lines = [line for line in detail("gen4_image") if line.startswith("          ")]
    assert sum(len(line.split()) for line in ratio_lines) == len(model.ratio.values)
    assert all(len(line.split()) <= 8 for line in ratio_lines)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("seedream5_lite", "          or any WIDTH:HEIGHT with 3,686,400-16,777,216 pixels"),
        (
            "gemini_image3_pro",
            "Refs:     0-14; tags (TAG=FILE); subjects @human/@object (at most 5 human, 9 object)",
        ),
        ("ideogram_4_5", "Ratio:    default (none: ratio is optional), optional"),
        ("recraft_v4_1_vector", "Formats:  svg"),
        ("recraft_v4_1_flash", "Refs:     none"),
        ("recraft_v4_1_flash", "Formats:  webp, png (default webp)"),
        ("recraft_v4_1_flash", "Param:    backgroundColor: hex color  (-p backgroundColor=)"),
        ("recraft_v4_1_flash", "Param:    colors: hex color list  (-p colors=)"),
        ("seedream5_pro", "Param:    grounding: bool  (-p grounding=)"),
        ("seedream5_flash", "Prompt:   1-? (not documented (the server decides))"),
    ],
)
def test_model_detail_lines(model: str, expected: str) -> None:
    assert expected in detail(model)


def test_model_detail_notes_and_sources() -> None:
    for model in MODELS:
        lines = render.model_detail(model)
        assert any(line.startswith("Notes:") for line in lines) is bool(model.notes)
        sdk_only = "Source:   SDK only; limits may be incomplete" in lines
        assert sdk_only is (model.source != "openapi+sdk")


# --- auth and credits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("valid", "line"),
    [
        (True, "Valid:   yes (credit balance: 9084)"),
        (None, "Valid:   unknown (the API could not be reached)"),
        (False, "Valid:   no"),
    ],
)
def test_auth_lines(valid: bool | None, line: str) -> None:
    info = {
        "key": "key_\u2026cdef",
        "source": "RUNWAYML_API_SECRET",
        "profile": "default",
        "profileSource": "built in",
        "baseUrl": "https://api.dev.runwayml.com",
        "valid": valid,
        "creditBalance": 9084,
    }
    assert render.auth_lines(info) == [
        "Key:     key_\u2026cdef (from RUNWAYML_API_SECRET)",
        "Profile: default (built in)",
        "API:     https://api.dev.runwayml.com",
        line,
    ]


def test_auth_lines_without_a_usable_key_say_so() -> None:
    info = {"key": None, "source": None, "profile": "default", "profileSource": "default"}
    lines = render.auth_lines({**info, "baseUrl": "https://api.dev.runwayml.com", "valid": False})
    assert lines[0] == "Key:     none usable" and "None" not in lines[0]


def test_credits_lines() -> None:
    org = Organization.from_api(
        {
            "creditBalance": 12345,
            "tier": {
                "maxMonthlyCreditSpend": 100000,
                "models": {
                    "gen4_image": {"maxConcurrentGenerations": 2, "maxDailyGenerations": 500}
                },
            },
            "usage": {"models": {"gen4_image": {"dailyGenerations": 7}, "gpt_image_2": {}}},
        }
    )
    assert render.credits_lines(org) == [
        "Credit balance: 12,345",
        "Monthly spend limit: 100,000",
        "MODEL        CONCURRENT  DAILY LIMIT  USED TODAY",
        "gen4_image   2           500          7",
        "gpt_image_2  -           -            0",
    ]


def test_credits_lines_when_nothing_is_known() -> None:
    assert render.credits_lines(Organization.from_api({})) == [
        "Credit balance: unknown",
        "MODEL  CONCURRENT  DAILY LIMIT  USED TODAY",
    ]


# --- the console reporter, plain lines (not a terminal) ------------------------------------------


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime(start=0.0)


def reporter_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_plain_lines_on_every_change_of_state(clock, capsys) -> None:
    with render.ConsoleReporter(clock=clock.clock) as reporter:
        assert not reporter.interactive  # pytest's stderr is not a terminal
        reporter.created(TASK_ID)
        reporter.started(TASK_ID)
        clock.sleep(3)
        reporter.progress(task("PENDING"))  # no change: no line
        clock.sleep(2)
        reporter.progress(task("RUNNING", progress=0.4))
        clock.sleep(70)
        reporter.progress(task("SUCCEEDED"))
    assert reporter_lines(capsys) == [
        f"Task {TASK_ID} created.",
        f"task {TASK_ID}: pending (0s)",
        f"task {TASK_ID}: running 40% (5s)",
        f"task {TASK_ID}: succeeded (1m15s)",
    ]


def test_plain_heartbeat_while_nothing_changes(clock, capsys) -> None:
    reporter = render.ConsoleReporter(clock=clock.clock)
    reporter.started(TASK_ID)
    for _ in range(10):  # a poll every 5 s for 50 s, always RUNNING
        clock.sleep(5)
        reporter.progress(task("RUNNING"))
    times = [line.rsplit("(", 1)[1] for line in reporter_lines(capsys)]
    assert times == ["0s)", "5s)", "25s)", "45s)"]  # a change, then every 20 s


@pytest.mark.parametrize(("seconds", "shown"), [(59, "59s"), (61, "1m01s"), (3725, "1h02m")])
def test_long_waits_read_well(clock, capsys, seconds: float, shown: str) -> None:
    reporter = render.ConsoleReporter(clock=clock.clock)
    reporter.started(TASK_ID)
    clock.sleep(seconds)
    reporter.progress(task("RUNNING"))
    assert reporter_lines(capsys)[-1].endswith(f"({shown})")


def test_only_rate_limits_are_announced(capsys) -> None:
    reporter = render.ConsoleReporter()
    for limited in (False, True):
        reporter.retrying(RetryEvent("GET", "/v1/x", 2, 5, 7.2, "HTTP 429", limited))
    assert reporter_lines(capsys) == ["Rate limited by Runway; retrying in 7 s."]


def test_warnings_and_notes(capsys) -> None:
    reporter = render.ConsoleReporter()
    reporter.note("Uploading a.png (1.0 MB)...")
    reporter.warning("History is not writable.", at_risk=True)
    reporter.uploading("Uploading a.png", 5, 10)  # no bar without a terminal
    assert reporter_lines(capsys) == [
        "Uploading a.png (1.0 MB)...",
        "warning: History is not writable.",
    ]


def test_the_live_display_never_breaks_a_run(clock, capsys) -> None:
    """On a terminal: a spinner while waiting, a bar while uploading; stopping is safe."""
    with render.ConsoleReporter(clock=clock.clock) as reporter:
        reporter.interactive = True
        reporter.uploading("Uploading a.png", 5, 10)
        reporter.uploading("Uploading a.png", 10, 10)  # done: the bar goes
        reporter.started(TASK_ID)
        reporter.progress(task("RUNNING", progress=0.5))
        reporter.progress(task("SUCCEEDED"))  # the wait is over: the spinner goes
        reporter.progress(task("RUNNING"))
    assert reporter._progress is None


def test_quiet_reporter_is_never_interactive(capsys) -> None:
    set_quiet(True)
    reporter = render.ConsoleReporter()
    reporter.created(TASK_ID)
    reporter.warning("kept", at_risk=True)
    assert not reporter.interactive
    assert reporter_lines(capsys) == ["warning: kept"]


def test_is_terminal_is_false_for_pipes_and_broken_streams(monkeypatch) -> None:
    assert render.is_terminal() is False
    monkeypatch.setattr("sys.stderr", None)
    assert render.is_terminal() is False


def test_a_network_error_reads_as_one_sentence_with_its_hint() -> None:
    exc = NetworkError("Could not reach api.example: the connection was reset.", hint="Check it.")
    assert (
        render.error_line(exc) == "Could not reach api.example: the connection was reset. Check it."
    )


def test_task_placeholder_reads_as_pending() -> None:
    assert render.describe_state(Task.placeholder(TASK_ID)) == "pending"
