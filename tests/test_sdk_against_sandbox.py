"""The README's example, as a test: a user's own code on the official ``runwayml`` SDK, tested
offline against the ``runway_sandbox`` fixture (the pytest plugin runway-img installs).

``runwayml`` is in the ``test`` extra only, never a runtime dependency. The SDK's
``wait_for_task_output`` sleeps a fixed ~6 s between polls (``runwayml.lib.polling``), so the
fixture below shortens it, as a user's suite would. Every answer is parsed into the SDK's
models (which is what proves the sandbox speaks the API), and the raw JSON is checked for the
types the SDK assumes (integer credits).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import runwayml.lib.polling
from runwayml import APIStatusError, NotFoundError, RateLimitError, RunwayML, TaskFailedError
from runwayml.types import OrganizationRetrieveResponse
from runwayml.types.task_retrieve_response import Succeeded

from runway_cli.sandbox import Sandbox
from runway_cli.sandbox.images import make_png, png_size

pytestmark = pytest.mark.runway_sandbox(task_seconds=0.2)


@pytest.fixture(autouse=True)
def fast_sdk_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK polls every 6 s +/- 1.5 s; the sandbox's tasks take 0.2 s."""
    monkeypatch.setattr(runwayml.lib.polling, "POLL_TIME", 0.05)
    monkeypatch.setattr(runwayml.lib.polling, "POLL_JITTER", 0)


@pytest.fixture
def client(runway_sandbox: Sandbox) -> Iterator[RunwayML]:
    with RunwayML(api_key=runway_sandbox.key, base_url=runway_sandbox.url) as sdk:
        yield sdk


# -- the README example ----------------------------------------------------------------------------


def test_readme_example_generate_an_image(runway_sandbox: Sandbox) -> None:
    client = RunwayML(api_key=runway_sandbox.key, base_url=runway_sandbox.url)

    task = client.text_to_image.create(
        model="gen4_image", prompt_text="a lighthouse at dusk", ratio="1280:720"
    )
    done = task.wait_for_task_output(timeout=30)

    assert done.status == "SUCCEEDED"
    image = httpx.get(done.output[0]).content
    assert image.startswith(b"\x89PNG")
    assert runway_sandbox.count("POST", "/v1/text_to_image") == 1


# -- every call the SDK makes for images ------------------------------------------------------------


def test_create_wait_retrieve_delete(client: RunwayML, runway_sandbox: Sandbox) -> None:
    task = client.text_to_image.create(
        model="gen4_image", prompt_text="a red fox", ratio="1280:720", seed=7
    )
    done = task.wait_for_task_output(timeout=30)
    assert isinstance(done, Succeeded) and done.id == task.id
    assert done.cost.credits == 5 and len(done.output) == 1
    assert png_size(httpx.get(done.output[0]).content) == (1280, 720)

    again = client.tasks.retrieve(task.id)
    assert isinstance(again, Succeeded) and again.created_at == done.created_at
    assert client.tasks.delete(task.id) is None
    with pytest.raises(NotFoundError):
        client.tasks.retrieve(task.id)
    assert runway_sandbox.requests[0]["json"] == {
        "model": "gen4_image", "promptText": "a red fox", "ratio": "1280:720", "seed": 7
    }  # fmt: skip


def test_a_failed_task_raises_the_sdks_error(client: RunwayML) -> None:
    task = client.text_to_image.create(
        model="gen4_image", prompt_text="a fox [sandbox:fail]", ratio="720:720"
    )
    with pytest.raises(TaskFailedError) as caught:
        task.wait_for_task_output(timeout=30)
    failed = caught.value.task_details
    assert failed.status == "FAILED" and failed.failure_code == "INTERNAL.BAD_OUTPUT.CODE01"


def test_a_running_task_can_be_cancelled(client: RunwayML) -> None:
    task = client.text_to_image.create(
        model="gen4_image", prompt_text="a fox [sandbox:hang]", ratio="720:720"
    )
    client.tasks.delete(task.id)
    with pytest.raises(NotFoundError):
        client.tasks.retrieve(task.id)


def test_organization_is_parsed_and_its_credits_are_json_integers(
    client: RunwayML, runway_sandbox: Sandbox
) -> None:
    client.text_to_image.create(model="gen4_image", prompt_text="a fox", ratio="720:720")
    org = client.organization.retrieve()
    assert isinstance(org, OrganizationRetrieveResponse)
    assert org.credit_balance == 10_000 - 5
    assert org.tier.models["gen4_image"].max_concurrent_generations == 2
    assert org.usage.models["gen4_image"].daily_generations == 1

    raw = client.organization.with_raw_response.retrieve()
    data = raw.json()
    assert isinstance(data, dict)
    assert type(data["creditBalance"]) is int
    assert type(data["tier"]["maxMonthlyCreditSpend"]) is int
    assert raw.parse().credit_balance == data["creditBalance"]


def test_task_credits_are_json_integers_in_the_raw_answers(client: RunwayML) -> None:
    raw = client.text_to_image.with_raw_response.create(
        model="gen4_image", prompt_text="a fox", ratio="720:720"
    )
    created = raw.json()
    assert isinstance(created, dict) and type(created["estimatedCost"]["credits"]) is int
    task = raw.parse()
    task.wait_for_task_output(timeout=30)
    answer = client.tasks.with_raw_response.retrieve(task.id).json()
    assert isinstance(answer, dict) and type(answer["cost"]["credits"]) is int


def test_an_upload_is_usable_as_a_reference(client: RunwayML, runway_sandbox: Sandbox) -> None:
    upload = client.uploads.create_ephemeral(file=("ref.png", make_png("ref", 64, 64)))
    assert upload.uri.startswith("runway://")
    task = client.text_to_image.create(
        model="gen4_image",
        prompt_text="@ref in the snow",
        ratio="720:720",
        reference_images=[{"uri": upload.uri, "tag": "ref"}],
    )
    assert task.wait_for_task_output(timeout=30).status == "SUCCEEDED"
    with pytest.raises(APIStatusError) as caught:  # an upload nobody made is refused
        client.text_to_image.create(
            model="gen4_image", prompt_text="x", ratio="720:720",
            reference_images=[{"uri": upload.uri + "0"}],
        )  # fmt: skip
    assert caught.value.status_code == 400


def test_faults_reach_the_sdk_as_its_own_errors(runway_sandbox: Sandbox) -> None:
    """How a user tests their code's handling of a rate limit: a fault rule, no retries."""
    runway_sandbox.add_fault(action="status", status=429, method="POST", path="/v1/text_to_image")
    client = RunwayML(api_key=runway_sandbox.key, base_url=runway_sandbox.url, max_retries=0)
    with pytest.raises(RateLimitError):
        client.text_to_image.create(model="gen4_image", prompt_text="a fox", ratio="720:720")
    task = client.text_to_image.create(model="gen4_image", prompt_text="a fox", ratio="720:720")
    assert task.wait_for_task_output(timeout=30).status == "SUCCEEDED"
