"""``--max-credits N``: a budget over the whole manifest, reruns included.

Before each create, the credits already spent (final costs in the manifest), plus the
estimated cost of every task in flight, plus the next item's expected cost must stay within
N. The expected cost is the last cost seen for the item's model (an ``estimatedCost`` or a
final cost, per image, times the item's images).

A model's first task is the one whose cost cannot be known in advance: it is allowed while
what is committed is still under the budget, but only one task of a model of unknown cost
is in flight at a time, and its answer (``estimatedCost``) makes the next one knowable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    expected: float | None  # None: the first task of its model, cost unknowable
    committed: float  # spent plus in flight


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
        self._in_flight: dict[str, tuple[str, float | None]] = {}  # task id -> model, estimate
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

    @property
    def in_flight(self) -> float:
        with self._lock:
            return self._in_flight_total()

    def _in_flight_total(self) -> float:
        return sum(estimate or 0.0 for _, estimate in self._in_flight.values())

    def expected(self, model: str, images: int) -> float | None:
        with self._lock:
            per_image = self._per_image.get(model)
        return None if per_image is None else per_image * images

    def check(self, model: str, images: int) -> Verdict:
        """May a task of ``model`` making ``images`` images be created now?"""
        expected = self.expected(model, images)
        with self._lock:
            committed = self._spent + self._in_flight_total()
            if self.limit is None:
                return Verdict(True, expected, committed)
            if expected is not None:
                return Verdict(committed + expected <= self.limit, expected, committed)
            unknown_in_flight = any(
                m == model and estimate is None for m, estimate in self._in_flight.values()
            )
            return Verdict(committed < self.limit and not unknown_in_flight, None, committed)

    def created(self, task_id: str, model: str, images: int, estimate: float | None) -> None:
        """A task exists: its estimate is in flight, and the model's cost is now known."""
        with self._lock:
            self._in_flight[task_id] = (model, estimate)
            if estimate is not None and images > 0:
                self._per_image[model] = estimate / images

    def finished(self, task_id: str, cost: float | None, *, images: int = 1) -> None:
        """A task ended: its final cost (None: not known, count the estimate) is spent."""
        with self._lock:
            model, estimate = self._in_flight.pop(task_id, (None, None))
            final = cost if cost is not None else estimate
            self._spent += final or 0.0
            if model is not None and cost is not None and cost > 0 and images > 0:
                self._per_image[model] = cost / images

    def released(self, task_id: str) -> None:
        """A task left this run without ending (interrupted): no longer counted in flight
        here (the next run counts it again from the manifest)."""
        with self._lock:
            self._in_flight.pop(task_id, None)
