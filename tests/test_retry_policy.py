"""Unit tests for runway_cli.api.retry: the backoff schedule and Retry-After parsing."""

from __future__ import annotations

import calendar
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runway_cli.api.retry import (
    RETRYABLE_CREATE_STATUSES,
    RETRYABLE_READ_STATUSES,
    RetryPolicy,
    parse_retry_after,
)

# Wed, 21 Oct 2015 07:28:00 GMT as a Unix timestamp.
NOW = float(calendar.timegm((2015, 10, 21, 7, 28, 0)))


def no_jitter() -> RetryPolicy:
    return RetryPolicy(jitter=0.0)


# --- RetryPolicy.delay --------------------------------------------------------------------


def test_delay_doubles_from_backoff() -> None:
    policy = no_jitter()
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_delay_is_capped_at_max_backoff() -> None:
    policy = no_jitter()
    assert policy.delay(6) == 30.0
    assert policy.delay(50) == 30.0


def test_delay_respects_custom_backoff_and_cap() -> None:
    policy = RetryPolicy(backoff=0.25, max_backoff=1.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("seed", [0, 1, 1234])
def test_delay_jitter_within_bounds(seed: int) -> None:
    policy = RetryPolicy(rng=random.Random(seed))
    for attempt in range(1, 10):
        base = min(2.0 ** (attempt - 1), 30.0)
        samples = [policy.delay(attempt) for _ in range(200)]
        assert all(base <= d <= base * 1.5 for d in samples)
        # Jitter spreads the delays over most of the allowed band.
        assert max(samples) - min(samples) > base * 0.3


def test_delay_jitter_is_reproducible_with_seed() -> None:
    a = RetryPolicy(rng=random.Random(99))
    b = RetryPolicy(rng=random.Random(99))
    assert [a.delay(n) for n in range(1, 8)] == [b.delay(n) for n in range(1, 8)]


def test_retry_after_is_honoured_without_jitter() -> None:
    policy = RetryPolicy(rng=random.Random(0))
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(4, retry_after=0.5) == 0.5


def test_retry_after_is_capped() -> None:
    assert RetryPolicy().delay(1, retry_after=3600.0) == 60.0
    assert RetryPolicy(max_retry_after=10.0).delay(1, retry_after=11.0) == 10.0


def test_retry_after_may_exceed_backoff_cap_up_to_its_own_cap() -> None:
    # The server's Retry-After wins over the exponential schedule's max_backoff.
    assert RetryPolicy().delay(1, retry_after=45.0) == 45.0


@pytest.mark.parametrize("value", [0.0, -5.0])
def test_retry_after_zero_or_negative_means_no_wait(value: float) -> None:
    assert RetryPolicy().delay(3, retry_after=value) == 0.0


def test_create_retries_are_a_strict_subset_of_read_retries() -> None:
    assert RETRYABLE_CREATE_STATUSES < RETRYABLE_READ_STATUSES
    # 500/502/504 may mean the create was accepted: never retried (billed, no idempotency key).
    assert not {500, 502, 504} & RETRYABLE_CREATE_STATUSES
    assert {429, 503} <= RETRYABLE_CREATE_STATUSES


# --- RetryPolicy.decide ---------------------------------------------------------------------


def test_decide_gives_up_on_errors_not_worth_retrying() -> None:
    assert no_jitter().decide(attempt=1, elapsed=0.0, retryable=False, retry_after=None) is None


@pytest.mark.parametrize(("attempt", "wait"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)])
def test_decide_waits_the_backoff_until_the_last_attempt(attempt: int, wait: float) -> None:
    policy = no_jitter()
    assert policy.decide(attempt=attempt, elapsed=0.0, retryable=True, retry_after=None) == wait


def test_decide_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, jitter=0.0)
    assert policy.decide(attempt=2, elapsed=0.0, retryable=True, retry_after=None) == 2.0
    assert policy.decide(attempt=3, elapsed=0.0, retryable=True, retry_after=None) is None


def test_decide_prefers_retry_after() -> None:
    policy = no_jitter()
    assert policy.decide(attempt=1, elapsed=0.0, retryable=True, retry_after=12.0) == 12.0


@pytest.mark.parametrize(
    ("elapsed", "retry_after", "expected"),
    [(100.0, 20.0, 20.0), (100.0, 20.5, None), (119.0, 1.0, 1.0), (119.5, 1.0, None)],
)
def test_decide_keeps_within_the_total_budget(
    elapsed: float, retry_after: float, expected: float | None
) -> None:
    policy = RetryPolicy(total_budget=120.0)
    got = policy.decide(attempt=1, elapsed=elapsed, retryable=True, retry_after=retry_after)
    assert got == expected


@settings(deadline=None, database=None)
@given(
    attempt=st.integers(1, 20),
    elapsed=st.floats(0, 500),
    retry_after=st.none() | st.floats(-10, 10_000),
    seed=st.integers(0, 2**32),
)
def test_decide_never_waits_past_the_budget_or_the_caps(
    attempt: int, elapsed: float, retry_after: float | None, seed: int
) -> None:
    policy = RetryPolicy(rng=random.Random(seed))
    wait = policy.decide(attempt=attempt, elapsed=elapsed, retryable=True, retry_after=retry_after)
    if wait is None:
        return
    assert attempt < policy.max_attempts
    assert 0.0 <= wait <= max(policy.max_retry_after, policy.max_backoff * (1 + policy.jitter))
    assert elapsed + wait <= policy.total_budget


# --- parse_retry_after --------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "seconds"), [("120", 120.0), ("0", 0.0), (" 5 ", 5.0)])
def test_parse_seconds(raw: str, seconds: float) -> None:
    assert parse_retry_after(raw, now=NOW) == seconds


def test_parse_http_date_in_the_future() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=NOW) == pytest.approx(30.0)


def test_parse_http_date_exactly_now_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == pytest.approx(0.0)


def test_parse_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now=NOW) == 0.0


def test_parse_http_date_with_numeric_offset() -> None:
    # 09:28:30 at +0200 is 07:28:30 GMT.
    assert parse_retry_after("Wed, 21 Oct 2015 09:28:30 +0200", now=NOW) == pytest.approx(30.0)


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "soon", "-5", "1.5", "Wed, 99 Foo 2015", "Wed, 21 Oct 2015 25:61:00 GMT"],
)
def test_parse_garbage_is_none(raw: str | None) -> None:
    assert parse_retry_after(raw, now=NOW) is None


@pytest.mark.parametrize("raw", ["\u00b2", "\uff11\uff12", "\u0661"])
def test_parse_non_ascii_digits_is_none_not_a_crash(raw: str) -> None:
    # str.isdigit() is True for these, but float() cannot parse superscripts.
    assert parse_retry_after(raw, now=NOW) is None


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset")
def test_parse_http_date_without_zone_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        # RFC 9110 dates are always UTC, whatever the local zone (which is 4-5 hours off here).
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 -0000", now=NOW) == pytest.approx(30)
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:30", now=NOW) == pytest.approx(30)
    finally:
        monkeypatch.undo()
        time.tzset()
