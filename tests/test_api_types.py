"""Typed API answers, built once where the client parses them: Task (unknown statuses are OTHER
and still in progress; the raw object is kept as received) and Organization."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runway_cli.api.types import (
    Failure,
    ModelLimits,
    Organization,
    Task,
    TaskStatus,
)
from tests.fakes import OTHER_ID, TASK_ID

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


# --- TaskStatus -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["PENDING", "THROTTLED", "RUNNING", *sorted(TERMINAL)])
def test_known_statuses(text: str) -> None:
    status = TaskStatus.from_wire(text)
    assert status.value == text
    assert status.is_terminal is (text in TERMINAL)


@pytest.mark.parametrize("text", ["PROCESSING", "OTHER", "succeeded", "", " RUNNING"])
def test_unknown_statuses_are_other_and_in_progress(text: str) -> None:
    status = TaskStatus.from_wire(text)
    assert status is TaskStatus.OTHER and not status.is_terminal


@given(st.text(max_size=20))
def test_from_wire_never_fails_and_only_three_statuses_end_a_task(text: str) -> None:
    assert TaskStatus.from_wire(text).is_terminal is (text in TERMINAL)


# --- Task.from_api ----------------------------------------------------------------------------

SUCCEEDED = {
    "id": TASK_ID,
    "status": "SUCCEEDED",
    "createdAt": "2026-01-01T00:00:00Z",
    "output": ["https://f.example/1.png", "https://f.example/2.png"],
    "cost": {"credits": 5},
    "estimatedCost": {"credits": 7},
    "somethingNew": {"nested": [1, 2]},
}


def test_succeeded_task() -> None:
    task = Task.from_api(SUCCEEDED, TASK_ID)
    assert task.id == TASK_ID and task.status is TaskStatus.SUCCEEDED
    assert task.status_text == "SUCCEEDED" and task.created_at == "2026-01-01T00:00:00Z"
    assert task.output_urls == ("https://f.example/1.png", "https://f.example/2.png")
    assert (task.credits, task.credits_final) == (5, True)  # the final cost wins
    assert task.failure is None and task.progress is None


def test_raw_is_kept_exactly_as_received() -> None:
    data = json.loads(json.dumps(SUCCEEDED))
    task = Task.from_api(data, TASK_ID)
    assert json.dumps(dict(task.raw)) == json.dumps(SUCCEEDED)  # same keys, same order
    data["status"] = "changed later"
    assert task.raw["status"] == "SUCCEEDED"  # a copy, not a view of the caller's dict


def test_the_id_asked_for_names_the_task() -> None:
    assert Task.from_api({"id": OTHER_ID, "status": "RUNNING"}, TASK_ID).id == TASK_ID
    assert Task.from_api({"status": "RUNNING"}, TASK_ID).id == TASK_ID


def test_running_task_with_progress_and_estimate() -> None:
    task = Task.from_api(
        {"status": "RUNNING", "progress": 1, "estimatedCost": {"credits": 2.5}}, TASK_ID
    )
    assert task.progress == 1.0 and isinstance(task.progress, float)
    assert (task.credits, task.credits_final) == (2.5, False)


def test_unknown_status_keeps_its_text() -> None:
    task = Task.from_api({"status": "PROCESSING"}, TASK_ID)
    assert task.status is TaskStatus.OTHER and task.status_text == "PROCESSING"
    assert not task.status.is_terminal


@pytest.mark.parametrize(
    ("fields", "failure"),
    [
        (
            {"failure": "Bad prompt", "failureCode": "SAFETY.INPUT.TEXT"},
            ("Bad prompt", "SAFETY.INPUT.TEXT"),
        ),
        ({}, ("no reason given", None)),
        ({"failure": "", "failureCode": ""}, ("no reason given", None)),
        ({"failure": 3, "failureCode": ["x"]}, ("no reason given", None)),
    ],
)
def test_failed_task_failure(fields: dict, failure: tuple[str, str | None]) -> None:
    task = Task.from_api({"status": "FAILED", **fields}, TASK_ID)
    assert task.failure == Failure(*failure)


def test_failure_is_only_read_for_failed_tasks() -> None:
    task = Task.from_api({"status": "CANCELLED", "failure": "why"}, TASK_ID)
    assert task.failure is None


@pytest.mark.parametrize(
    "fields",
    [
        {"output": "https://f.example/1.png"},
        {"output": ["https://f.example/1.png", None]},
        {"output": None},
        {"progress": "50%", "createdAt": 12345},
        {"progress": True},
        {"cost": {"credits": True}, "estimatedCost": {"credits": "5"}},
        {"cost": 5, "estimatedCost": [5]},
    ],
)
def test_odd_fields_are_ignored_not_fatal(fields: dict) -> None:
    task = Task.from_api({"status": "SUCCEEDED", **fields}, TASK_ID)
    assert task.output_urls == () or task.output_urls == ("https://f.example/1.png",)
    assert task.progress is None or isinstance(task.progress, float)
    assert task.credits is None and not task.credits_final
    assert task.created_at is None


def test_placeholder() -> None:
    task = Task.placeholder(TASK_ID, credits=3)
    assert (task.id, task.status, task.status_text, task.credits) == (
        TASK_ID,
        TaskStatus.PENDING,
        "PENDING",
        3,
    )
    assert not task.credits_final and task.raw == {}


def test_tasks_compare_by_content_not_raw() -> None:
    a = Task.from_api({"status": "RUNNING", "extra": 1}, TASK_ID)
    b = Task.from_api({"status": "RUNNING", "extra": 2}, TASK_ID)
    assert a == b


# --- Organization.from_api --------------------------------------------------------------------


def test_organization() -> None:
    data = {
        "creditBalance": 9084,
        "tier": {
            "maxMonthlyCreditSpend": 100000,
            "models": {
                "gen4_image": {"maxConcurrentGenerations": 2, "maxDailyGenerations": 500},
                "gpt_image_2": {"maxConcurrentGenerations": 1},
            },
        },
        "usage": {"models": {"gen4_image": {"dailyGenerations": 12}, "old_model": {}}},
    }
    org = Organization.from_api(data)
    assert org.credit_balance == 9084 and org.max_monthly_spend == 100000
    assert list(org.models) == ["gen4_image", "gpt_image_2", "old_model"]  # sorted union
    assert org.models["gen4_image"] == ModelLimits(2, 500, 12)
    assert org.models["gpt_image_2"] == ModelLimits(1, None, 0)
    assert org.models["old_model"] == ModelLimits(None, None, 0)
    assert org.raw == data


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"creditBalance": "lots", "tier": [], "usage": "x"},
        {"tier": {"models": []}, "usage": {"models": None}},
        {"tier": {"models": {"m": "x"}}, "usage": {"models": {"m": 3}}},
        {"creditBalance": True, "tier": {"maxMonthlyCreditSpend": False}},
    ],
)
def test_organization_with_odd_shapes_degrades_to_unknowns(data: dict) -> None:
    org = Organization.from_api(data)
    assert org.credit_balance is None and org.max_monthly_spend is None
    assert all(limits == ModelLimits(None, None, 0) for limits in org.models.values())


def test_organization_float_limits_become_whole_numbers() -> None:
    org = Organization.from_api(
        {"tier": {"models": {"m": {"maxDailyGenerations": 10.0}}}, "creditBalance": 5.5}
    )
    assert org.models["m"].max_daily == 10 and isinstance(org.models["m"].max_daily, int)
    assert org.credit_balance == 5.5
