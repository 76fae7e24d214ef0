"""Resume hints: built by the command layer from the typed facts on an error (task id, stage,
saved files), as shell-quoted ``runway-img download`` commands."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from runway_cli import errors
from runway_cli.cli.resume import Resume
from runway_cli.saving import SavedFile
from runway_cli.settings import Settings
from tests.fakes import TASK_ID

SAVED = SavedFile(path=Path("fox-1.png"), url="https://f.example/1.png", bytes=10, kind="png")
PLAIN = Resume(output=None, force=False)


def download(*extra: str) -> str:
    return shlex.join(["runway-img", "download", TASK_ID, *extra])


# --- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resume", "force", "expected"),
    [
        (PLAIN, False, download()),
        (PLAIN, True, download("--force")),
        (Resume("fox.png", False), False, download("-o", "fox.png")),
        (Resume("fox.png", True), False, download("-o", "fox.png", "--force")),
        (Resume(None, False, ("--sandbox",)), False, download("--sandbox")),
        (
            Resume("out/{id}.{ext}", False, ("--base-url", "http://127.0.0.1:8765")),
            False,
            download("-o", "out/{id}.{ext}", "--base-url", "http://127.0.0.1:8765"),
        ),
    ],
)
def test_command(resume: Resume, force: bool, expected: str) -> None:
    assert resume.command(TASK_ID, force=force) == expected


@pytest.mark.parametrize(
    "output", ["my images/fox.png", "it's.png", "$(rm -rf ~).png", "a;b.png", "fox\u00e9 *.png"]
)
def test_the_command_is_shell_quoted(output: str) -> None:
    command = Resume(output, False).command(TASK_ID)
    assert shlex.split(command) == ["runway-img", "download", TASK_ID, "-o", output]


def test_for_run_repeats_where_the_task_lives(home: Path) -> None:
    sandbox = Settings.resolve(sandbox=True, environ={})
    assert Resume.for_run(sandbox, "x.png", True) == Resume("x.png", True, ("--sandbox",))
    flagged = Settings.resolve(base_url="https://proxy.example", environ={})
    assert Resume.for_run(flagged, None, False).flags == ("--base-url", "https://proxy.example")
    # From the environment: the next command sees the same environment, so nothing to repeat.
    from_env = Settings.resolve(environ={"RUNWAYML_BASE_URL": "https://env.example"})
    assert Resume.for_run(from_env, None, False).flags == ()


# --- note_for, per error kind ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "resumable"),
    [
        (errors.Stage.BEFORE_CREATE, False),
        (errors.Stage.CREATING, False),
        (errors.Stage.WAITING, True),
        (errors.Stage.SAVING, True),
    ],
)
def test_interrupted(stage: errors.Stage, resumable: bool) -> None:
    exc = errors.Interrupted("Stopped.", stage=stage, task_id=TASK_ID)
    note = PLAIN.note_for(exc)
    assert note == (f"Resume with: {download()}" if resumable else None)


def test_timeout() -> None:
    exc = errors.WaitTimeoutError("Stopped waiting.", task_id=TASK_ID)
    assert PLAIN.note_for(exc) == f"Resume with: {download()}"


def test_timeout_that_cancelled_the_task_has_nothing_to_resume() -> None:
    exc = errors.WaitTimeoutError("Stopped waiting.", task_id=TASK_ID, cancelled=True)
    assert PLAIN.note_for(exc) is None


def test_follow_error() -> None:
    exc = errors.FollowError(errors.NetworkError("Reset."), task_id=TASK_ID)
    assert PLAIN.note_for(exc) == f"Task {TASK_ID} was created; resume with: {download()}"


def test_save_error_with_some_files_saved_retries_with_force() -> None:
    exc = errors.SaveError("Disk full.", task_id=TASK_ID, saved=[SAVED], total=3)
    assert PLAIN.note_for(exc) == (
        f"Task {TASK_ID} succeeded; saved 1 of 3 files. Retry with: {download('--force')}"
    )


def test_save_error_with_files_saved_and_no_total() -> None:
    exc = errors.SaveError("Disk full.", task_id=TASK_ID, saved=[SAVED, SAVED])
    assert "saved 2 of 2 files" in (PLAIN.note_for(exc) or "")


def test_save_error_for_an_existing_file_offers_force() -> None:
    exc = errors.SaveError("fox.png already exists.", task_id=TASK_ID, existing=Path("fox.png"))
    resume = Resume("fox.png", False)
    assert resume.note_for(exc) == (
        f"Task {TASK_ID} succeeded. To overwrite, run: {download('-o', 'fox.png', '--force')}"
    )


def test_save_error_otherwise_retries_as_it_was() -> None:
    exc = errors.SaveError("Could not download.", task_id=TASK_ID)
    assert PLAIN.note_for(exc) == (
        f"Task {TASK_ID} succeeded; nothing was overwritten. Retry with: {download()}"
    )


@pytest.mark.parametrize(
    "exc",
    [
        errors.UsageError("Bad."),
        errors.AmbiguousCreateError("Maybe."),
        errors.SaveError("No task yet."),  # no task id
        errors.TaskFailedError("Failed.", task_id=TASK_ID),  # nothing to fetch
        errors.TaskCancelledError("Cancelled.", task_id=TASK_ID),
        errors.TaskGoneError("Gone.", task_id=TASK_ID),
        errors.Interrupted("Stopped.", stage=errors.Stage.CREATING),
    ],
    ids=lambda e: type(e).__name__,
)
def test_nothing_to_resume(exc: errors.RunwayImgError) -> None:
    assert PLAIN.note_for(exc) is None


def test_the_note_is_added_not_edited_in() -> None:
    """How the command layer uses it: the error keeps its message; the note comes last."""
    from runway_cli import render

    exc = errors.WaitTimeoutError("Stopped waiting after 5s.", task_id=TASK_ID, hint="Wait more.")
    note = PLAIN.note_for(exc)
    assert note is not None
    exc.add_note(note)
    assert exc.message == "Stopped waiting after 5s."
    assert (
        render.error_line(exc) == f"Stopped waiting after 5s. Wait more. Resume with: {download()}"
    )
