"""The batch manifest and what a rerun makes of it: records folded per item, torn and foreign
lines skipped, appends on a fresh line, one batch per manifest at a time, the resume rules
(skip saved, reattach ids, never resend unknowns, retry failures only when asked), and the
budget's arithmetic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runway_cli.batch.budget import Budget
from runway_cli.batch.events import ItemStatus
from runway_cli.batch.grid import parse_vary
from runway_cli.batch.items import BatchItem, Defaults, load
from runway_cli.batch.manifest import Manifest, Phase, Record, read_state
from runway_cli.batch.resume import resume
from runway_cli.errors import UsageError

ID1 = "11111111-1111-4111-8111-111111111111"
ID2 = "22222222-2222-4222-8222-222222222222"


def sent(key: str, line: int = 1, model: str = "gen4_image", images: int = 1) -> Record:
    return Record("sent", key, line, model=model, prompt=f"p{line}", images=images)


def test_records_fold_into_one_state_per_item(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    with Manifest(path) as manifest:
        manifest.append(sent("a", images=2))
        manifest.append(Record("created", "a", 1, id=ID1, estimate=10))
        manifest.append(sent("b", 2))
        manifest.append(Record("created", "b", 2, id=ID2, estimate=5))
        manifest.append(
            Record("finished", "b", 2, status="SUCCEEDED", id=ID2, cost=5, files=("x.png",))
        )
    state = read_state(path)
    a, b = state.items["a"], state.items["b"]
    assert (a.phase, a.task_id, a.estimate) == (Phase.CREATED, ID1, 10)
    assert (b.phase, b.files, b.cost) == (Phase.SAVED, ("x.png",), 5)
    assert state.spent == 5
    assert state.per_image == {"gen4_image": 5.0}  # 10 credits for 2 images, then 5 for 1
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["status"] for r in lines] == ["SENT", "CREATED", "SENT", "CREATED", "SUCCEEDED"]
    assert lines[1]["id"] == ID1 and lines[4]["files"] == ["x.png"]


def test_a_send_without_an_answer_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with Manifest(path) as manifest:
        manifest.append(sent("a"))
        manifest.append(sent("b", 2))
        manifest.append(Record("unknown", "b", 2, error="read timeout"))
    items = read_state(path).items
    assert items["a"].unknown and items["a"].phase is Phase.SENT
    assert items["b"].unknown and items["b"].error == "read timeout"


def test_torn_and_foreign_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    good = json.dumps(Record("created", "a", 1, id=ID1).to_json())
    path.write_text(
        f'{good}\nnot json\n{{"event": "sent"}}\n[1]\n{{"event": "sent", "key": "b", "li'
    )
    with Manifest(path) as manifest:
        assert manifest.state.bad_lines == 4
        manifest.append(sent("c", 3))  # after a torn last line: on a fresh line
    text = path.read_text()
    assert text.endswith("\n") and '"li\n{"event": "sent", "key": "c"' in text
    state = read_state(path)
    assert set(state.items) == {"a", "c"} and state.bad_lines == 4


@pytest.mark.parametrize(
    ("damage", "phase", "task_id"),
    [
        ({"sent": {"images": "x"}}, Phase.CREATED, ID1),
        ({"sent": {"line": "one"}, "created": {"estimate": "x"}}, Phase.CREATED, ID1),
        ({"created": {"id": 7}}, Phase.UNKNOWN, None),
        ({"sent": {"model": ["m"]}, "created": {"id": ["x"]}}, Phase.UNKNOWN, None),
    ],
    ids=["sent-images", "line-and-estimate", "created-id", "both"],
)
def test_a_field_of_the_wrong_type_never_makes_an_item_look_unsent(
    tmp_path: Path, damage: dict[str, dict[str, object]], phase: Phase, task_id: str | None
) -> None:
    [it] = items(1)
    path = tmp_path / "m.jsonl"
    lines = [sent(it.key).to_json(), Record("created", it.key, 1, id=ID1, estimate=5).to_json()]
    for obj in lines:
        obj.update(damage.get(obj["event"], {}))
    path.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    state = read_state(path)
    item = state.items[it.key]
    assert (item.phase, item.task_id) == (phase, task_id)
    assert state.bad_lines == len(damage)  # counted, for the warning
    assert resume([it], state).creates == []  # reattached or unknown: never sent again


@pytest.mark.parametrize("where", ["/dev/null", "/dev/zero", "fifo", "folder"])
def test_a_manifest_that_is_not_a_file_is_refused(tmp_path: Path, where: str) -> None:
    path = Path(where)
    if where == "fifo":
        path = tmp_path / "m.jsonl"
        os.mkfifo(path)
    elif where == "folder":
        path = tmp_path
    with pytest.raises(UsageError, match="reruns need it to resume"):
        read_state(path)


def test_a_huge_line_is_skipped_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    good = json.dumps(Record("created", "a", 1, id=ID1).to_json())
    with path.open("wb") as fh:
        fh.write(good.encode() + b"\n")
        fh.truncate(fh.tell() + (64 << 20))  # 64 MiB of NULs, no newline: sparse, instant
    state = read_state(path)
    assert set(state.items) == {"a"} and state.bad_lines == 1


def test_lines_that_name_no_item_are_listed_but_torn_records_are_not(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [
        "\ufeff" + json.dumps(sent("a").to_json()),  # an editor's BOM: still item a's record
        "junk",
        '{"event": "sent", "key": 7}',
        json.dumps(sent("b", 2).to_json()),
        '{"event": "created", "key": "b", "li',  # torn by a crash, then appended after
        '{"event": "created", "key": "b", "line": 2, "id": "x',  # torn inside a string
        '{"event": "finished", "key": "b", "line": 2, "status":',  # torn last line
    ]
    path.write_text("\n".join(lines))
    state = read_state(path)
    assert set(state.items) == {"a", "b"} and state.items["a"].phase is Phase.SENT
    assert state.orphan_lines == [2, 3] and state.bad_lines == 5


def test_one_batch_at_a_time_per_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with Manifest(path), pytest.raises(UsageError, match="Another runway-img batch"):
        Manifest(path).open()
    with Manifest(path):  # free again once the first closed
        pass


# -- resume ----------------------------------------------------------------------------------


def items(n: int) -> tuple[BatchItem, ...]:
    text = "\n".join(f"prompt {i}" for i in range(1, n + 1))
    return load(text.encode(), Defaults(model="gen4_image"), parse_vary(())).items


def test_resume_rules(tmp_path: Path) -> None:
    it = items(7)
    path = tmp_path / "m.jsonl"
    k = [item.key for item in it]
    with Manifest(path) as manifest:
        for item in it[:6]:
            manifest.append(sent(item.key, item.line))
        manifest.append(Record("created", k[0], 1, id=ID1))
        manifest.append(Record("finished", k[0], 1, status="SUCCEEDED", id=ID1, files=("a.png",)))
        manifest.append(Record("created", k[1], 2, id=ID2, estimate=5))  # id, no files
        # k[2]: sent, never answered (kill -9)
        manifest.append(Record("unknown", k[3], 4, error="dropped"))
        manifest.append(Record("created", k[4], 5, id=ID1))
        manifest.append(Record("finished", k[4], 5, status="FAILED", id=ID1, error="bad"))
        manifest.append(Record("refused", k[5], 6, error="daily limit"))
        # k[6]: never seen
    state = read_state(path)

    plain = resume(it, state)
    assert [(j.item.line, j.task_id) for j in plain.jobs] == [(2, ID2), (6, None), (7, None)]
    assert plain.statuses[k[0]] is ItemStatus.DONE
    assert plain.statuses[k[2]] is plain.statuses[k[3]] is ItemStatus.UNKNOWN
    assert plain.statuses[k[4]] is ItemStatus.FAILED
    assert plain.jobs[0].estimate == 5

    both = resume(it, state, retry_failed=True, resend_unknown=True)
    assert [(j.item.line, j.task_id) for j in both.jobs] == [
        (2, ID2),
        (3, None),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
    ]


def test_a_reattached_task_may_overwrite_its_own_files(tmp_path: Path) -> None:
    (item,) = items(1)
    path = tmp_path / "m.jsonl"
    with Manifest(path) as manifest:
        manifest.append(sent(item.key))
        manifest.append(Record("created", item.key, 1, id=ID1))
        manifest.append(
            Record(
                "finished",
                item.key,
                1,
                status="SUCCEEDED",
                id=ID1,
                files=("a-1.png",),
                error="disk full",
            )
        )
    (job,) = resume([item], read_state(path)).jobs
    assert (job.task_id, job.force) == (ID1, True)


# -- the budget ------------------------------------------------------------------------------


def test_the_budget_counts_spent_in_flight_and_the_next_expected_cost() -> None:
    budget = Budget(20, spent=5)
    first = budget.check("gen4_image", 1)
    assert first.allowed and first.expected is None  # a model's first task: unknowable
    budget.created(ID1, "gen4_image", 1, 5)
    assert budget.check("gen4_image", 1).allowed  # 5 + 5 + 5 <= 20
    assert budget.check("gen4_image", 2).allowed  # 5 + 5 + 10 <= 20
    assert not budget.check("gen4_image", 3).allowed  # 5 + 5 + 15 > 20
    budget.created(ID2, "gen4_image", 1, 5)
    assert budget.check("gen4_image", 1).allowed  # exactly the budget: 15 + 5
    verdict = budget.check("gen4_image", 2)
    assert not verdict.allowed and (verdict.committed, verdict.expected) == (15, 10)
    budget.finished(ID1, 0)  # failed: refunded
    assert budget.check("gen4_image", 2).allowed
    assert (budget.spent, budget.in_flight) == (5, 5)


def test_only_one_task_of_unknown_cost_per_model_at_a_time() -> None:
    budget = Budget(100)
    budget.created(ID1, "new_model", 1, None)  # the API gave no estimate
    assert not budget.check("new_model", 1).allowed
    assert budget.check("gen4_image", 1).allowed
    budget.finished(ID1, 7)
    assert budget.check("new_model", 1).expected == 7


def test_the_first_task_needs_room_left_and_no_budget_allows_everything() -> None:
    assert not Budget(10, spent=10).check("gen4_image", 1).allowed
    assert Budget(None, spent=1e9).check("gen4_image", 1).allowed
