"""What a batch shows: the counts line, one line per item that ends, the summary, the dry run;
plain lines (no control characters) when stderr is not a terminal, on an injected clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from runway_cli.batch.events import Counts, ItemResult, ItemStatus, StopReason
from runway_cli.batch.summary import BatchSummary, DryRun, ItemSummary
from runway_cli.render.batch_display import (
    HEARTBEAT_EVERY,
    BatchDisplay,
    counts_text,
    dry_run_lines,
    item_line,
    summary_lines,
)

ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"


def counts(**fields: float) -> Counts:
    base = {
        "total": 10,
        "queued": 3,
        "running": 4,
        "done": 2,
        "failed": 1,
        "unknown": 0,
        "spent": 10.0,
        "in_flight": 20.0,
    }
    base.update(fields)
    return Counts(**base, to_do=10, finished=3)  # type: ignore[arg-type]


def test_the_counts_line() -> None:
    assert counts_text(counts(), throttled=2) == (
        "2 done · 4 running (2 throttled) · 3 queued · 1 failed · 10 credits (+20 in flight)"
    )
    assert counts_text(counts(failed=0, in_flight=0, unknown=1)) == (
        "2 done · 4 running · 3 queued · 1 unknown · 10 credits"
    )


def test_a_line_per_item_that_ends() -> None:
    done = ItemResult(3, "k", "p", "m", ItemStatus.DONE, ID, (Path("out/a.png"),))
    assert item_line(done) == "line 3 done: out/a.png"
    failed = ItemResult(4, "k", "p", "m", ItemStatus.FAILED, ID, error="moderation")
    assert item_line(failed) == f"line 4 failed (task {ID}): moderation"
    unknown = ItemResult(5, "k", "p", "m", ItemStatus.UNKNOWN, error="timed out")
    assert "the create may have reached Runway" in item_line(unknown)


def test_plain_lines_with_a_heartbeat_on_an_injected_clock(
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [100.0]
    with BatchDisplay(clock=lambda: now[0]) as display:
        assert not display.interactive
        display.counts(counts())
        now[0] += HEARTBEAT_EVERY
        display.counts(counts(done=3))
        display.counts(counts(done=4))  # too soon for another
        display.item_finished(ItemResult(1, "k", "p", "m", ItemStatus.DONE, ID, (Path("a"),)))
        display.stopping(StopReason.BUDGET, "The budget is reached.")
    err = capsys.readouterr().err
    assert err.count("done ·") == 1 and "3 done" in err
    assert "line 1 done: a" in err
    assert "No more tasks will be created. The budget is reached." in err
    assert "\r" not in err and "\x1b" not in err


def summary(*statuses: ItemStatus, **fields: object) -> BatchSummary:
    items = tuple(
        ItemSummary(n, f"k{n}", s, f"p{n}", "m", {}, None, (), None, None)
        for n, s in enumerate(statuses, start=1)
    )
    base: dict[str, object] = {
        "output_dir": Path("out"),
        "manifest": Path("out/manifest.jsonl"),
        "contact_sheet": Path("out/index.html"),
        "items": items,
        "images": len(items),
        "created": 1,
        "reattached": 0,
        "skipped": 0,
        "spent": 15.0,
    }
    base.update(fields)
    return BatchSummary(**base)  # type: ignore[arg-type]


def test_the_summary_says_what_is_left_and_what_is_unknown() -> None:
    lines = summary(
        ItemStatus.DONE,
        ItemStatus.UNKNOWN,
        ItemStatus.QUEUED,
        stopped_by=StopReason.DAILY_LIMIT,
        stop_text="Your daily task limit has been reached.",
    )
    text = "\n".join(summary_lines(lines))
    assert "3 items: 1 done, 1 unknown, 1 not started · 15 credits spent" in text
    assert "Stopped early: Your daily task limit has been reached." in text
    assert "1 items left: run the same command again" in text
    assert "Lines 2: the create may have reached Runway" in text


@pytest.mark.parametrize(
    ("statuses", "fields", "code"),
    [
        ((ItemStatus.DONE,), {}, 0),
        ((ItemStatus.DONE, ItemStatus.QUEUED), {"stopped_by": StopReason.BUDGET}, 9),
        ((ItemStatus.FAILED, ItemStatus.QUEUED), {"stopped_by": StopReason.BUDGET}, 4),
        ((ItemStatus.FAILED, ItemStatus.SAVE_FAILED), {}, 8),
        ((ItemStatus.SAVE_FAILED, ItemStatus.UNKNOWN), {}, 7),
        ((ItemStatus.DONE,), {"trouble": 1}, 7),
        ((ItemStatus.UNKNOWN,), {"interrupted": True}, 130),
    ],
)
def test_exit_status_most_important_first(
    statuses: tuple[ItemStatus, ...], fields: dict[str, object], code: int
) -> None:
    result = summary(*statuses, **fields)
    assert int(result.exit_status) == code
    assert ("error" in result.to_json()) == bool(code)


def test_dry_run_lines() -> None:
    dry = DryRun(4, 5, 10.0, ("gpt_image_2",), skipped=2, reattach=1, unknown=0, failed=0)
    text = "\n".join(dry_run_lines(dry))
    assert "Would create 4 tasks (5 images)." in text
    assert "10 credits known, plus the cost of gpt_image_2" in text
    assert "2 already done (skipped)." in text and "1 created before" in text
