"""Unit tests for the sandbox's pure parts: PNG maker, task timeline and body validation."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from runway_cli.sandbox.images import make_png, png_size, row_colour, sniff_image
from runway_cli.sandbox.lifecycle import Timeline, status_of
from runway_cli.sandbox.markers import MARKERS, steering_for
from runway_cli.sandbox.request_checks import validate_body
from runway_cli.sandbox.store import TaskRow, TaskStore

# --- images -------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, data) chunks, checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    return chunks


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (3, 7), (64, 48), (320, 200)])
def test_make_png_is_valid_and_exact_size(width: int, height: int) -> None:
    data = make_png("seed", width, height)
    assert png_size(data) == (width, height)
    chunks = png_chunks(data)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert b"IDAT" in kinds
    w, h, depth, colour_type, compression, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (w, h) == (width, height)
    assert (depth, colour_type, compression, filt, interlace) == (8, 2, 0, 0, 0)

    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + 3 * width  # filter byte + RGB
    assert len(raw) == height * stride
    rows = [raw[i : i + stride] for i in range(0, len(raw), stride)]
    assert len(rows) == height
    for y, row in enumerate(rows):
        assert row[0] == 0  # filter type None
        colour = row_colour("seed", y, height)
        pixels = row[1:]
        # the row's colour plus a film grain of 0..7 per channel
        for x in range(0, len(pixels), 3):
            for c in range(3):
                assert 0 <= pixels[x + c] - colour[c] <= 7


def test_make_png_is_deterministic_per_seed() -> None:
    assert make_png("a cat", 32, 16) == make_png("a cat", 32, 16)
    assert make_png("a cat", 32, 16) != make_png("a dog", 32, 16)


@pytest.mark.parametrize(("width", "height"), [(0, 1), (1, 0), (-5, 5)])
def test_make_png_rejects_empty(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_png("x", width, height)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (make_png("x", 2, 2)[:16], "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x89PNG", None),  # a truncated signature
        (b"GIF89a", None),
        (b"", None),
    ],
)
def test_sniff_image(head: bytes, kind: str | None) -> None:
    assert sniff_image(head) == kind


def test_png_size_rejects_non_png() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"\xff\xd8\xff\xe0 not a png")


# --- store timeline -----------------------------------------------------------------------

TIMELINE = Timeline(pending=1.0, running=4.0)


class FakeClock:
    def __init__(self, now: float = 5000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Iterator[TaskStore]:
    task_store = TaskStore(None, clock=clock)
    yield task_store
    task_store.close()


def new_task(store: TaskStore, prompt: str) -> TaskRow:
    return store.create(
        model="gen4_image",
        body={"model": "gen4_image", "promptText": prompt, "ratio": "1280:720"},
        width=1280,
        height=720,
        outputs=1,
        fmt="png",
        credits=5,
    )


def status_at(row: TaskRow, seconds: float) -> tuple[str, float]:
    return status_of(row, row.created + seconds, TIMELINE)


def test_store_round_trips_a_task(store: TaskStore, clock: FakeClock) -> None:
    row = new_task(store, "a red fox")
    assert row.created == clock.now
    assert row.behaviour == "succeed"
    assert store.get(row.id) == row
    assert store.get("missing") is None


def test_timeline_pending_running_succeeded(store: TaskStore) -> None:
    row = new_task(store, "a red fox")
    assert status_at(row, 0.0) == ("PENDING", 0.0)
    assert status_at(row, 0.99) == ("PENDING", 0.0)
    assert status_at(row, 1.0) == ("RUNNING", 0.0)
    assert status_at(row, 2.0) == ("RUNNING", 0.25)
    assert status_at(row, 3.0) == ("RUNNING", 0.5)
    assert status_at(row, 4.99) == ("RUNNING", 0.99)
    assert status_at(row, 5.0) == ("SUCCEEDED", 1.0)
    assert status_at(row, 10_000.0) == ("SUCCEEDED", 1.0)


def test_progress_never_decreases_and_stays_below_one_while_running(store: TaskStore) -> None:
    row = new_task(store, "a red fox")
    samples = [status_at(row, t / 10) for t in range(0, 60)]
    running = [p for s, p in samples if s == "RUNNING"]
    assert running
    assert running == sorted(running)
    assert all(0.0 <= p < 1.0 for p in running)


@pytest.mark.parametrize(
    ("marker", "behaviour"), [(m, b) for m, b in MARKERS.items()] + [("", "succeed")]
)
def test_steering_for_markers(marker: str, behaviour: str) -> None:
    assert steering_for(f"a red fox {marker} at dusk").behaviour == behaviour


def test_fail_marker(store: TaskStore) -> None:
    row = new_task(store, "a red fox [sandbox:fail]")
    assert status_at(row, 0.5)[0] == "PENDING"
    assert status_at(row, 3.0)[0] == "RUNNING"
    assert status_at(row, 5.0) == ("FAILED", 1.0)
    assert status_at(row, 500.0) == ("FAILED", 1.0)


def test_cancel_marker(store: TaskStore) -> None:
    row = new_task(store, "[sandbox:cancel] a red fox")
    assert status_at(row, 0.5)[0] == "PENDING"
    assert status_at(row, 1.0) == ("CANCELLED", 0.0)
    assert status_at(row, 500.0) == ("CANCELLED", 0.0)


def test_throttle_marker(store: TaskStore) -> None:
    row = new_task(store, "a red fox [sandbox:throttle]")
    assert status_at(row, 0.4)[0] == "PENDING"
    assert status_at(row, 0.5)[0] == "THROTTLED"
    assert status_at(row, 1.9)[0] == "THROTTLED"
    # Throttled tasks queue twice as long, then run normally.
    assert status_at(row, 2.0) == ("RUNNING", 0.0)
    assert status_at(row, 6.0) == ("SUCCEEDED", 1.0)


def test_hang_marker_stays_running(store: TaskStore) -> None:
    row = new_task(store, "a red fox [sandbox:hang]")
    assert status_at(row, 3.0) == ("RUNNING", 0.5)
    assert status_at(row, 5.0)[0] == "RUNNING"
    assert status_at(row, 1e9) == ("RUNNING", 0.99)


def test_cancel_while_running(store: TaskStore, clock: FakeClock) -> None:
    row = new_task(store, "a red fox")
    clock.now += 2.0
    assert store.mark_deleted(row.id)
    cancelled = store.get(row.id)
    assert cancelled is not None
    assert cancelled.deleted_at == row.created + 2.0
    assert status_of(cancelled, clock.now, TIMELINE) == ("CANCELLED", 0.0)
    assert status_of(cancelled, clock.now + 100, TIMELINE) == ("CANCELLED", 0.0)


def test_cancel_after_success_changes_nothing(store: TaskStore, clock: FakeClock) -> None:
    row = new_task(store, "a red fox")
    clock.now += 10.0
    store.mark_deleted(row.id)
    cancelled = store.get(row.id)
    assert cancelled is not None
    assert status_of(cancelled, clock.now, TIMELINE) == ("SUCCEEDED", 1.0)


def test_cancel_a_hanging_task(store: TaskStore, clock: FakeClock) -> None:
    row = new_task(store, "[sandbox:hang]")
    clock.now += 1000.0
    store.mark_deleted(row.id)
    cancelled = store.get(row.id)
    assert cancelled is not None
    assert status_of(cancelled, clock.now, TIMELINE) == ("CANCELLED", 0.0)


def test_delete_once_and_counts(store: TaskStore, clock: FakeClock) -> None:
    first = new_task(store, "one")
    new_task(store, "two")
    assert store.mark_deleted(first.id)
    assert not store.mark_deleted(first.id)  # already gone
    assert not store.mark_deleted("no-such-task")
    deleted = store.get(first.id)
    assert deleted is not None
    assert deleted.deleted_at == clock.now
    assert store.daily_counts() == {"gen4_image": 2}  # deleted tasks were still generations
    clock.now += 86401
    assert store.daily_counts() == {}


# --- validate_body ------------------------------------------------------------------------


def valid_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gen4_image", "promptText": "a red fox", "ratio": "1280:720"}
    body.update(changes)
    return body


def assert_live_shape(issues: list[dict[str, Any]]) -> None:
    assert issues
    for issue in issues:
        assert set(issue) == {"code", "path", "message"}
        assert isinstance(issue["code"], str)
        assert isinstance(issue["path"], list)
        assert isinstance(issue["message"], str)
        assert issue["message"]
    json.dumps(issues)  # serialisable as a response body


def test_validate_accepts_valid_gen4_image_body() -> None:
    model, issues = validate_body(valid_body())
    assert model is not None
    assert model.id == "gen4_image"
    assert issues == []


def test_validate_accepts_optional_fields() -> None:
    body = valid_body(
        seed=42,
        contentModeration={"publicFigureThreshold": "low"},
        referenceImages=[{"uri": "https://example.com/a.png", "tag": "fox"}],
    )
    assert validate_body(body)[1] == []


def test_validate_prompt_too_long() -> None:
    _, issues = validate_body(valid_body(promptText="a" * 1001))
    assert_live_shape(issues)
    assert issues == [
        {
            "code": "too_big",
            "path": ["promptText"],
            "message": "String must contain at most 1000 character(s)",
        }
    ]


def test_validate_prompt_counts_utf16() -> None:
    assert validate_body(valid_body(promptText="\U0001f600" * 500))[1] == []
    _, issues = validate_body(valid_body(promptText="\U0001f600" * 500 + "a"))
    assert [i["code"] for i in issues] == ["too_big"]


def test_validate_prompt_missing_or_empty() -> None:
    body = valid_body()
    del body["promptText"]
    _, issues = validate_body(body)
    assert_live_shape(issues)
    assert issues[0]["path"] == ["promptText"]
    _, issues = validate_body(valid_body(promptText=""))
    assert issues[0]["code"] == "too_small"


def test_validate_bad_ratio() -> None:
    _, issues = validate_body(valid_body(ratio="999:999"))
    assert_live_shape(issues)
    assert len(issues) == 1
    assert issues[0]["code"] == "invalid_enum_value"
    assert issues[0]["path"] == ["ratio"]
    assert "'1280:720'" in issues[0]["message"]
    assert "received '999:999'" in issues[0]["message"]


def test_validate_freeform_ratio_for_seedream5_lite() -> None:
    body = valid_body(model="seedream5_lite", ratio="2000:2000")
    assert validate_body(body)[1] == []
    _, issues = validate_body(valid_body(model="seedream5_lite", ratio="100:100"))
    assert [i["path"] for i in issues] == [["ratio"]]


def test_validate_freeform_ratio_with_superscript_digits() -> None:
    _, issues = validate_body(valid_body(model="seedream5_lite", ratio="\u00b2:1"))
    assert [i["path"] for i in issues] == [["ratio"]]


@pytest.mark.parametrize("model", ["gen5_image", "", 42, None])
def test_validate_unknown_model(model: object) -> None:
    found, issues = validate_body(valid_body(model=model))
    assert found is None
    assert_live_shape(issues)
    assert issues[0]["code"] == "invalid_union_discriminator"
    assert issues[0]["path"] == ["model"]
    assert "'gen4_image'" in issues[0]["message"]


def test_validate_unknown_key() -> None:
    _, issues = validate_body(valid_body(colour="red", aspect="wide"))
    assert_live_shape(issues)
    assert issues == [
        {
            "code": "unrecognized_keys",
            "path": [],
            "message": "Unrecognized key(s) in object: 'aspect', 'colour'",
        }
    ]


def test_validate_nested_param() -> None:
    _, issues = validate_body(valid_body(contentModeration={"publicFigureThreshold": "high"}))
    assert_live_shape(issues)
    assert issues[0]["path"] == ["contentModeration", "publicFigureThreshold"]


def test_validate_several_problems_reported_together() -> None:
    _, issues = validate_body(valid_body(promptText="a" * 2000, ratio="1:1", extra=True))
    assert_live_shape(issues)
    assert {i["code"] for i in issues} == {"too_big", "invalid_enum_value", "unrecognized_keys"}


def test_validate_non_object_body() -> None:
    model, issues = validate_body(["gen4_image"])
    assert model is None
    assert_live_shape(issues)
    assert issues[0]["code"] == "invalid_type"


def test_make_png_never_overflows_a_channel() -> None:
    # the band colour is the inverse of the top colour: a dark top once made it 255 + grain
    for i in range(300):
        assert png_size(make_png(f"seed-{i}", 8, 40)) == (8, 40)
