"""Saving one output: streamed to a temporary file, verified, moved into place; cut connections
resume with Range, and a resumed 206 that starts anywhere but where it was asked restarts the
download from zero (Content-Range). Against a purpose-built file host on a real local socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runway_cli.api.client import RunwayClient
from runway_cli.errors import SaveError
from runway_cli.saving import ContentRange, SavedFile, parse_content_range, save_output
from tests.fakes import (
    FakeClient,
    FakeDownload,
    FakeTime,
    FileHost,
    Reply,
    jpeg_bytes,
    png_bytes,
    ranged,
)

# Larger than one 64 KiB read, so a cut connection leaves whole chunks on disk to resume from.
WHOLE = png_bytes(payload=200_000)
CUT = 150_000


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> Iterator[RunwayClient]:
    # Only the file session is used: the API base URL is never contacted.
    with RunwayClient(
        "http://127.0.0.1:9", "key_test", sleep=fake_time.sleep, clock=fake_time.clock
    ) as c:
        yield c


@pytest.fixture
def host() -> Iterator[FileHost]:
    with FileHost() as h:
        yield h


def save(client: RunwayClient, url: str, dest: Path, **kwargs) -> SavedFile:
    return save_output(client, url, lambda kind: dest, force=kwargs.pop("force", False), **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def resumed_at(host: FileHost) -> int:
    """The offset of the second request's ``Range: bytes=N-`` (after the cut)."""
    wanted = host.ranges[1]
    assert wanted is not None and wanted.startswith("bytes=") and wanted.endswith("-"), wanted
    offset = int(wanted[6:-1])
    assert 0 < offset <= CUT
    return offset


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# --- parse_content_range --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 100-199/200", ContentRange(100, 199, 200)),
        ("bytes 0-0/1", ContentRange(0, 0, 1)),
        ("bytes 5-9/*", ContentRange(5, 9, None)),
        ("  bytes 1-2/3  ", ContentRange(1, 2, 3)),
    ],
)
def test_parse_content_range_valid(value: str, expected: ContentRange) -> None:
    assert parse_content_range(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "bytes */200",  # the unsatisfied-range form names no span
        "bytes 10-5/20",  # last before first
        "bytes 0-200/200",  # last byte beyond the total
        "items 0-1/2",
        "bytes 0-1",
        "bytes=0-1/2",
        "bytes \u0661-\u0662/\u0663",  # non-ASCII digits
    ],
)
def test_parse_content_range_malformed_is_none(value: str | None) -> None:
    assert parse_content_range(value) is None


@given(st.integers(0, 10**12), st.integers(0, 10**6), st.integers(1, 10**6))
def test_parse_content_range_round_trips(first: int, span: int, extra: int) -> None:
    last = first + span
    total = last + extra
    assert parse_content_range(f"bytes {first}-{last}/{total}") == ContentRange(first, last, total)


# --- a whole download -----------------------------------------------------------------------


def test_saves_the_file_and_leaves_no_temporary_file(client, host, out) -> None:
    host.script = [Reply(200, WHOLE, {"Content-Type": "image/png"})]
    dest = out / "out.png"
    progress: list[int] = []
    item = save(client, host.url(), dest, on_progress=progress.append)
    assert item == SavedFile(path=dest, url=host.url(), bytes=len(WHOLE), kind="png")
    assert dest.read_bytes() == WHOLE
    assert progress[-1] == len(WHOLE)
    assert leftovers(out) == []
    assert host.ranges == [None]


def test_destination_is_named_by_the_bytes_not_the_url(client, host, out) -> None:
    host.script = [Reply(200, jpeg_bytes())]
    kinds: list[str] = []

    def choose(kind: str) -> Path:
        kinds.append(kind)
        return out / f"out.{kind}"

    item = save_output(client, host.url("out.png"), choose, force=False)
    assert kinds == ["png", "jpg"]  # provisional, then from the bytes
    assert item.path == out / "out.jpg" and item.kind == "jpg"
    assert not (out / "out.png").exists()


# --- resuming a cut connection ----------------------------------------------------------------


def test_cut_connection_resumes_from_where_it_broke(client, host, out) -> None:
    host.script = [Reply(200, WHOLE, cut_after=CUT), ranged(WHOLE)]
    dest = out / "out.png"
    save(client, host.url(), dest)
    assert dest.read_bytes() == WHOLE
    assert host.ranges[0] is None and len(host.ranges) == 2
    resumed_at(host)


