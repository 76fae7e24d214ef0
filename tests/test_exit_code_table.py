"""The exit-code table: every error class exits with its documented status, a FollowError with
its cause's, and every status is documented (README and --help)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from runway_cli import errors
from runway_cli.exit_codes import ExitStatus, exit_status_for
from tests.fakes import TASK_ID

README = Path(__file__).resolve().parent.parent / "README.md"


def api(cls: type[errors.APIError], status: int) -> errors.APIError:
    return cls("x", status_code=status)


# One instance of every error class, with the status the README documents for it.
EXPECTED: list[tuple[errors.RunwayImgError, ExitStatus]] = [
    (errors.RunwayImgError("x"), ExitStatus.ERROR),
    (errors.UsageError("x"), ExitStatus.USAGE),
    (errors.CredentialsError("x"), ExitStatus.AUTH),
    (api(errors.APIError, 418), ExitStatus.NETWORK),
    (api(errors.BadRequestError, 400), ExitStatus.USAGE),
    (api(errors.InsufficientCreditsError, 400), ExitStatus.USAGE),
    (api(errors.AuthenticationError, 401), ExitStatus.AUTH),
    (api(errors.PermissionDeniedError, 403), ExitStatus.AUTH),
    (api(errors.NotFoundError, 404), ExitStatus.USAGE),
    (errors.RateLimitError("x"), ExitStatus.NETWORK),
    (errors.RateLimitError("x", daily_limit=True), ExitStatus.NETWORK),
    (api(errors.ServerError, 502), ExitStatus.NETWORK),
    (errors.NetworkError("x"), ExitStatus.NETWORK),
    (errors.InvalidResponseError("x"), ExitStatus.NETWORK),
    (errors.AmbiguousCreateError("x"), ExitStatus.NETWORK),
    (errors.TaskError("x", task_id=TASK_ID), ExitStatus.ERROR),
    (errors.TaskFailedError("x", task_id=TASK_ID), ExitStatus.TASK_FAILED),
    (errors.TaskCancelledError("x", task_id=TASK_ID), ExitStatus.TASK_CANCELLED),
    (errors.TaskGoneError("x", task_id=TASK_ID), ExitStatus.TASK_CANCELLED),
    (errors.WaitTimeoutError("x", task_id=TASK_ID), ExitStatus.TIMEOUT),
    (errors.WaitTimeoutError("x", task_id=TASK_ID, cancelled=True), ExitStatus.TIMEOUT),
    (errors.SaveError("x"), ExitStatus.SAVE_FAILED),
    (errors.StdoutError("x", broken_pipe=False), ExitStatus.SAVE_FAILED),
    (errors.StdoutError("x", broken_pipe=True), ExitStatus.BROKEN_PIPE),
    (errors.Interrupted("x", stage=errors.Stage.WAITING), ExitStatus.INTERRUPTED),
]


@pytest.mark.parametrize(
    ("error", "status"),
    EXPECTED,
    ids=[f"{type(e).__name__}-{s.name}" for e, s in EXPECTED],
)
def test_every_error_class_exits_with_its_documented_status(error, status) -> None:
    assert exit_status_for(error) is status


def error_classes() -> list[type[errors.RunwayImgError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.RunwayImgError) and cls is not errors.FollowError
    ]


def test_the_table_above_covers_every_error_class() -> None:
    """A new error class must be given its documented status here (and in the README)."""
    covered = {type(error) for error, _ in EXPECTED}
    assert set(error_classes()) - covered == set()


@pytest.mark.parametrize(
    ("error", "status"),
    [(e, s) for e, s in EXPECTED if type(e) is not errors.RunwayImgError],
    ids=[
        f"{type(e).__name__}-{s.name}" for e, s in EXPECTED if type(e) is not errors.RunwayImgError
    ],
)
def test_a_follow_error_exits_with_its_causes_status(error, status) -> None:
    follow = errors.FollowError(error, task_id=TASK_ID)
    assert exit_status_for(follow) is status
    assert follow.kind == error.kind and follow.message == error.message
    assert exit_status_for(errors.FollowError(follow, task_id=TASK_ID)) is status  # nested


def test_kinds_are_stable_names_for_scripts() -> None:
    kinds = {type(e).__name__: e.kind for e, _ in EXPECTED}
    assert kinds["AmbiguousCreateError"] == "ambiguous_create"
    assert kinds["TaskGoneError"] == "task_gone"
    assert errors.RateLimitError("x", daily_limit=True).kind == "daily_limit"
    assert errors.RateLimitError("x").kind == "rate_limited"
    assert all(re.fullmatch(r"[a-z_]+", kind) for kind in kinds.values())


def test_statuses_are_the_documented_numbers() -> None:
    assert {s.name: int(s) for s in ExitStatus} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "AUTH": 3,
        "TASK_FAILED": 4,
        "TASK_CANCELLED": 5,
        "TIMEOUT": 6,
        "NETWORK": 7,
        "SAVE_FAILED": 8,
        "STOPPED_EARLY": 9,
        "INTERRUPTED": 130,
        "BROKEN_PIPE": 141,
    }


def test_every_status_is_in_the_help_epilog() -> None:
    from runway_cli.cli.app import EXIT_CODES

    for status in ExitStatus:
        assert re.search(rf"\b{int(status)} ", EXIT_CODES), status


def test_every_status_is_in_the_readme_table() -> None:
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", README.read_text(), re.M)}
    assert documented == {int(s) for s in ExitStatus}


def test_errors_are_not_edited_on_the_way_up() -> None:
    error = errors.UsageError("x", hint="y")
    with pytest.raises(AttributeError):
        error.message = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        error.hint = "changed"  # type: ignore[misc]
    error.add_note("a note is how a layer that knows more adds to it")
    assert (error.message, error.hint, str(error)) == ("x", "y", "x")


@pytest.mark.parametrize(
    ("error", "task_id"),
    [
        (errors.UsageError("x"), None),
        (errors.TaskFailedError("x", task_id=TASK_ID), TASK_ID),
        (errors.SaveError("x", task_id=TASK_ID), TASK_ID),
        (errors.SaveError("x"), None),
        (errors.Interrupted("x", stage=errors.Stage.SAVING, task_id=TASK_ID), TASK_ID),
        (errors.FollowError(errors.NetworkError("x"), task_id=TASK_ID), TASK_ID),
    ],
)
def test_task_id_is_a_typed_fact(error: errors.RunwayImgError, task_id: str | None) -> None:
    assert error.task_id == task_id


def test_issues_read_as_paths() -> None:
    assert str(errors.Issue(("referenceImages", "0", "uri"), "Bad")) == "referenceImages.0.uri: Bad"
    assert str(errors.Issue((), "Bad")) == "(body): Bad"
