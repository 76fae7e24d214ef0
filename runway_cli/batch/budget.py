"""``--max-credits N``: a budget over the whole manifest, reruns included.

Before each create, the credits already spent (final costs in the manifest), plus the
estimated cost of every task in flight (and of creates on their way), plus the next item's
expected cost must stay within N. The expected cost is the last cost seen for the item's
model (an ``estimatedCost`` or a final cost, per image, times the item's images).

A model's first task is the one whose cost cannot be known in advance: it is allowed while
what is committed is still under the budget, and the next task of that model waits until
its answer (``estimatedCost``) makes the cost known. Without a budget nothing waits.

Everything is keyed by a ticket (the item's key): a reservation becomes a task in flight when
the create answers, and is spent when the task ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    GO = "go"
    WAIT = "wait"  # a task of this model of still unknown cost is on its way: ask again
    STOP = "stop"  # the budget is reached


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    expected: float | None  # None: the first task of its model, cost unknowable
    committed: float  # spent plus in flight

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.GO


class Budget:
    """Credits spent and in flight; thread-safe. ``limit`` None: no budget, only counting."""

    def __init__(
        self,
        limit: float | None,
        *,
        spent: float = 0.0,
        per_image: dict[str, float] | None = None,
    ) -> None:
        self.limit = limit
        self._spent = spent
        self._per_image = dict(per_image or {})
        self._in_flight: dict[str, tuple[str, float | None]] = {}  # ticket -> model, credits
        self._changed = threading.Condition()

    @property
    def spent(self) -> float:
        with self._changed:
            return self._spent

    @property
    def in_flight(self) -> float:
        with self._changed:
            return self._in_flight_total()

    def _in_flight_total(self) -> float:
        return sum(credits or 0.0 for _, credits in self._in_flight.values())

    def expected(self, model: str, images: int) -> float | None:
        with self._changed:
            return self._expected(model, images)

    def _expected(self, model: str, images: int) -> float | None:
        per_image = self._per_image.get(model)
        return None if per_image is None else per_image * images

    def check(self, model: str, images: int) -> Verdict:
        """May a task of ``model`` making ``images`` images be created now?"""
        with self._changed:
            return self._check(model, images)

    def _check(self, model: str, images: int) -> Verdict:
        expected = self._expected(model, images)
        committed = self._spent + self._in_flight_total()
        if self.limit is None:
            return Verdict(Decision.GO, expected, committed)
        if expected is not None:
            fits = committed + expected <= self.limit
            return Verdict(Decision.GO if fits else Decision.STOP, expected, committed)
        if committed >= self.limit:
            return Verdict(Decision.STOP, None, committed)
        unknown = any(m == model and c is None for m, c in self._in_flight.values())
        return Verdict(Decision.WAIT if unknown else Decision.GO, None, committed)

    def reserve(self, ticket: str, model: str, images: int) -> Verdict:
        """``check``, and on GO count the expected cost in flight at once (so creates sent
        in parallel are all counted)."""
        with self._changed:
            verdict = self._check(model, images)
            if verdict.allowed:
                self._in_flight[ticket] = (model, verdict.expected)
            return verdict

    def unreserve(self, ticket: str) -> None:
        """The create was not made (refused, or never sent)."""
        with self._changed:
            self._in_flight.pop(ticket, None)
            self._changed.notify_all()

    def created(self, ticket: str, model: str, images: int, estimate: float | None) -> None:
        """A task exists: its estimate is in flight, and the model's cost is now known."""
        with self._changed:
            self._in_flight[ticket] = (model, estimate)
            if estimate is not None and images > 0:
                self._per_image[model] = estimate / images
            self._changed.notify_all()

    def finished(self, ticket: str, cost: float | None, *, images: int = 1) -> None:
        """A task ended: its final cost (None: not known, count the estimate) is spent."""
        with self._changed:
            model, estimate = self._in_flight.pop(ticket, (None, None))
            final = cost if cost is not None else estimate
            self._spent += final or 0.0
            if model is not None and cost is not None and cost > 0 and images > 0:
                self._per_image[model] = cost / images
            self._changed.notify_all()

    def released(self, ticket: str) -> None:
        """A task left this run without ending (interrupted): no longer counted in flight
        here (the next run counts it again from the manifest)."""
        with self._changed:
            self._in_flight.pop(ticket, None)
            self._changed.notify_all()

    def wait_for_change(self, timeout: float) -> None:
        """Block until a reservation, task or cost changes (or ``timeout`` passes)."""
        with self._changed:
            self._changed.wait(timeout)
