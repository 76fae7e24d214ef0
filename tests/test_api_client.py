"""The API client against a real sandbox socket, with an injected sleep (no real waiting)."""

from __future__ import annotations

import pytest

from runway_cli import errors
from runway_cli.client import RunwayClient
from runway_cli.retry import RetryPolicy
from runway_cli.sandbox import FaultRule
from tests.conftest import KEY

CREATE = "/v1/text_to_image"
BODY = {"model": "gen4_image", "promptText": "a fox", "ratio": "1280:720"}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(sandbox, fake_time):
    with RunwayClient(
        sandbox.base_url, KEY, retry=RetryPolicy(), sleep=fake_time.sleep, clock=fake_time.clock
    ) as c:
        yield c


def test_retry_after_http_date_far_away_is_capped(client, sandbox, fake_time):
    sandbox.faults.add(
        FaultRule(
            action="status",
            status=503,
            method="GET",
            path="/v1/organization",
            retry_after="Wed, 21 Oct 2099 07:28:00 GMT",
        )
    )
    assert "creditBalance" in client.get_organization()
    assert fake_time.sleeps == [60.0]


def test_retry_after_seconds(client, sandbox, fake_time):
    sandbox.faults.add(
        FaultRule(
            action="status", status=429, method="GET", path="/v1/organization", retry_after="7"
        )
    )
    client.get_organization()
    assert fake_time.sleeps == [7.0]


def test_backoff_grows_and_attempts_are_bounded(client, sandbox, fake_time):
    sandbox.faults.add(
        FaultRule(action="status", status=502, method="GET", path="/v1/organization", times=None)
    )
    with pytest.raises(errors.ServerError) as info:
        client.get_organization()
    assert info.value.status_code == 502
    assert len(fake_time.sleeps) == 4 and sandbox.count("GET", "/v1/organization") == 5
    assert all(b > a for a, b in zip(fake_time.sleeps, fake_time.sleeps[1:], strict=False))
    assert 1.0 <= fake_time.sleeps[0] <= 1.5


def test_total_budget_stops_retries_early(sandbox, fake_time):
    sandbox.faults.add(
        FaultRule(
            action="status",
            status=503,
            method="GET",
            path="/v1/organization",
            times=None,
            retry_after="50",
        )
    )
    policy = RetryPolicy(total_budget=120.0)
    with (
        RunwayClient(
            sandbox.base_url, KEY, retry=policy, sleep=fake_time.sleep, clock=fake_time.clock
        ) as c,
        pytest.raises(errors.ServerError),
    ):
        c.get_organization()
    assert fake_time.sleeps == [50.0, 50.0]  # a third 50 s wait would pass the 120 s budget


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_are_never_retried(client, sandbox, fake_time, status):
    sandbox.faults.add(
        FaultRule(action="status", status=status, method="GET", path="/v1/organization")
    )
    with pytest.raises(errors.APIError) as info:
        client.get_organization()
    assert info.value.status_code == status and fake_time.sleeps == []


@pytest.mark.parametrize("status", [500, 502, 504])
def test_create_5xx_is_ambiguous_and_not_resent(client, sandbox, fake_time, status):
    sandbox.faults.add(FaultRule(action="status", status=status, method="POST", path=CREATE))
    with pytest.raises(errors.AmbiguousCreateError):
        client.create_text_to_image(BODY)
    assert sandbox.count("POST", CREATE) == 1 and fake_time.sleeps == []


def test_create_connect_refused_is_retried_because_never_sent(fake_time):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        RunwayClient(
            f"http://127.0.0.1:{port}", KEY, sleep=fake_time.sleep, clock=fake_time.clock
        ) as c,
        pytest.raises(errors.NetworkError) as info,
    ):
        c.create_text_to_image(BODY)
    assert not isinstance(info.value, errors.AmbiguousCreateError)
    assert len(fake_time.sleeps) == 4  # retried: the request provably never left


def test_400_issues_are_parsed(client):
    with pytest.raises(errors.BadRequestError) as info:
        client.create_text_to_image({**BODY, "ratio": "1:1"})
    assert info.value.error == "Validation of body failed"
    assert next(str(i) for i in info.value.issues).startswith("ratio: Invalid enum value")


def test_key_not_in_error_messages_or_reprs(client, sandbox):
    sandbox.faults.add(
        FaultRule(action="status", status=401, method="GET", path="/v1/organization")
    )
    with pytest.raises(errors.AuthenticationError) as info:
        client.get_organization()
    assert KEY not in str(info.value) and KEY not in repr(info.value.__dict__)
