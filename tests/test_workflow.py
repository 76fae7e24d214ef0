"""The workflow with a fake client and a recording reporter: create -> record -> wait -> save,
and for every way that goes wrong, the typed error with the facts the command layer needs
(task id, stage, task, saved files) and what the history says afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from runway_cli.api.types import Task, TaskStatus
from runway_cli.errors import (
    AmbiguousCreateError,
    APIError,
    AuthenticationError,
    FollowError,
    Interrupted,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    SaveError,
    ServerError,
    Stage,
    TaskCancelledError,
    TaskFailedError,
    TaskGoneError,
    UsageError,
    WaitTimeoutError,
)
from runway_cli.exit_codes import ExitStatus, exit_status_for
from runway_cli.history import History
from runway_cli.output_paths import OutputPlan
from runway_cli.polling import PollSchedule
from runway_cli.references import RefOption
from runway_cli.request_body import Options, build
from runway_cli.workflow import FollowPlan, Workflow, is_safe_output_url
from tests.fakes import (
    TASK_ID,
    FakeClient,
    RecordingReporter,
    jpeg_bytes,
    png_bytes,
    succeeded,
    task,
)

URL1 = "https://files.example/out/1.png?sig=a"
URL2 = "https://files.example/out/2.png?sig=b"
BODY = {"model": "gen4_image", "promptText": "a fox", "ratio": "1280:720", "seed": 3}


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, where default names land."""
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "history.jsonl")


@pytest.fixture
def reporter() -> RecordingReporter:
    return RecordingReporter()


def workflow(client: FakeClient, history: History, reporter: RecordingReporter) -> Workflow:
    return Workflow(client, history, reporter, sandbox=False)  # type: ignore[arg-type]


def plan(
    output: str | None = None, *, force: bool = False, timeout: float = 5.0, **kw
) -> FollowPlan:
    # A zero-second poll interval: the loop never really sleeps.
    return FollowPlan(OutputPlan(output, force), timeout, PollSchedule.fixed(0.0), **kw)


def ok_client(*urls: str, **files: bytes) -> FakeClient:
    urls = urls or (URL1,)
    return FakeClient(
        tasks=[task("PENDING"), task("RUNNING", progress=0.5), succeeded(*urls)],
        files={url: files.get(f"f{i}", png_bytes()) for i, url in enumerate(urls)},
    )


def events(history: History) -> list[tuple]:
    import json

    return [
        (r["event"], r.get("id"), r.get("status"))
        for r in map(json.loads, history.path.read_text().splitlines())
    ]


# --- the happy path ----------------------------------------------------------------------------


def test_create_record_wait_save(out, history, reporter) -> None:
    client = ok_client()
    flow = workflow(client, history, reporter)
    created = flow.create(dict(BODY))
    outcome = flow.follow(created.id, plan())
    assert outcome.task.status is TaskStatus.SUCCEEDED
    (item,) = outcome.saved
    assert item.path == Path(f"{TASK_ID}.png") and (out / item.path).read_bytes() == png_bytes()
    assert reporter.names() == ["created", "started", "progress", "progress", "progress", "saved"]
    assert reporter.of("progress") == [("PENDING",), ("RUNNING",), ("SUCCEEDED",)]
    assert events(history) == [("created", TASK_ID, None), ("finished", TASK_ID, "SUCCEEDED")]
    entry = history.read().find(TASK_ID)
    assert entry is not None
    assert (entry.model, entry.prompt, entry.ratio, entry.params) == (
        "gen4_image",
        "a fox",
        "1280:720",
        {"seed": 3},
    )
    assert entry.cost == 5 and entry.files == [str((out / item.path).resolve())]


def test_the_task_is_recorded_before_waiting(out, history, reporter) -> None:
    seen_in_history: list[str] = []

    def first_poll():
        seen_in_history.append(history.read().entries[0].status)
        return succeeded(URL1)

    client = FakeClient(tasks=[first_poll], files={URL1: png_bytes()})
    workflow(client, history, reporter).generate(build(Options("gen4_image", "a fox")), plan())
    assert seen_in_history == ["CREATED"]


def test_no_wait_only_creates(out, history, reporter) -> None:
    client = FakeClient()
    created, outcome = workflow(client, history, reporter).generate(
        build(Options("gen4_image", "a fox")), None
    )
    assert created.id == TASK_ID and outcome is None
    assert [c[0] for c in client.calls] == ["create"]
    assert events(history) == [("created", TASK_ID, None)]


