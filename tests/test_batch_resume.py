"""Reruns: items already saved are skipped (even after the file is edited), tasks with an id
but no files are reattached, a create sent but never recorded is unknown and never resent
unless asked, failures are retried only when asked, and neither a ``kill -9`` nor Ctrl-C
mid-run can make a rerun create any task twice."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from runway_cli.api.client import RunwayClient
from runway_cli.batch import records as make
from runway_cli.batch.grid import parse_vary
from runway_cli.batch.items import Defaults, load
from runway_cli.sandbox import Timeline
from tests.batch_support import (
    MakeSandbox,
    created_ids,
    creates,
    limited_fixture,  # noqa: F401  (the ``limited`` fixture)
    records,
    wait_for,
    write_batch,
)
from tests.conftest import KEY, CliRun, spawn

SMALL = ("-r", "720:720")
DEFAULTS = Defaults(model="gen4_image", ratio="720:720")


def prompts_created(sandbox: object) -> list[str]:
    return [body["promptText"] for body in creates(sandbox)]  # type: ignore[arg-type]


def test_a_rerun_skips_saved_items_even_after_the_file_is_edited(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["a fox", "a cat"])
    assert cli("batch", str(batch), *SMALL, "-o", "out").code == 0
    write_batch(workdir, ["a new one", "", "a cat", "a fox"])  # inserted, moved, reordered
    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 0, result
    summary = json.loads(result.stdout)
    assert (summary["created"], summary["skipped"], summary["done"]) == (1, 2, 3)
    assert sorted(prompts_created(sandbox)) == ["a cat", "a fox", "a new one"]
    assert len(result.stdout and summary["items"]) == 3


def test_failed_items_are_retried_only_when_asked(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["fine", "bad [sandbox:fail]"])
    assert cli("batch", str(batch), *SMALL, "-o", "out").code == 4
    again = cli("batch", str(batch), *SMALL, "-o", "out")
    assert again.code == 4 and len(creates(sandbox)) == 2  # still failed, not resent
    retried = cli("batch", str(batch), *SMALL, "-o", "out", "--retry-failed")
    assert retried.code == 4 and prompts_created(sandbox).count("bad [sandbox:fail]") == 2


def test_a_create_sent_but_never_recorded_is_unknown_and_not_resent(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["one", "two"])
    two = load(batch.read_bytes(), DEFAULTS, parse_vary(())).items[1]
    (workdir / "out").mkdir()
    manifest = workdir / "out" / "manifest.jsonl"
    manifest.write_text(json.dumps(make.sent(two).to_json()) + "\n")  # then: kill -9

    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 7, result
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["unknown"]) == (1, 1)
    assert prompts_created(sandbox) == ["one"]
    assert "Lines 2: the create may have reached Runway" in result.stderr
    assert "--resend-unknown" in result.stderr

    # the unknown one may have been billed: the budget counts it (5 + 5 spent, 5 more > 12)
    tight = cli("batch", str(batch), *SMALL, "-o", "out", "--resend-unknown", "--max-credits", "12")
    assert tight.code == 9 and prompts_created(sandbox) == ["one"]

    resent = cli("batch", str(batch), *SMALL, "-o", "out", "--resend-unknown")
    assert resent.code == 0, resent
    assert sorted(prompts_created(sandbox)) == ["one", "two"]


def test_a_task_with_an_id_but_no_files_is_reattached_not_created_again(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["one", "two"])
    two = load(batch.read_bytes(), DEFAULTS, parse_vary(())).items[1]
    with RunwayClient(sandbox.base_url, KEY) as client:
        task = client.create_text_to_image(two.prepare().body)
    (workdir / "out").mkdir()
    sent = make.sent(two).to_json()
    created = {**sent, "event": "created", "status": "CREATED", "id": task.id}
    (workdir / "out" / "manifest.jsonl").write_text(f"{json.dumps(sent)}\n{json.dumps(created)}\n")
    (workdir / "out" / f"{task.id}.png").write_bytes(b"landed before a kill -9")

    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 0, result
    summary = json.loads(result.stdout)
    assert (summary["created"], summary["reattached"], summary["done"]) == (1, 1, 2)
    assert prompts_created(sandbox) == ["two", "one"]  # "two" only by the test itself
    saved = (workdir / "out" / f"{task.id}.png").read_bytes()
    assert saved == sandbox.image_bytes(task.id, 0)  # its own destination, replaced


def test_a_kill_9_mid_run_then_a_rerun_creates_no_task_twice(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited(concurrency=None, timeline=Timeline(pending=0.05, running=0.3))
    batch = write_batch(workdir, [f"prompt {i}" for i in range(8)])
    manifest = workdir / "out" / "manifest.jsonl"
    args = ["batch", str(batch), *SMALL, "-o", "out", "--concurrency", "2"]
    proc = spawn(args, dict(os.environ), workdir)
    try:
        wait_for(lambda: manifest.exists() and len(created_ids(manifest)) >= 3, message="3 ids")
    finally:
        proc.kill()
        proc.communicate()
    assert 3 <= len(creates(sandbox)) < 8

    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json", "--concurrency", "8")
    summary = json.loads(result.stdout)
    assert summary["done"] + summary["unknown"] == 8, result
    assert result.code == (7 if summary["unknown"] else 0)
    made = prompts_created(sandbox)
    assert len(made) == len(set(made)), "a task was created twice"
    assert set(made) | _unknown(summary) == {f"prompt {i}" for i in range(8)}


def _unknown(summary: dict[str, object]) -> set[str]:
    items = summary["items"]
    assert isinstance(items, list)
    return {item["prompt"] for item in items if item["status"] == "unknown"}


def test_ctrl_c_stops_creating_and_waiting_and_a_rerun_finishes(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    clock = Clock()
    sandbox = limited(
        concurrency=4,
        timeline=Timeline(pending=0.05, running=30),  # still running when Ctrl-C comes
        clock=clock.now,
    )
    batch = write_batch(workdir, [f"prompt {i}" for i in range(6)])
    manifest = workdir / "out" / "manifest.jsonl"
    args = ["batch", str(batch), *SMALL, "-o", "out", "--concurrency", "4"]
    proc = spawn(args, dict(os.environ), workdir)
    try:
        wait_for(lambda: manifest.exists() and len(created_ids(manifest)) == 4, message="4 ids")
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert time.monotonic() - signalled < 5  # waits stop at once (a poll interval away)
    assert "Interrupted" in stderr and "Traceback" not in stderr

    events = records(manifest)
    sent = [r["key"] for r in events if r["event"] == "sent"]
    answered = [r["key"] for r in events if r["event"] in ("created", "refused", "unknown")]
    assert sorted(sent) == sorted(answered)  # every create sent has its answer recorded
    assert not any(r["event"] == "finished" for r in events)
    assert len(creates(sandbox)) == 4  # no more creates after Ctrl-C

    clock.jump(60, speed=200)  # the four tasks are done by now; new ones take 0.15 s
    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 0, result
    summary = json.loads(result.stdout)
    assert (summary["reattached"], summary["created"], summary["done"]) == (4, 2, 6)
    made = prompts_created(sandbox)
    assert len(made) == len(set(made)) == 6  # the last two created once, the rest not again


class Clock:
    """The sandbox's time: real time until ``jump``, then ahead and faster."""

    def __init__(self) -> None:
        self._base_real = self._base = time.time()
        self._speed = 1.0

    def now(self) -> float:
        return self._base + (time.time() - self._base_real) * self._speed

    def jump(self, seconds: float, *, speed: float) -> None:
        self._base, self._base_real = self.now() + seconds, time.time()
        self._speed = speed


