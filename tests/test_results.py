"""The --json objects, as pure functions of typed results (the schemas the README documents)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runway_cli.api.types import Organization
from runway_cli.results import TaskSummary, organization_result, task_result
from runway_cli.saving import SavedFile
from tests.fakes import TASK_ID, succeeded, task

KEYS = ["id", "status", "model", "ratio", "prompt", "output", "files", "cost"]
SUMMARY = TaskSummary(TASK_ID, model="gen4_image", ratio="1280:720", prompt="a fox")


def saved(name: str) -> SavedFile:
    return SavedFile(path=Path(name), url=f"https://f.example/{name}", bytes=1, kind="png")


def test_a_succeeded_task() -> None:
    result = task_result(
        SUMMARY, succeeded("https://f.example/1.png", credits=5), [saved("fox.png")]
    )
    assert list(result) == KEYS
    assert result == {
        "id": TASK_ID,
        "status": "SUCCEEDED",
        "model": "gen4_image",
        "ratio": "1280:720",
        "prompt": "a fox",
        "output": ["https://f.example/1.png"],
        "files": ["fox.png"],
        "cost": 5,
    }
    json.dumps(result)  # plain JSON values only


def test_a_failed_task_adds_failure_and_code() -> None:
    result = task_result(SUMMARY, task("FAILED", failure="Moderated", failureCode="SAFETY.X"))
    assert list(result) == [*KEYS, "failure", "failureCode"]
    assert (result["failure"], result["failureCode"]) == ("Moderated", "SAFETY.X")
    assert (result["output"], result["files"]) == ([], [])


def test_a_failed_task_without_a_reason() -> None:
    result = task_result(SUMMARY, task("FAILED"))
    assert (result["failure"], result["failureCode"]) == ("no reason given", None)


@pytest.mark.parametrize("status", ["CANCELLED", "RUNNING", "NEW_THING"])
def test_other_statuses_have_no_failure_fields(status: str) -> None:
    result = task_result(SUMMARY, task(status))
    assert list(result) == KEYS and result["status"] == status


def test_no_task_known() -> None:
    result = task_result(TaskSummary(), None)
    assert result == dict.fromkeys(KEYS) | {"output": [], "files": []}


def test_only_saved_files_are_listed() -> None:
    result = task_result(SUMMARY, succeeded("u"), [saved("a.png"), "not a file", saved("b.png")])
    assert result["files"] == ["a.png", "b.png"]


def test_the_estimate_is_the_cost_until_the_task_ends() -> None:
    result = task_result(SUMMARY, task("RUNNING", estimatedCost={"credits": 7}))
    assert result["cost"] == 7


def test_organization_result() -> None:
    org = Organization.from_api(
        {
            "creditBalance": 100,
            "tier": {"maxMonthlyCreditSpend": 1000, "models": {"m": {"maxDailyGenerations": 5}}},
            "usage": {"models": {"m": {"dailyGenerations": 2}}},
        }
    )
    assert organization_result(org) == {
        "creditBalance": 100,
        "maxMonthlyCreditSpend": 1000,
        "models": {
            "m": {"maxConcurrentGenerations": None, "maxDailyGenerations": 5, "dailyGenerations": 2}
        },
    }