def test_several_outputs_keep_their_order(out, history, reporter) -> None:
    client = ok_client(URL1, URL2, f1=jpeg_bytes())
    outcome = workflow(client, history, reporter).follow(TASK_ID, plan("fox.png"))
    assert [s.path.name for s in outcome.saved] == ["fox-1.png", "fox-2.png"]
    assert [s.kind for s in outcome.saved] == ["png", "jpg"]
    # One warning per run, not one per output: the second is a JPEG named .png.
    warnings = reporter.of("warning")
    assert len(warnings) == 1 and "JPEG" in warnings[0][0]


def test_uploads_happen_before_the_create(out, history, reporter) -> None:
    (out / "big.png").write_bytes(png_bytes() + b"\0" * (4 * 1024 * 1024))
    prepared = build(Options("gen4_image", "a fox", refs=[RefOption("big.png")]))
    client = FakeClient()
    workflow(client, history, reporter).generate(prepared, None)
    assert [c[0] for c in client.calls] == ["create_upload", "upload_file", "create"]
    assert client.calls[0] == ("create_upload", "big.png")
    sent = client.calls[2][1]
    assert sent["referenceImages"] == [{"uri": "runway://uploads/big.png"}]
    assert reporter.of("note") == [("Uploading big.png (4.0 MB)...",)]
    label, done, total = reporter.of("uploading")[-1]
    assert label == "Uploading big.png" and done == total


def test_data_uris_are_shortened_in_the_history(out, history, reporter) -> None:
    (out / "ref.png").write_bytes(png_bytes(payload=2000))
    prepared = build(Options("gen4_image", "a fox", refs=[RefOption("ref.png")]))
    workflow(FakeClient(), history, reporter).generate(prepared, None)
    (ref,) = history.read().entries[0].params["referenceImages"]
    assert ref["uri"].startswith("data:image/png;base64,") and ref["uri"].endswith(" chars)")


def test_an_unwritable_history_warns_but_the_run_goes_on(out, tmp_path, reporter) -> None:
    (tmp_path / "blocker").write_text("a file")
    broken = History(tmp_path / "blocker" / "history.jsonl")
    outcome = workflow(ok_client(), broken, reporter).follow(TASK_ID, plan())
    assert outcome.saved
    warnings = reporter.of("warning")
    assert warnings and all(at_risk for _, at_risk in warnings)
    assert "keep the task id" in warnings[0][0]


# --- creating: ambiguous, interrupted ----------------------------------------------------------


def test_ambiguous_create_is_recorded_as_unknown(out, history, reporter) -> None:
    doubt = AmbiguousCreateError("The create request may have reached Runway (reset).")
    flow = workflow(FakeClient(create=doubt), history, reporter)
    with pytest.raises(AmbiguousCreateError) as info:
        flow.create(dict(BODY))
    assert info.value is doubt  # not edited on the way up
    (entry,) = history.read().entries
    assert (entry.id, entry.status, entry.note) == (None, "UNKNOWN", doubt.message)
    assert entry.prompt == "a fox"
    assert reporter.events == []


def test_ctrl_c_while_creating(out, history, reporter) -> None:
    flow = workflow(FakeClient(create=KeyboardInterrupt), history, reporter)
    with pytest.raises(Interrupted) as info:
        flow.create(dict(BODY))
    error = info.value
    assert error.stage is Stage.CREATING and error.task_id is None
    assert "may have been created" in error.message and "history" in (error.hint or "")
    (entry,) = history.read().entries
    assert (entry.status, entry.note) == ("UNKNOWN", "interrupted while creating")
    assert exit_status_for(error) is ExitStatus.INTERRUPTED


def test_a_create_refused_outright_is_not_recorded(out, history, reporter) -> None:
    refused = APIError("Nope (HTTP 418)", status_code=418)
    with pytest.raises(APIError):
        workflow(FakeClient(create=refused), history, reporter).create(dict(BODY))
    assert not history.path.exists()


# --- waiting: ended badly, interrupted, failed to poll ------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "status", "code"),
    [
        (
            task(
                "FAILED", failure="Moderated", failureCode="SAFETY.INPUT.TEXT", cost={"credits": 0}
            ),
            TaskFailedError,
            "FAILED",
            ExitStatus.TASK_FAILED,
        ),
        (task("CANCELLED"), TaskCancelledError, "CANCELLED", ExitStatus.TASK_CANCELLED),
        (NotFoundError("Not found (HTTP 404)", status_code=404), TaskGoneError, "CANCELLED", 5),
    ],
)
def test_a_task_that_ends_badly_is_recorded(
    out, history, reporter, answer, error, status, code
) -> None:
    client = FakeClient(tasks=[task("RUNNING"), answer])
    with pytest.raises(error) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan())
    assert info.value.task_id == TASK_ID
    assert exit_status_for(info.value) == code
    assert events(history)[-1] == ("finished", TASK_ID, status)
    assert client.count("open_download") == 0