@pytest.mark.parametrize(
    ("resumed", "why"),
    [
        (ranged(WHOLE, wrong_offset=0), "206 from byte 0 instead of the offset asked for"),
        (ranged(WHOLE, wrong_offset=10), "206 from an earlier offset"),
        (Reply(206, WHOLE[CUT:]), "206 without Content-Range"),
        (
            Reply(206, WHOLE[CUT:], {"Content-Range": "bytes nonsense"}),
            "206 with an unreadable Content-Range",
        ),
    ],
)
def test_resumed_206_from_the_wrong_offset_restarts_from_zero(
    client, host, out, resumed, why
) -> None:
    """Appending bytes from elsewhere would corrupt the image: start again from byte 0."""
    host.script = [Reply(200, WHOLE, cut_after=CUT), resumed, Reply(200, WHOLE)]
    dest = out / "out.png"
    item = save(client, host.url(), dest)
    assert dest.read_bytes() == WHOLE, why
    assert item.bytes == len(WHOLE)
    assert len(host.ranges) == 3 and host.ranges[2] is None, why
    resumed_at(host)
    assert leftovers(out) == []


def test_server_ignoring_range_starts_over_with_the_whole_file(client, host, out) -> None:
    host.script = [Reply(200, WHOLE, cut_after=CUT), Reply(200, WHOLE)]
    dest = out / "out.png"
    save(client, host.url(), dest)
    assert dest.read_bytes() == WHOLE
    assert host.ranges[0] is None and len(host.ranges) == 2
    resumed_at(host)


def test_unknown_total_in_content_range_uses_the_length(client, host, out) -> None:
    def tail(wanted: str | None) -> Reply:
        first = int((wanted or "bytes=0-")[6:-1])
        return Reply(206, WHOLE[first:], {"Content-Range": f"bytes {first}-{len(WHOLE) - 1}/*"})

    host.script = [Reply(200, WHOLE, cut_after=CUT), tail]
    dest = out / "out.png"
    save(client, host.url(), dest)
    assert dest.read_bytes() == WHOLE


def test_cut_every_time_gives_up_with_a_save_error(client, host, out) -> None:
    host.script = [Reply(200, WHOLE, cut_after=10)]
    dest = out / "out.png"
    with pytest.raises(SaveError, match=r"Could not download out\.png"):
        save(client, host.url(), dest)
    assert not dest.exists() and leftovers(out) == []
    assert len(host.ranges) == 4  # bounded attempts


# --- what comes back is not a whole image --------------------------------------------------


def test_not_an_image_is_refused_and_nothing_is_written(client, host, out) -> None:
    host.script = [Reply(200, b"<html>Access denied</html>")]
    dest = out / "out.png"
    with pytest.raises(SaveError, match="not a PNG, JPEG, WebP or SVG"):
        save(client, host.url(), dest)
    assert list(out.iterdir()) == []


def test_truncated_image_is_retried_then_refused(client, host, out) -> None:
    host.script = [Reply(200, WHOLE[:-12])]  # the length matches; the IEND chunk is missing
    with pytest.raises(SaveError, match="PNG image ended early"):
        save(client, host.url(), out / "out.png")
    assert leftovers(out) == []


def test_empty_answer_is_refused(client, host, out) -> None:
    host.script = [Reply(200, b"")]
    with pytest.raises(SaveError, match="sent no bytes"):
        save(client, host.url(), out / "out.png")


# --- HTTP errors from the file host ---------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 410])
def test_refused_url_is_refreshed(client, host, out, status) -> None:
    host.script = [Reply(status, b"expired"), Reply(200, WHOLE)]
    fresh = host.url("fresh.png")
    item = save(client, host.url("old.png"), out / "out.png", refresh_url=lambda: fresh)
    assert item.url == fresh
    assert (out / "out.png").read_bytes() == WHOLE


def test_refused_url_without_refresh_fails_at_once(client, host, out) -> None:
    host.script = [Reply(404, b"gone")]
    with pytest.raises(SaveError, match="answered HTTP 404"):
        save(client, host.url(), out / "out.png")
    assert len(host.ranges) == 1


