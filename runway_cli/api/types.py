"""Typed results of the Runway API, built once where the client parses an answer.

Nothing above the client passes raw API dicts around or compares status strings: it gets a
``Task``, a ``CreatedTask``, an ``Organization`` or an ``Upload``. Each keeps the API's object
exactly as received in ``raw`` (``status --json`` prints it unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    OTHER = "OTHER"  # a status this version does not know yet: still in progress

    @classmethod
    def from_wire(cls, text: str) -> TaskStatus:
        try:
            status = cls(text)
        except ValueError:
            return cls.OTHER
        return cls.OTHER if status is cls.OTHER else status

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


@dataclass(frozen=True)
class Failure:
    message: str
    code: str | None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _credits(obj: Any) -> int | float | None:
    return _number(obj.get("credits")) if isinstance(obj, Mapping) else None


@dataclass(frozen=True)
class Task:
    """One ``GET /v1/tasks/{id}`` answer."""

    id: str
    status: TaskStatus
    status_text: str  # as sent, for statuses this version does not know
    created_at: str | None = None
    progress: float | None = None
    output_urls: tuple[str, ...] = ()
    credits: int | float | None = None  # final cost once ended, else the estimate
    credits_final: bool = False
    failure: Failure | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any], task_id: str) -> Task:
        """Build from an answer already known to be an object with a string ``status``.

        ``task_id`` is the id that was asked for: it names the task even if the body's
        ``id`` is missing or different.
        """
        status_text = str(data["status"])
        status = TaskStatus.from_wire(status_text)
        output = data.get("output")
        urls = (
            tuple(output)
            if isinstance(output, list) and all(isinstance(u, str) for u in output)
            else ()
        )
        final = _credits(data.get("cost"))
        failure = None
        if status is TaskStatus.FAILED:
            code = data.get("failureCode")
            reason = data.get("failure")
            failure = Failure(
                message=reason if isinstance(reason, str) and reason else "no reason given",
                code=code if isinstance(code, str) and code else None,
            )
        progress = _number(data.get("progress"))
        created = data.get("createdAt")
        return cls(
            id=task_id,
            status=status,
            status_text=status_text,
            created_at=created if isinstance(created, str) else None,
            progress=float(progress) if progress is not None else None,
            output_urls=urls,
            credits=final if final is not None else _credits(data.get("estimatedCost")),
            credits_final=final is not None,
            failure=failure,
            raw=dict(data),
        )

    @classmethod
    def placeholder(cls, task_id: str, *, credits: int | float | None = None) -> Task:
        """A task known only by its id (just created, or not fetched yet): PENDING."""
        status = TaskStatus.PENDING
        return cls(id=task_id, status=status, status_text=status.value, credits=credits)


@dataclass(frozen=True)
class CreatedTask:
    """The answer to ``POST /v1/text_to_image``."""

    id: str
    estimated_credits: int | float | None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ModelLimits:
    max_concurrent: int | None  # None: no limit reported
    max_daily: int | None
    used_today: int


@dataclass(frozen=True)
class Organization:
    """The answer to ``GET /v1/organization``."""

    credit_balance: int | float | None
    max_monthly_spend: int | float | None
    models: Mapping[str, ModelLimits]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Organization:
        tier = data.get("tier") if isinstance(data.get("tier"), Mapping) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), Mapping) else {}
        assert isinstance(tier, Mapping) and isinstance(usage, Mapping)
        limits = tier.get("models") if isinstance(tier.get("models"), Mapping) else {}
        used = usage.get("models") if isinstance(usage.get("models"), Mapping) else {}
        assert isinstance(limits, Mapping) and isinstance(used, Mapping)
        models: dict[str, ModelLimits] = {}
        for name in sorted(set(limits) | set(used)):
            limit = limits.get(name) if isinstance(limits.get(name), Mapping) else {}
            today = used.get(name) if isinstance(used.get(name), Mapping) else {}
            assert isinstance(limit, Mapping) and isinstance(today, Mapping)
            models[str(name)] = ModelLimits(
                max_concurrent=_int_or_none(limit.get("maxConcurrentGenerations")),
                max_daily=_int_or_none(limit.get("maxDailyGenerations")),
                used_today=_int_or_none(today.get("dailyGenerations")) or 0,
            )
        return cls(
            credit_balance=_number(data.get("creditBalance")),
            max_monthly_spend=_number(tier.get("maxMonthlyCreditSpend")),
            models=models,
            raw=dict(data),
        )


def _int_or_none(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


@dataclass(frozen=True)
class Upload:
    """Where to send one file (``POST /v1/uploads``) and the URI to use once it is there."""

    upload_url: str
    fields: Mapping[str, str]
    runway_uri: str


@dataclass(frozen=True)
class RetryEvent:
    """A request is about to be tried again (so a wait, above all a rate limit, is visible)."""

    method: str
    label: str
    attempt: int  # the attempt that is coming, from 2
    max_attempts: int
    wait: float
    reason: str
    rate_limited: bool