def test_failed_task_records_its_final_cost(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("FAILED", cost={"credits": 0})])
    with pytest.raises(TaskFailedError):
        workflow(client, history, reporter).follow(TASK_ID, plan())
    assert history.read().find(TASK_ID).cost == 0


def test_ctrl_c_while_waiting(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING"), KeyboardInterrupt])
    with pytest.raises(Interrupted) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan())
    error = info.value
    assert error.stage is Stage.WAITING and error.task_id == TASK_ID
    assert "keeps running on the server" in error.message
    assert not history.path.exists()  # still CREATED wherever it was recorded


def test_timeout_leaves_the_task_running_and_unfinished(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING")])
    with pytest.raises(WaitTimeoutError) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan(timeout=0.02))
    assert info.value.task_id == TASK_ID and not info.value.cancelled
    assert exit_status_for(info.value) is ExitStatus.TIMEOUT
    assert client.count("delete_task") == 0 and not history.path.exists()


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (AuthenticationError("Bad key (HTTP 401)", status_code=401), ExitStatus.AUTH),
        (APIError("Teapot (HTTP 418)", status_code=418), ExitStatus.NETWORK),
    ],
)
def test_a_poll_failure_keeps_the_task_id_and_exits_with_the_cause(
    out, history, reporter, cause, code
) -> None:
    client = FakeClient(tasks=[task("RUNNING"), cause])
    with pytest.raises(FollowError) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan())
    error = info.value
    assert error.task_id == TASK_ID and error.cause is cause and error.__cause__ is cause
    assert error.message == cause.message and error.kind == cause.kind
    assert exit_status_for(error) is code


def test_trouble_that_outlasts_the_wait_is_a_network_follow_error(out, history, reporter) -> None:
    trouble = ServerError("Bad gateway (HTTP 502)", status_code=502)
    client = FakeClient(tasks=[task("RUNNING"), trouble])
    with pytest.raises(FollowError) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan(timeout=0.02))
    assert isinstance(info.value.cause, NetworkError)
    assert "not answering" in info.value.message
    assert exit_status_for(info.value) is ExitStatus.NETWORK
    warnings = reporter.of("warning")
    assert len(warnings) == 1 and "still trying until the timeout" in warnings[0][0]


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        (task("SUCCEEDED"), "returned no output URLs"),
        (succeeded("http://files.example/1.png"), "not https://"),
        (succeeded("ftp://files.example/1.png"), "not https://"),
    ],
)
def test_a_success_that_breaks_the_promise(out, history, reporter, answer, needle) -> None:
    client = FakeClient(tasks=[answer])
    with pytest.raises(FollowError, match=needle) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan())
    assert isinstance(info.value.cause, InvalidResponseError)
    assert exit_status_for(info.value) is ExitStatus.NETWORK
    assert client.count("open_download") == 0


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://files.example/a.png", True),
        ("http://127.0.0.1:8765/a.png", True),
        ("http://localhost/a.png", True),
        ("http://files.example/a.png", False),
        ("https:///a.png", False),
        ("file:///etc/passwd", False),
    ],
)
def test_is_safe_output_url(url: str, safe: bool) -> None:
    assert is_safe_output_url(url) is safe


# --- --cancel-on-timeout --------------------------------------------------------------------------