def test_a_bug_in_an_items_thread_stops_the_run_loudly_and_a_rerun_reattaches(
    cli: CliRun, workdir: Path, limited: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["a fox"])

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug after the task was created")

    with monkeypatch.context() as patched:
        patched.setattr(make, "succeeded", broken)
        with pytest.raises(RuntimeError, match="a bug after the task was created"):
            cli("batch", str(batch), *SMALL, "-o", "out")  # never a quiet exit 0
    [task_id] = created_ids(workdir / "out" / "manifest.jsonl")
    again = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert again.code == 0, again
    assert json.loads(again.stdout)["reattached"] == 1
    assert len(creates(sandbox)) == 1 and task_id in again.stdout


def test_a_manifest_line_that_names_no_item_stops_new_creates_until_resolved(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["a fox", "a cat"])
    manifest = workdir / "out" / "manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_text('{"event": "sent", "key": 7, "line": 1}\n')  # whose? nobody can say
    refused = cli("batch", str(batch), *SMALL, "-o", "out")
    assert refused.code == 2, refused
    assert "has lines that name no item (1)" in refused.stderr and "--resend-unknown" in (
        refused.stderr
    )
    assert sandbox.requests == []
    again = cli("batch", str(batch), *SMALL, "-o", "out", "--resend-unknown")
    assert again.code == 0, again
    assert len(creates(sandbox)) == 2