def test_server_errors_are_retried_without_real_sleeping(client, host, out, fake_time) -> None:
    host.script = [Reply(503, b"busy")]
    with pytest.raises(SaveError, match="answered HTTP 503"):
        save(client, host.url(), out / "out.png")
    assert len(host.ranges) > 4 and fake_time.sleeps  # the client's retries, simulated


# --- the destination ------------------------------------------------------------------------


def test_a_file_that_appears_meanwhile_is_never_clobbered(client, host, out) -> None:
    host.script = [Reply(200, WHOLE)]
    dest = out / "out.png"
    calls = 0

    def choose(kind: str) -> Path:
        nonlocal calls
        calls += 1
        if calls == 2:  # the image is in; someone else writes the name first
            dest.write_bytes(b"theirs")
        return dest

    with pytest.raises(SaveError, match="appeared while downloading") as info:
        save_output(client, host.url(), choose, force=False)
    assert info.value.existing == dest
    assert dest.read_bytes() == b"theirs"
    assert leftovers(out) == []


def test_force_replaces_an_existing_file(client, host, out) -> None:
    host.script = [Reply(200, WHOLE)]
    dest = out / "out.png"
    dest.write_bytes(b"old")
    save(client, host.url(), dest, force=True)
    assert dest.read_bytes() == WHOLE


def test_make_folders_creates_missing_folders(client, host, out) -> None:
    host.script = [Reply(200, WHOLE)]
    dest = out / "a" / "b" / "out.png"
    save(client, host.url(), dest, make_folders=True)
    assert dest.read_bytes() == WHOLE


def test_folder_that_cannot_be_made_is_a_save_error(client, host, out) -> None:
    (out / "file").write_text("not a folder")
    with pytest.raises(SaveError, match="Could not create"):
        save(client, host.url(), out / "file" / "sub" / "out.png", make_folders=True)


def test_missing_folder_without_make_folders_is_a_save_error(client, host, out) -> None:
    host.script = [Reply(200, WHOLE)]
    with pytest.raises(SaveError, match="Could not write next to"):
        save(client, host.url(), out / "missing" / "out.png")


# --- without a socket: a scripted client ------------------------------------------------------


def test_a_short_body_without_an_error_is_resumed(out: Path) -> None:
    """A host that sends fewer bytes than it promised, then closes cleanly."""
    cut = 5000
    client = FakeClient(
        files={
            "https://f.example/1.png": [
                FakeDownload(WHOLE[:cut], length=len(WHOLE)),
                FakeDownload(
                    WHOLE[cut:],
                    status=206,
                    length=len(WHOLE) - cut,
                    content_range=f"bytes {cut}-{len(WHOLE) - 1}/{len(WHOLE)}",
                ),
            ]
        }
    )
    dest = out / "out.png"
    item = save_output(client, "https://f.example/1.png", lambda kind: dest, force=False)  # type: ignore[arg-type]
    assert dest.read_bytes() == WHOLE and item.bytes == len(WHOLE)
    assert [c[2] for c in client.calls] == [0, cut]  # resumed where the short body ended
    assert leftovers(out) == []


def test_filesystems_without_hard_links_fall_back_to_a_checked_rename(
    client, host, out, monkeypatch
) -> None:
    import errno

    def no_links(src, dst) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr("runway_cli.saving.os.link", no_links)
    host.script = [Reply(200, WHOLE)]
    save(client, host.url(), out / "a.png")
    assert (out / "a.png").read_bytes() == WHOLE

    calls = 0

    def choose(kind: str) -> Path:
        nonlocal calls
        calls += 1
        if calls == 2:
            (out / "b.png").write_bytes(b"theirs")
        return out / "b.png"

    with pytest.raises(SaveError, match="appeared while downloading"):
        save_output(client, host.url(), choose, force=False)
    assert (out / "b.png").read_bytes() == b"theirs"
    assert leftovers(out) == []


def test_a_destination_that_cannot_be_replaced_is_a_save_error(client, host, out) -> None:
    host.script = [Reply(200, WHOLE)]
    (out / "taken.png").mkdir()
    with pytest.raises(SaveError, match="Could not write"):
        save(client, host.url(), out / "taken.png", force=True)
    assert leftovers(out) == []
