"""The one retry policy: which failures are worth another attempt, and how long to wait.

Pure logic with an injectable random source, so the schedule is unit-tested without sleeping.
The client's loop is split in three: one *attempt* (send), *classify* the result (client.py:
success, or an error that is or is not worth retrying), and *decide* (here: wait how long, or
give up).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC

# Statuses worth retrying for reads (GET, DELETE, downloads).
RETRYABLE_READ_STATUSES = frozenset({429, 500, 502, 503, 504})
# A create is billed and has no idempotency key: retry only when the server provably did
# not accept it (429 = refused by the rate limiter, 503 = not taken in).
RETRYABLE_CREATE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: float = 1.0  # first wait; doubles each attempt
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    total_budget: float = 120.0  # seconds across all waits of one request
    jitter: float = 0.5  # up to +50%, as the API docs advise
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return float(base * (1 + self.jitter * self.rng.random()))

    def decide(
        self, *, attempt: int, elapsed: float, retryable: bool, retry_after: float | None
    ) -> float | None:
        """How long to wait before the next attempt, or None to give up now."""
        if not retryable or attempt >= self.max_attempts:
            return None
        wait = self.delay(attempt, retry_after)
        if elapsed + wait > self.total_budget:
            return None
        return wait


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now; accepts delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    import email.utils  # only for the rare HTTP-date form; it is slow to import

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: RFC 9110 dates are always UTC
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)
