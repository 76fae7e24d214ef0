"""How many tasks may be in flight: per model, and in all.

A task holds a slot of its model and one of the total from its create until Runway says it
ended (THROTTLED tasks hold theirs: they count as in flight); its outputs are then downloaded
while the next task is created. ``take`` picks the first waiting job whose model has room, so
one busy model never holds up the others.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, MutableSequence
from typing import Protocol, TypeVar

DEFAULT_PER_MODEL = 2  # when the account does not say (maxConcurrentGenerations null)
DEFAULT_TOTAL = 16  # the global cap, unless --concurrency says otherwise


class HasModel(Protocol):
    @property
    def model(self) -> str: ...


J = TypeVar("J", bound=HasModel)


class Slots:
    def __init__(self, per_model: Callable[[str], int], total: int) -> None:
        self._per_model = per_model
        self.total = max(1, total)
        self._models: Counter[str] = Counter()
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()

    def limit(self, model: str) -> int:
        return max(1, min(self._per_model(model), self.total))

    def take(self, waiting: MutableSequence[J]) -> J | None:
        """Remove and return the first job that may start now, holding its slots; wait
        while none may. None once ``close`` is called."""
        with self._cond:
            while not self._closed:
                if self._held < self.total:
                    for index, job in enumerate(waiting):
                        if self._models[job.model] < self.limit(job.model):
                            del waiting[index]
                            self._models[job.model] += 1
                            self._held += 1
                            return job
                self._cond.wait()
            return None

    def give_back(self, model: str) -> None:
        """The task ended (or was never created): its slots are free."""
        with self._cond:
            self._models[model] = max(0, self._models[model] - 1)
            self._held = max(0, self._held - 1)
            self._cond.notify_all()

    def close(self) -> None:
        """No more jobs start: every ``take`` returns None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
