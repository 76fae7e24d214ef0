"""Prompt markers that steer a sandbox task, and the failure codes a task can end with.

A marker anywhere in ``promptText`` picks the task's outcome (documented in the README):

- ``[sandbox:fail]``: FAILED with ``INTERNAL.BAD_OUTPUT.CODE01``;
  ``[sandbox:fail:CODE]``: FAILED with that ``failureCode`` (``FAILURES`` lists the documented
  codes and their messages; ``[sandbox:fail:none]`` fails with no code at all, and any other
  code is passed through with a generic message, to test how a client treats codes it does
  not know yet);
- ``[sandbox:cancel]``: CANCELLED when it would start running (still visible, unlike a task
  aborted with ``DELETE``);
- ``[sandbox:throttle]``: spends a while THROTTLED before running;
- ``[sandbox:hang]``: RUNNING forever;
- ``[sandbox:no-output]``: SUCCEEDED with an empty ``output`` list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKERS = {
    "[sandbox:fail]": "fail",
    "[sandbox:cancel]": "cancel",
    "[sandbox:throttle]": "throttle",
    "[sandbox:hang]": "hang",
    "[sandbox:no-output]": "no-output",
}
DEFAULT_FAILURE = "INTERNAL.BAD_OUTPUT.CODE01"
NO_CODE = "none"  # [sandbox:fail:none]: FAILED without a failureCode
_FAIL_WITH_CODE = re.compile(r"\[sandbox:fail:([A-Za-z0-9_.]+)\]")


@dataclass(frozen=True)
class Failure:
    """How a failure code shows on the task: its ``failure`` text, and whether it happens on
    the way in (moderation or preprocessing of the inputs: the task never starts running)."""

    message: str
    before_running: bool = False


# The documented failure codes (https://docs.dev.runwayml.com/errors/task-failures/).
FAILURES: dict[str, Failure] = {
    "INTERNAL.BAD_OUTPUT.CODE01": Failure(
        "The output was rejected by our quality checks. Try a different prompt or input image."
    ),
    "SAFETY.INPUT.TEXT": Failure(
        "The prompt text did not pass content moderation.", before_running=True
    ),
    "SAFETY.INPUT.IMAGE": Failure(
        "An input image did not pass content moderation.", before_running=True
    ),
    "SAFETY.OUTPUT.IMAGE": Failure("The generated image did not pass content moderation."),
    "INPUT_PREPROCESSING.SAFETY.TEXT": Failure(
        "The prompt text was flagged by content moderation while preparing the task.",
        before_running=True,
    ),
    "INPUT_PREPROCESSING.INTERNAL": Failure(
        "An error occurred while preparing the inputs. Please try again later.",
        before_running=True,
    ),
    "ASSET.INVALID": Failure(
        "An input image could not be read. Use a valid PNG, JPEG or WebP image.",
        before_running=True,
    ),
    "THIRD_PARTY.UNAVAILABLE": Failure(
        "The model provider is temporarily unavailable. Please try again later."
    ),
    "INTERNAL": Failure("An internal error occurred. Please try again later."),
    NO_CODE: Failure("An unexpected error occurred."),
}
_UNKNOWN = Failure("The task failed.")


@dataclass(frozen=True)
class Steering:
    """What the markers in a prompt ask for."""

    behaviour: str = "succeed"  # succeed | fail | cancel | throttle | hang | no-output
    failure_code: str | None = None  # for "fail": the code it ends with (NO_CODE: none)


def steering_for(prompt: str) -> Steering:
    match = _FAIL_WITH_CODE.search(prompt)
    if match:
        return Steering("fail", match.group(1))
    for marker, behaviour in MARKERS.items():
        if marker in prompt:
            return Steering(behaviour, DEFAULT_FAILURE if behaviour == "fail" else None)
    return Steering()


def failure(code: str | None) -> Failure:
    """The failure a task with this stored code shows (None: a task from before codes)."""
    return FAILURES.get(code or DEFAULT_FAILURE, _UNKNOWN)


def failure_fields(code: str | None) -> dict[str, str]:
    """``failure`` and, unless the marker asked for none, ``failureCode`` of a FAILED task."""
    code = code or DEFAULT_FAILURE
    fields = {"failure": failure(code).message}
    if code != NO_CODE:
        fields["failureCode"] = code
    return fields