def test_cancel_on_timeout_cancels_and_records(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING")])
    with pytest.raises(WaitTimeoutError, match="cancelled it on the server") as info:
        workflow(client, history, reporter).follow(
            TASK_ID, plan(timeout=0.02, cancel_on_timeout=True)
        )
    assert info.value.cancelled and info.value.task is not None
    assert client.count("delete_task") == 1
    assert events(history)[-1] == ("cancelled", TASK_ID, None)


def test_cancel_on_timeout_when_the_task_is_already_gone(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING")], delete=NotFoundError("gone", status_code=404))
    with pytest.raises(WaitTimeoutError) as info:
        workflow(client, history, reporter).follow(
            TASK_ID, plan(timeout=0.02, cancel_on_timeout=True)
        )
    assert info.value.cancelled


def test_cancel_on_timeout_that_cannot_cancel_says_so(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING")], delete=NetworkError("Could not reach x."))
    with pytest.raises(FollowError, match="so it was not cancelled") as info:
        workflow(client, history, reporter).follow(
            TASK_ID, plan(timeout=0.02, cancel_on_timeout=True)
        )
    assert f"runway-img cancel {TASK_ID}" in (info.value.hint or "")
    assert info.value.task_id == TASK_ID


# --- saving -----------------------------------------------------------------------------------------


def test_ctrl_c_while_saving(out, history, reporter) -> None:
    client = FakeClient(tasks=[succeeded(URL1)], files={URL1: KeyboardInterrupt})
    with pytest.raises(Interrupted) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan())
    error = info.value
    assert error.stage is Stage.SAVING and error.task_id == TASK_ID
    assert "still on the server" in error.message
    assert list(out.iterdir()) == []  # no partial or temporary file


def test_an_existing_destination_is_a_save_error_naming_it(out, history, reporter) -> None:
    (out / "fox.png").write_bytes(b"mine")
    client = ok_client()
    with pytest.raises(SaveError) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan("fox.png"))
    error = info.value
    assert error.existing == Path("fox.png") and error.task_id == TASK_ID
    assert error.task is not None and error.task.status is TaskStatus.SUCCEEDED
    assert error.saved == () and error.total == 1
    assert (out / "fox.png").read_bytes() == b"mine"
    assert client.count("open_download") == 0  # checked before downloading
    entry = history.read().find(TASK_ID)
    assert entry.status == "SUCCEEDED" and entry.note.startswith("not all saved:")


def test_a_missing_folder_is_a_save_error_without_existing(out, history, reporter) -> None:
    with pytest.raises(SaveError, match="does not exist") as info:
        workflow(ok_client(), history, reporter).follow(TASK_ID, plan("nope/fox.png"))
    assert info.value.existing is None and "mkdir" in (info.value.hint or "")


def test_a_name_too_long_for_the_disk_is_a_save_error(out, history, reporter) -> None:
    with pytest.raises(SaveError, match="more than the file system takes") as info:
        workflow(ok_client(), history, reporter).follow(TASK_ID, plan("c" * 300 + ".png"))
    assert info.value.existing is None and info.value.task_id == TASK_ID


def test_a_save_error_carries_the_files_that_did_land(out, history, reporter) -> None:
    client = FakeClient(
        tasks=[succeeded(URL1, URL2)], files={URL1: png_bytes(), URL2: b"<html>expired</html>"}
    )
    with pytest.raises(SaveError) as info:
        workflow(client, history, reporter).follow(TASK_ID, plan())
    error = info.value
    assert [s.path.name for s in error.saved] == [f"{TASK_ID}-1.png"]
    assert error.total == 2 and error.existing is None
    assert exit_status_for(error) is ExitStatus.SAVE_FAILED
    assert reporter.of("saved") == [(TASK_ID, f"{TASK_ID}-1.png")]
    entry = history.read().find(TASK_ID)
    assert entry.files == [str((out / f"{TASK_ID}-1.png").resolve())]


def test_force_replaces(out, history, reporter) -> None:
    (out / "fox.png").write_bytes(b"old")
    workflow(ok_client(), history, reporter).follow(TASK_ID, plan("fox.png", force=True))
    assert (out / "fox.png").read_bytes() == png_bytes()


def test_an_expired_url_is_refreshed_from_the_task(out, history, reporter) -> None:
    fresh = "https://files.example/out/1.png?sig=fresh"
    expired = APIError("GET files.example/out/1.png failed with HTTP 403", status_code=403)
    client = FakeClient(
        tasks=[succeeded(URL1), succeeded(fresh)], files={URL1: expired, fresh: png_bytes()}
    )
    outcome = workflow(client, history, reporter).follow(TASK_ID, plan())
    assert outcome.saved[0].url == fresh


@pytest.mark.parametrize(
    ("refreshed", "needle"),
    [
        (
            ServerError("down (HTTP 500)", status_code=500),
            "Could not refresh the output URLs: down",
        ),
        (task("SUCCEEDED", output=[]), "no longer lists output 1"),
    ],
)
def test_a_refresh_that_fails_is_a_save_error(out, history, reporter, refreshed, needle) -> None:
    expired = APIError("expired", status_code=403)
    client = FakeClient(tasks=[succeeded(URL1), refreshed], files={URL1: expired})
    with pytest.raises(SaveError, match=needle):
        workflow(client, history, reporter).follow(TASK_ID, plan())


# --- download: reattaching to a task ------------------------------------------------------------


def test_download_of_a_finished_task_polls_no_more(out, history, reporter) -> None:
    client = FakeClient(tasks=[succeeded(URL1)], files={URL1: png_bytes()})
    outcome = workflow(client, history, reporter).download(TASK_ID, plan())
    assert client.count("get_task") == 1 and outcome.saved
    assert reporter.of("progress") == [("SUCCEEDED",)]


def test_download_checks_every_destination_before_downloading(out, history, reporter) -> None:
    (out / "fox-2.png").write_bytes(b"mine")
    client = FakeClient(tasks=[succeeded(URL1, URL2)], files={URL1: png_bytes()})
    with pytest.raises(UsageError, match="already exists"):
        workflow(client, history, reporter).download(TASK_ID, plan("fox.png"))
    assert client.count("open_download") == 0
    assert not history.path.exists()  # bad input: nothing happened to the task


def test_download_of_a_running_task_waits_first(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING"), succeeded(URL1)], files={URL1: png_bytes()})
    outcome = workflow(client, history, reporter).download(TASK_ID, plan())
    assert outcome.task.status is TaskStatus.SUCCEEDED and client.count("get_task") == 2


def test_download_of_a_task_that_is_not_there(out, history, reporter) -> None:
    client = FakeClient(tasks=[NotFoundError("Task not found (HTTP 404)", status_code=404)])
    with pytest.raises(NotFoundError):  # bad input (exit 2): not "gone while following"
        workflow(client, history, reporter).download(TASK_ID, plan())


# --- cancel -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "delete", "confirm", "action", "status", "recorded"),
    [
        (task("RUNNING"), None, False, "cancelled", "RUNNING", "cancelled"),
        (succeeded(URL1), None, True, "deleted", "SUCCEEDED", "deleted"),
        (succeeded(URL1), None, False, "kept", "SUCCEEDED", None),
        (NotFoundError("x", status_code=404), None, True, "gone", None, None),
        (task("PENDING"), NotFoundError("x", status_code=404), True, "gone", "PENDING", None),
    ],
)
def test_cancel(out, history, reporter, answer, delete, confirm, action, status, recorded) -> None:
    client = FakeClient(tasks=[answer], delete=delete)
    asked: list[str] = []

    def confirm_delete(t) -> bool:
        asked.append(t.status_text)
        return confirm

    result = workflow(client, history, reporter).cancel(TASK_ID, confirm_delete)
    assert (result.id, result.action, result.status) == (TASK_ID, action, status)
    if recorded is None:
        assert not history.path.exists()
    else:
        assert events(history) == [(recorded, TASK_ID, None)]
    terminal = isinstance(answer, Task) and answer.status.is_terminal
    assert asked == ([answer.status_text] if terminal else [])


# --- -o - (one image for stdout) -------------------------------------------------------------------


def test_stdout_output_is_recorded_as_a_dash(out, history, reporter) -> None:
    outcome = workflow(ok_client(), history, reporter).follow(TASK_ID, plan(to_stdout=True))
    assert outcome.saved
    assert history.read().find(TASK_ID).files == ["-"]


def test_stdout_output_of_a_finished_task_with_several_images_is_bad_input(
    out, history, reporter
) -> None:
    client = FakeClient(tasks=[succeeded(URL1, URL2)])
    with pytest.raises(UsageError, match="-o - writes one image to stdout"):
        workflow(client, history, reporter).download(TASK_ID, plan(to_stdout=True))
    assert client.count("open_download") == 0


def test_stdout_output_of_a_task_that_made_several_images_is_a_save_error(
    out, history, reporter
) -> None:
    client = FakeClient(tasks=[task("RUNNING"), succeeded(URL1, URL2)])
    with pytest.raises(SaveError, match="writes one image") as info:
        workflow(client, history, reporter).follow(TASK_ID, plan(to_stdout=True))
    assert info.value.total == 2 and info.value.saved == ()


# --- the default name taken meanwhile, an outage under --cancel-on-timeout ------------------------


def test_a_default_name_that_exists_is_never_overwritten(out, history, reporter) -> None:
    (out / f"{TASK_ID}.png").write_bytes(b"mine")
    with pytest.raises(SaveError, match="already exists") as info:
        workflow(ok_client(), history, reporter).follow(TASK_ID, plan())
    assert info.value.existing == Path(f"{TASK_ID}.png")
    assert (out / f"{TASK_ID}.png").read_bytes() == b"mine"


def test_cancel_on_timeout_also_cancels_after_an_outage(out, history, reporter) -> None:
    client = FakeClient(tasks=[task("RUNNING"), NetworkError("Could not reach x.")])
    with pytest.raises(WaitTimeoutError) as info:
        workflow(client, history, reporter).follow(
            TASK_ID, plan(timeout=0.02, cancel_on_timeout=True)
        )
    assert info.value.cancelled and client.count("delete_task") == 1
    assert isinstance(info.value.__cause__, NetworkError)
