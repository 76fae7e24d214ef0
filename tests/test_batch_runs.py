"""``runway-img batch`` end to end, in-process against the sandbox over real sockets: images
saved and listed, the contact sheet, the --json summary, validation before any create, the dry
run, concurrency from the account's limits, the budget, the daily cap, the credit balance and
the exit codes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from runway_cli.sandbox import FaultRule, Timeline
from tests.batch_support import (
    MakeSandbox,
    Sheet,
    creates,
    in_flight,
    limited_fixture,  # noqa: F401  (the ``limited`` fixture)
    records,
    write_batch,
)
from tests.conftest import CliRun
from tests.helpers import error_line, tasks_created

HOSTILE = 'a <b>bold</b> "cat" & <script>alert(1)</script>'
SMALL = ("-r", "720:720")  # the sandbox draws real PNGs: small ones are quick


def test_a_batch_saves_every_image_and_writes_a_contact_sheet(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited(concurrency=3)
    batch = write_batch(
        workdir,
        [
            "a red fox in snow",
            "",
            {"prompt": HOSTILE, "ratio": "1080:1080", "seed": 7},
            {"prompt": "will fail [sandbox:fail]"},
            {"prompt": "named", "output": "named/fox.png"},
            "a lighthouse at dusk",
        ],
    )
    result = cli("batch", str(batch), *SMALL, "-o", "out")
    assert result.code == 4, result  # one item failed
    out = workdir / "out"
    saved = [(workdir / line).resolve() for line in result.stdout.splitlines()]
    assert len(saved) == 4 and all(p.is_file() for p in saved)
    assert (out / "named" / "fox.png").resolve() in saved
    assert "line 4 failed" in result.stderr and "INTERNAL.BAD_OUTPUT" in result.stderr
    assert "5 items: 4 done, 1 failed" in result.stderr
    assert len(creates(sandbox)) == 5

    manifest = records(out / "manifest.jsonl")
    assert [r["event"] for r in manifest].count("sent") == 5
    assert {r["line"] for r in manifest} == {1, 3, 4, 5, 6}  # real line numbers

    sheet = Sheet(out / "index.html")
    assert set(saved) <= sheet.targets()  # every saved file appears
    assert all(target.is_file() for target in sheet.targets())  # every link resolves
    assert HOSTILE in sheet.visible and "script" not in sheet.tags and "b" not in sheet.tags
    assert "The output was rejected" in sheet.visible  # the failure's reason
    assert "ratio 1080:1080" in sheet.visible and "seed 7" in sheet.visible


def test_json_summary_counts_everything(cli: CliRun, workdir: Path, limited: MakeSandbox) -> None:
    limited()
    batch = write_batch(workdir, ["one", "two"])
    result = cli("batch", str(batch), *SMALL, "-o", "out", "--vary", "seed=1,2", "--json")
    assert result.code == 0, result
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("tasks", "images", "done", "failed", "created")} == {
        "tasks": 4,
        "images": 4,
        "done": 4,
        "failed": 0,
        "created": 4,
    }
    assert summary["exitCode"] == 0 and summary["stoppedBy"] is None and "error" not in summary
    assert summary["credits"] == 20 and summary["contactSheet"].endswith("index.html")
    item = summary["items"][0]
    assert item["status"] == "done" and item["vary"] == {"seed": "1"}
    assert (workdir / item["files"][0]).is_file() and item["taskId"] and item["cost"] == 5


def test_every_bad_line_is_reported_and_nothing_is_created(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(
        workdir,
        [
            "fine",
            "{broken",
            {"prompt": "x", "ratio": "7:3"},
            {"prompt": "x", "output": "../../etc/x.png"},
            {"prompt": "x", "colour": "red"},
            "also fine",
        ],
    )
    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 2, result
    for line in (2, 3, 4, 5):
        assert f"line {line}" in result.stderr
    assert "4 problems in the batch" in result.stderr
    error = json.loads(result.stdout)
    assert [p["line"] for p in error["problems"]] == [2, 3, 4, 5]
    assert error["error"]["exitCode"] == 2
    assert sandbox.requests == [] and not (workdir / "out").exists()


def test_dry_run_counts_tasks_images_and_known_credits(
    cli: CliRun, workdir: Path, env: dict[str, str], limited: MakeSandbox
) -> None:
    sandbox = limited()
    gpt = {"prompt": "b", "model": "gpt_image_2", "ratio": "2048:880", "count": 3}
    batch = write_batch(workdir, ["a", gpt])
    offline = {k: v for k, v in env.items() if not k.startswith("RUNWAYML_")}
    dry = cli("batch", str(batch), *SMALL, "-o", "out", "--dry-run", "--json", env=offline)
    assert dry.code == 0, dry
    assert json.loads(dry.stdout) == {
        "dryRun": True,
        "tasks": 2,
        "images": 4,
        "estimatedCredits": None,
        "knownCredits": 0,
        "unknownCostModels": ["gen4_image", "gpt_image_2"],
        "skipped": 0,
        "reattach": 0,
        "unknown": 0,
        "failed": 0,
    }
    assert "unknown until its first task answers" in dry.stderr
    assert sandbox.requests == []
    write_batch(workdir, ["a"])
    assert cli("batch", str(batch), *SMALL, "-o", "out").code == 0
    write_batch(workdir, ["a", "c", "d"])  # now the manifest knows what gen4_image costs
    again = cli("batch", str(batch), *SMALL, "-o", "out", "--dry-run")
    assert "Would create 2 tasks (2 images)" in again.stderr
    assert "about 10 credits" in again.stderr and "1 already done" in again.stderr


def test_concurrency_follows_the_accounts_limit_and_throttled_tasks_count(
    cli: CliRun, workdir: Path, limited: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    # Tasks long enough that three are surely alive at once, even on a loaded machine.
    sandbox = limited(Timeline(pending=0.05, running=0.5), concurrency=3)
    batch = write_batch(workdir, [f"prompt {i}" for i in range(6)])
    assert cli("batch", str(batch), *SMALL, "-o", "a").code == 0
    most, throttled = in_flight(sandbox)
    assert (most, throttled) == (3, 0)  # the account's maxConcurrentGenerations, never over

    sandbox = limited(concurrency=2)
    assert cli("batch", str(batch), *SMALL, "-o", "b", "--concurrency", "4").code == 0
    most, throttled = in_flight(sandbox)
    assert most <= 4 and throttled > 0  # THROTTLED tasks held slots: never more than 4
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_concurrency_defaults_to_two_when_the_account_does_not_say(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    fault = FaultRule(
        action="status", status=500, method="GET", path="/v1/organization", times=None
    )
    sandbox = limited(concurrency=None, faults=[fault])
    batch = write_batch(workdir, [f"prompt {i}" for i in range(5)])
    result = cli("batch", str(batch), *SMALL, "-o", "out")
    assert result.code == 0, result
    assert "running 2 tasks per model at a time" in result.stderr
    assert in_flight(sandbox)[0] == 2


def test_the_budget_stops_new_creates_over_the_whole_manifest(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, [f"prompt {i}" for i in range(6)])  # 5 credits each
    first = cli("batch", str(batch), *SMALL, "-o", "out", "--max-credits", "12", "--json")
    assert first.code == 9, first
    summary = json.loads(first.stdout)
    assert (summary["done"], summary["notStarted"], summary["stoppedBy"]) == (2, 4, "budget")
    assert summary["credits"] == 10 and "--max-credits 12" in summary["stopReason"]
    assert summary["error"]["kind"] == "budget" and summary["error"]["exitCode"] == 9
    assert "4 items left: run the same command again" in first.stderr

    again = cli("batch", str(batch), *SMALL, "-o", "out", "--max-credits", "12")
    assert again.code == 9 and tasks_created(sandbox) == 2  # reruns count what was spent

    more = cli("batch", str(batch), *SMALL, "-o", "out", "--max-credits", "30", "--json")
    assert more.code == 0, more
    assert json.loads(more.stdout)["credits"] == 30 and tasks_created(sandbox) == 6


def test_the_daily_limit_stops_new_creates_and_finishes_those_in_flight(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited(daily_limit=3, concurrency=3)
    batch = write_batch(workdir, [f"prompt {i}" for i in range(5)])
    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 9, result
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["notStarted"]) == (3, 2)
    assert summary["stoppedBy"] == "daily_limit" and "daily task limit" in summary["stopReason"]
    assert summary["error"]["kind"] == "daily_limit"
    assert tasks_created(sandbox) == 3
    refused = [r for r in records(workdir / "out" / "manifest.jsonl") if r["event"] == "refused"]
    assert 1 <= len(refused) <= 2  # creates run in parallel: another may have been on its way
    again = cli("batch", str(batch), *SMALL, "-o", "out")
    assert again.code == 9 and tasks_created(sandbox) == 3  # a rerun tries, nothing is made


def test_running_out_of_credits_stops_new_creates(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited(credits=12)
    batch = write_batch(workdir, [f"prompt {i}" for i in range(4)])
    result = cli("batch", str(batch), *SMALL, "-o", "out", "--json")
    assert result.code == 9, result
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["stoppedBy"]) == (2, "credits")
    assert tasks_created(sandbox) == 2


def test_outputs_names_templates_and_stdin(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    limited()
    lines = [
        json.dumps({"prompt": "a", "output": "sub/a.png"}),
        json.dumps({"prompt": "b", "model": "seedream5_pro", "ratio": "1024:1024", "count": 2}),
    ]
    result = cli(
        "batch", "-", *SMALL, "-o", "out", "--name", "{model}/{n}.{ext}", input="\n".join(lines),
    )  # fmt: skip
    assert result.code == 0, result
    out = workdir / "out"
    assert (out / "sub" / "a.png").is_file()
    assert sorted(p.name for p in (out / "seedream5_pro").iterdir()) == ["1.png", "2.png"]
    assert Sheet(out / "index.html").targets() == {
        (out / "sub" / "a.png").resolve(),
        (out / "seedream5_pro" / "1.png").resolve(),
        (out / "seedream5_pro" / "2.png").resolve(),
    }


def test_an_existing_output_file_is_refused_before_anything_is_sent(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    (workdir / "out").mkdir()
    (workdir / "out" / "taken.png").write_bytes(b"mine")
    batch = write_batch(workdir, [{"prompt": "a", "output": "taken.png"}])
    refused = cli("batch", str(batch), *SMALL, "-o", "out")
    assert refused.code == 2 and "already exists (--force overwrites it)" in refused.stderr
    assert sandbox.requests == []
    assert cli("batch", str(batch), *SMALL, "-o", "out", "--force").code == 0
    assert (workdir / "out" / "taken.png").read_bytes() != b"mine"


@pytest.mark.parametrize("where", ["--name", "output"])
def test_a_file_name_too_long_for_the_disk_is_refused_before_anything_is_sent(
    cli: CliRun, workdir: Path, limited: MakeSandbox, where: str
) -> None:
    sandbox = limited()
    long_name = "{id}-" + "c" * 230 + ".{ext}"  # 271 bytes once the id is in
    if where == "--name":
        batch = write_batch(workdir, ["a fox"])
        refused = cli("batch", str(batch), *SMALL, "-o", "out", "--name", long_name)
    else:
        batch = write_batch(workdir, [{"prompt": "a fox", "output": long_name}])
        refused = cli("batch", str(batch), *SMALL, "-o", "out")
    assert refused.code == 2, refused
    assert "line 1: its file name would be 271 bytes, longer than the file system takes" in (
        refused.stderr
    )
    assert sandbox.requests == []


def test_a_manifest_that_keeps_nothing_is_refused_before_anything_is_sent(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["a fox"])
    refused = cli("batch", str(batch), *SMALL, "-o", "out", "--manifest", "/dev/null")
    assert refused.code == 2, refused
    assert "Cannot use the manifest /dev/null: it is not a regular file" in refused.stderr
    assert sandbox.requests == []


def test_a_grid_of_more_than_ten_thousand_tasks_is_refused_at_once(
    cli: CliRun, workdir: Path, limited: MakeSandbox
) -> None:
    sandbox = limited()
    batch = write_batch(workdir, ["a fox", "a cat", "an owl"])
    seeds = ",".join(str(n) for n in range(1000))
    refused = cli(
        "batch", str(batch), "-o", "out", "--vary", f"seed={seeds}", "--vary", "ratio=1:1,2:3,3:2,4:3"
    )  # fmt: skip
    assert refused.code == 2, refused
    assert "would make 12,000 tasks (3 lines x 1000 x 4); one batch makes at most 10,000" in (
        error_line(refused.stderr)
    )
    assert sandbox.requests == [] and not (workdir / "out").exists()


def test_more_than_fifty_tasks_on_a_terminal_ask_first(
    cli: CliRun, workdir: Path, limited: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = limited()
    monkeypatch.setattr("runway_cli.prompt_input.stdin_is_terminal", lambda: True)
    batch = write_batch(workdir, ["a"])
    seeds = "seed=" + ",".join(str(n) for n in range(51))
    declined = cli("batch", str(batch), *SMALL, "-o", "out", "--vary", seeds, input="n\n")
    assert declined.code == 2 and "Create 51 tasks (51 images)" in declined.stderr
    assert sandbox.requests == []
    # --yes does not ask (a zero budget then stops it before any create)
    skipped = cli(
        "batch", str(batch), *SMALL, "-o", "out", "--vary", seeds, "--yes", "--max-credits", "0"
    )
    assert skipped.code == 9 and "Create 51" not in skipped.stderr
    assert tasks_created(sandbox) == 0


@pytest.mark.parametrize("json_out", [False, True])
def test_a_manifest_that_cannot_be_written_stops_creates_and_still_lists_what_was_saved(
    cli: CliRun,
    workdir: Path,
    limited: MakeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    json_out: bool,
) -> None:
    import errno

    from runway_cli.batch import manifest as manifest_module

    sandbox = limited()
    batch = write_batch(workdir, ["one", "two", "three"])
    real_append = manifest_module.append_record
    appended: list[dict] = []
    failed: list[str] = []

    def disk_fills_up(fd: int, record: dict) -> None:
        if failed or (appended and record["key"] != appended[0]["key"]):
            failed.append(record["event"])  # full from the second item's first record on
            raise OSError(errno.ENOSPC, "No space left on device")
        appended.append(record)
        real_append(fd, record)

    monkeypatch.setattr(manifest_module, "append_record", disk_fills_up)
    args = ["batch", str(batch), *SMALL, "-o", "out", "--concurrency", "1"]
    result = cli(*args, *(["--json"] if json_out else []))
    assert result.code == 8, result
    assert [r["event"] for r in appended][:2] == ["sent", "created"] and failed[0] == "sent"
    assert len(creates(sandbox)) == 1  # no create after its sent record failed
    [saved] = (workdir / "out").glob("*.png")
    if json_out:
        summary = json.loads(result.stdout)
        assert summary["done"] == 1 and summary["tasks"] == 3 and summary["outputDir"] == "out"
        assert summary["error"]["exitCode"] == 8 and "manifest" in summary["error"]["message"]
        assert summary["exitCode"] == 8  # the summary agrees with the process
        assert summary["credits"] == 5  # the one task's cost, though its record never landed
        assert [item["files"] for item in summary["items"] if item["files"]] == [
            [str(Path("out") / saved.name)]
        ]
    else:
        assert [Path(line).name for line in result.stdout.splitlines()] == [saved.name]
        assert "error: Cannot write the manifest" in result.stderr
