"""The API client against a real sandbox socket, with injected time (no real waiting): typed
answers, the one retry loop (attempt / classify / decide), and never sending a create twice."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from runway_cli import errors
from runway_cli.api.client import RunwayClient
from runway_cli.api.retry import RetryPolicy
from runway_cli.api.types import CreatedTask, Organization, RetryEvent, TaskStatus
from runway_cli.sandbox import FaultRule, SandboxServer
from tests.conftest import FAST, KEY
from tests.fakes import FakeTime

CREATE = "/v1/text_to_image"
ORG = "/v1/organization"
BODY = {"model": "gen4_image", "promptText": "a fox", "ratio": "1280:720"}
DAILY = "Your daily task limit has been reached."
NO_CREDITS = "You do not have enough credits to run this task."


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


class SandboxSince:
    """The module's sandbox as one test sees it: no faults at the start, and ``count`` counts
    only this test's requests. (One sandbox per module: starting one per test cost more than
    the tests.)"""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.start = len(server.requests)
        server.faults.replace([])

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def faults(self):
        return self.server.faults

    def count(self, method: str, path: str) -> int:
        return sum(
            1
            for entry in self.server.requests[self.start :]
            if entry["method"] == method and entry["path"].startswith(path)
        )


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    with SandboxServer(keys=[KEY], timeline=FAST) as server:
        yield server


@pytest.fixture
def sandbox(shared: SandboxServer) -> SandboxSince:
    return SandboxSince(shared)


@pytest.fixture
def client(sandbox, fake_time) -> Iterator[RunwayClient]:
    with RunwayClient(
        sandbox.base_url, KEY, retry=RetryPolicy(), sleep=fake_time.sleep, clock=fake_time.clock
    ) as c:
        yield c


def fault(sandbox, action: str = "status", **fields) -> None:
    sandbox.faults.add(FaultRule(action=action, **fields))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- typed answers -------------------------------------------------------------------------


def test_create_then_get_gives_typed_results(client) -> None:
    created = client.create_text_to_image(BODY)
    assert isinstance(created, CreatedTask)
    assert created.raw["id"] == created.id
    task = client.get_task(created.id)
    assert task.id == created.id
    assert task.status in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCEEDED)
    assert task.raw["status"] == task.status_text


def test_organization_is_typed(client) -> None:
    org = client.get_organization()
    assert isinstance(org, Organization)
    assert isinstance(org.credit_balance, int)
    assert org.raw["creditBalance"] == org.credit_balance


def test_task_answer_without_status_is_invalid(client, sandbox) -> None:
    fault(sandbox, "body", method="GET", path="/v1/tasks/", body={"id": "x"})
    created = client.create_text_to_image(BODY)
    with pytest.raises(errors.InvalidResponseError, match="no status field"):
        client.get_task(created.id)


def test_organization_that_is_not_an_object_is_invalid(client, sandbox) -> None:
    fault(sandbox, "body", method="GET", path=ORG, body=[1, 2])
    with pytest.raises(errors.InvalidResponseError, match="not a JSON object"):
        client.get_organization()


def test_html_instead_of_json_is_invalid_and_not_retried(client, sandbox, fake_time) -> None:
    fault(sandbox, "bad_json", method="GET", path=ORG)
    with pytest.raises(errors.InvalidResponseError, match="an HTML page") as info:
        client.get_organization()
    assert "--base-url" in (info.value.hint or "")
    assert sandbox.count("GET", ORG) == 1 and fake_time.sleeps == []


def test_deleted_task_is_not_found(client) -> None:
    created = client.create_text_to_image(BODY)
    client.delete_task(created.id)
    with pytest.raises(errors.NotFoundError) as info:
        client.get_task(created.id)
    assert "task id" in (info.value.hint or "")


def test_upload_returns_the_runway_uri_and_reports_progress(client) -> None:
    upload = client.create_upload("ref.png")
    assert upload.runway_uri.startswith("runway://")
    seen: list[tuple[int, int]] = []
    uri = client.upload_file(
        upload,
        "ref.png",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        "image/png",
        lambda sent, total: seen.append((sent, total)),
    )
    assert uri == upload.runway_uri
    assert seen and seen[-1][0] == seen[-1][1]


def test_upload_answer_without_its_fields_is_invalid(client, sandbox) -> None:
    fault(sandbox, "body", method="POST", path="/v1/uploads", body={"uploadUrl": "x"})
    with pytest.raises(errors.InvalidResponseError, match="uploadUrl, fields or runwayUri"):
        client.create_upload("ref.png")


# --- retries of reads ----------------------------------------------------------------------


def test_retry_after_http_date_far_away_is_capped(client, sandbox, fake_time) -> None:
    fault(sandbox, status=503, method="GET", path=ORG, retry_after="Wed, 21 Oct 2099 07:28:00 GMT")
    assert client.get_organization().credit_balance is not None
    assert fake_time.sleeps == [60.0]


def test_retry_after_seconds(client, sandbox, fake_time) -> None:
    fault(sandbox, status=429, method="GET", path=ORG, retry_after="7")
    client.get_organization()
    assert fake_time.sleeps == [7.0]


def test_each_retry_is_announced(client, sandbox) -> None:
    events: list[RetryEvent] = []
    client.on_retry = events.append
    fault(sandbox, status=503, method="GET", path=ORG, retry_after="2")
    fault(sandbox, status=429, method="GET", path=ORG, retry_after="3")
    client.get_organization()
    assert [(e.method, e.label, e.attempt, e.max_attempts, e.wait) for e in events] == [
        ("GET", ORG, 2, 5, 2.0),
        ("GET", ORG, 3, 5, 3.0),
    ]
    assert [e.rate_limited for e in events] == [False, True]
    assert "HTTP 503" in events[0].reason


def test_backoff_grows_and_attempts_are_bounded(client, sandbox, fake_time) -> None:
    fault(sandbox, status=502, method="GET", path=ORG, times=None)
    with pytest.raises(errors.ServerError) as info:
        client.get_organization()
    assert info.value.status_code == 502
    assert len(fake_time.sleeps) == 4 and sandbox.count("GET", ORG) == 5
    assert all(b > a for a, b in zip(fake_time.sleeps, fake_time.sleeps[1:], strict=False))
    assert 1.0 <= fake_time.sleeps[0] <= 1.5


def test_total_budget_stops_retries_early(sandbox, fake_time) -> None:
    fault(sandbox, status=503, method="GET", path=ORG, times=None, retry_after="50")
    policy = RetryPolicy(total_budget=120.0)
    with (
        RunwayClient(
            sandbox.base_url, KEY, retry=policy, sleep=fake_time.sleep, clock=fake_time.clock
        ) as c,
        pytest.raises(errors.ServerError),
    ):
        c.get_organization()
    assert fake_time.sleeps == [50.0, 50.0]  # a third 50 s wait would pass the 120 s budget


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(client, sandbox, fake_time, status) -> None:
    fault(sandbox, status=status, method="GET", path=ORG)
    with pytest.raises(errors.APIError) as info:
        client.get_organization()
    assert info.value.status_code == status and fake_time.sleeps == []


def test_dropped_read_is_retried(client, sandbox, fake_time) -> None:
    fault(sandbox, "drop", method="GET", path=ORG)
    assert client.get_organization().credit_balance is not None
    assert len(fake_time.sleeps) == 1 and sandbox.count("GET", ORG) == 2


def test_daily_limit_is_not_retried(client, sandbox, fake_time) -> None:
    fault(sandbox, status=429, method="GET", path=ORG, message=DAILY)
    with pytest.raises(errors.RateLimitError) as info:
        client.get_organization()
    assert info.value.daily_limit and info.value.kind == "daily_limit"
    assert "rolling 24 hours" in (info.value.hint or "")
    assert fake_time.sleeps == []


# --- creates: never sent twice ---------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
def test_create_5xx_is_ambiguous_and_not_resent(client, sandbox, fake_time, status) -> None:
    fault(sandbox, status=status, method="POST", path=CREATE)
    with pytest.raises(errors.AmbiguousCreateError, match=f"HTTP {status}"):
        client.create_text_to_image(BODY)
    assert sandbox.count("POST", CREATE) == 1 and fake_time.sleeps == []


@pytest.mark.parametrize("status", [429, 503])
def test_create_refused_by_the_server_is_sent_again(client, sandbox, fake_time, status) -> None:
    fault(sandbox, status=status, method="POST", path=CREATE, retry_after="1")
    created = client.create_text_to_image(BODY)
    assert created.id and sandbox.count("POST", CREATE) == 2 and fake_time.sleeps == [1.0]


@pytest.mark.parametrize(
    ("action", "needle"),
    [
        ("drop", "may have reached Runway"),  # the server closed without answering
        ("drop_after", "may have reached Runway"),  # created, then the answer was lost
        ("bad_json", "the task may have been created"),  # answered, but not the API's JSON
        ("empty_json", "no usable task id"),
    ],
)
def test_create_with_an_unusable_answer_is_ambiguous(
    client, sandbox, fake_time, action, needle
) -> None:
    fault(sandbox, action, method="POST", path=CREATE)
    with pytest.raises(errors.AmbiguousCreateError, match=needle) as info:
        client.create_text_to_image(BODY)
    assert "history" in (info.value.hint or "")
    assert fake_time.sleeps == []


def test_create_with_a_task_id_that_is_not_a_uuid_is_ambiguous(client, sandbox) -> None:
    fault(sandbox, "body", method="POST", path=CREATE, body={"id": "not-a-uuid"})
    with pytest.raises(errors.AmbiguousCreateError, match="no usable task id"):
        client.create_text_to_image(BODY)


def test_create_estimate_is_typed(client, sandbox) -> None:
    task_id = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"
    fault(sandbox, "body", method="POST", path=CREATE, body={"id": task_id, "estimatedCost": True})
    assert client.create_text_to_image(BODY).estimated_credits is None  # a bool is no number


def test_create_read_timeout_is_ambiguous(fake_time) -> None:
    # Its own sandbox: the delayed request goes on after the client gave up, and must not
    # reach another test's request counts.
    slow = FaultRule(action="delay", method="POST", path=CREATE, delay=0.3)
    with (
        SandboxServer(keys=[KEY], timeline=FAST, faults=[slow]) as server,
        RunwayClient(server.base_url, KEY, read_timeout=0.05, sleep=fake_time.sleep) as c,
        pytest.raises(errors.AmbiguousCreateError, match="timed out waiting for the answer"),
    ):
        c.create_text_to_image(BODY)
    assert fake_time.sleeps == []


def test_create_connect_refused_is_retried_because_never_sent(fake_time) -> None:
    with (
        RunwayClient(
            f"http://127.0.0.1:{free_port()}", KEY, sleep=fake_time.sleep, clock=fake_time.clock
        ) as c,
        pytest.raises(errors.NetworkError, match="could not connect") as info,
    ):
        c.create_text_to_image(BODY)
    assert not isinstance(info.value, errors.AmbiguousCreateError)
    assert len(fake_time.sleeps) == 4  # retried: the request provably never left


def interrupted(seconds: float) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("method", "path", "call", "raised"),
    [
        # A read: a plain Ctrl-C, for the layer above to turn into the right message.
        ("GET", ORG, lambda c: c.get_organization(), KeyboardInterrupt),
        # A create is only retried when Runway refused it: nothing was created.
        ("POST", CREATE, lambda c: c.create_text_to_image(BODY), errors.Interrupted),
    ],
)
def test_ctrl_c_during_a_retry_wait(sandbox, method, path, call, raised) -> None:
    fault(sandbox, status=503, method=method, path=path)
    with (
        RunwayClient(sandbox.base_url, KEY, sleep=interrupted) as c,
        pytest.raises(raised) as info,
    ):
        call(c)
    if raised is errors.Interrupted:
        assert "no task was created" in info.value.message
        assert info.value.stage is errors.Stage.BEFORE_CREATE and info.value.task_id is None


def test_daily_limit_on_create_is_reported_plainly(client, sandbox, fake_time) -> None:
    fault(sandbox, status=429, method="POST", path=CREATE, message=DAILY)
    with pytest.raises(errors.RateLimitError, match="daily task limit") as info:
        client.create_text_to_image(BODY)
    assert info.value.daily_limit and fake_time.sleeps == []


def test_not_enough_credits_is_its_own_error(client, sandbox) -> None:
    fault(sandbox, status=400, method="POST", path=CREATE, message=NO_CREDITS)
    with pytest.raises(errors.InsufficientCreditsError) as info:
        client.create_text_to_image(BODY)
    assert info.value.kind == "insufficient_credits"
    assert "Add credits" in (info.value.hint or "")


def test_400_issues_are_parsed(client) -> None:
    with pytest.raises(errors.BadRequestError) as info:
        client.create_text_to_image({**BODY, "ratio": "1:1"})
    assert info.value.error == "Validation of body failed"
    assert next(str(i) for i in info.value.issues).startswith("ratio: Invalid enum value")


# --- plumbing ------------------------------------------------------------------------------


def test_sandbox_is_announced_once(client) -> None:
    seen: list[str] = []
    client.on_sandbox = seen.append
    client.get_organization()
    client.get_organization()
    assert seen == [client.base_url]


@pytest.mark.parametrize(
    ("base_url", "key"),
    [("not-a-url", KEY), ("http://", KEY), ("http://127.0.0.1:9", "key_with\nnewline")],
)
def test_malformed_request_is_a_usage_error_and_nothing_is_sent(base_url, key) -> None:
    with (
        RunwayClient(base_url, key) as c,
        pytest.raises(errors.UsageError, match="nothing was sent"),
    ):
        c.get_organization()


def test_key_not_in_error_messages_or_reprs(client, sandbox) -> None:
    fault(sandbox, status=401, method="GET", path=ORG)
    with pytest.raises(errors.AuthenticationError) as info:
        client.get_organization()
    assert KEY not in str(info.value) and KEY not in repr(info.value.__dict__)
