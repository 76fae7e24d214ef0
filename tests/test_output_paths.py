"""Unit tests for runway_cli.downloads: image sniffing, output names and destination checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runway_cli.downloads import check_destination, output_urls, plan_paths, sniff_image
from runway_cli.errors import UsageError
from runway_cli.sandbox.images import make_png

TASK_ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"
running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0


# --- sniff_image --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpg"),
        (b"\xff\xd8\xff\xdb\x00\x43", "jpg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        (b"\n  <SVG viewBox='0 0 1 1'></SVG>", "svg"),
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="x"></svg>', "svg"),
    ],
)
def test_sniff_image_recognises(head: bytes, kind: str) -> None:
    assert sniff_image(head) == kind


@pytest.mark.parametrize(
    "head",
    [
        b'\xef\xbb\xbf<svg xmlns="http://www.w3.org/2000/svg"/>',
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "svg11.dtd">\n<svg xmlns="x"/>',
        b'<!-- Generator: vectoriser -->\n<svg xmlns="x"/>',
    ],
)
def test_sniff_image_svg_with_preamble(head: bytes) -> None:
    assert sniff_image(head) == "svg"


def test_sniff_image_real_png() -> None:
    assert sniff_image(make_png("seed", 4, 4)[:512]) == "png"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world",
        b"\x89PNG",  # truncated signature
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"<!doctype html><html><body>Access denied</body></html>",
        b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
        b'{"error": "expired"}',
        b"GIF89a\x01\x00\x01\x00",
    ],
)
def test_sniff_image_rejects_non_images(head: bytes) -> None:
    assert sniff_image(head) is None


# --- plan_paths ---------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_plan_paths_default_is_task_id_in_cwd(in_tmp: Path) -> None:
    assert plan_paths(TASK_ID, 1, None, "png") == [Path(f"{TASK_ID}.png")]


def test_plan_paths_default_several_outputs_numbered(in_tmp: Path) -> None:
    assert plan_paths(TASK_ID, 3, None, "jpg") == [
        Path(f"{TASK_ID}-1.jpg"),
        Path(f"{TASK_ID}-2.jpg"),
        Path(f"{TASK_ID}-3.jpg"),
    ]


def test_plan_paths_output_file(in_tmp: Path) -> None:
    assert plan_paths(TASK_ID, 1, "fox.png", "png") == [Path("fox.png")]
    assert plan_paths(TASK_ID, 1, "sub/fox.webp", "png") == [Path("sub/fox.webp")]


def test_plan_paths_output_existing_dir(in_tmp: Path) -> None:
    (in_tmp / "images").mkdir()
    assert plan_paths(TASK_ID, 1, "images", "png") == [Path("images") / f"{TASK_ID}.png"]
    assert plan_paths(TASK_ID, 2, "images/", "webp") == [
        Path("images") / f"{TASK_ID}-1.webp",
        Path("images") / f"{TASK_ID}-2.webp",
    ]


def test_plan_paths_output_file_several_outputs_numbered(in_tmp: Path) -> None:
    assert plan_paths(TASK_ID, 3, "out.png", "png") == [
        Path("out-1.png"),
        Path("out-2.png"),
        Path("out-3.png"),
    ]
    assert plan_paths(TASK_ID, 2, "sub/out.jpg", "png") == [
        Path("sub/out-1.jpg"),
        Path("sub/out-2.jpg"),
    ]


def test_plan_paths_names_are_unique(in_tmp: Path) -> None:
    for output in (None, "out.png", "noext"):
        paths = plan_paths(TASK_ID, 10, output, "png")
        assert len(set(paths)) == 10


def test_plan_paths_trailing_slash_means_folder(in_tmp: Path) -> None:
    # "-o missing/" names a folder even before it exists; it must not become a file "missing".
    paths = plan_paths(TASK_ID, 1, "missing/", "png")
    assert paths == [Path("missing") / f"{TASK_ID}.png"]
    with pytest.raises(UsageError, match="does not exist"):
        check_destination(paths[0], force=False)


# --- check_destination --------------------------------------------------------------------


def test_check_destination_new_file_ok(tmp_path: Path) -> None:
    check_destination(tmp_path / "new.png", force=False)  # no error
    assert list(tmp_path.iterdir()) == []  # a check never creates anything


def test_check_destination_bare_name_in_cwd_ok(in_tmp: Path) -> None:
    check_destination(Path("new.png"), force=False)  # no error: the parent is "."
    assert not (in_tmp / "new.png").exists()


def test_check_destination_missing_folder(tmp_path: Path) -> None:
    dest = tmp_path / "nope" / "deeper" / "a.png"
    with pytest.raises(UsageError, match="does not exist") as info:
        check_destination(dest, force=True)
    assert info.value.hint is not None
    assert "mkdir -p" in info.value.hint


def test_check_destination_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        check_destination(tmp_path / "file.txt" / "a.png", force=False)


@pytest.mark.skipif(running_as_root, reason="root can write to any folder")
def test_check_destination_folder_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(UsageError, match="not writable"):
            check_destination(locked / "a.png", force=True)
    finally:
        locked.chmod(0o700)


def test_check_destination_existing_file_needs_force(tmp_path: Path) -> None:
    dest = tmp_path / "a.png"
    dest.write_bytes(b"old")
    with pytest.raises(UsageError, match="already exists") as info:
        check_destination(dest, force=False)
    assert info.value.hint is not None
    assert "--force" in info.value.hint
    check_destination(dest, force=True)  # with --force it may be replaced
    assert dest.read_bytes() == b"old"  # a check never writes


@pytest.mark.parametrize("force", [False, True])
def test_check_destination_folder_as_destination(tmp_path: Path, force: bool) -> None:
    (tmp_path / "a.png").mkdir()
    with pytest.raises(UsageError, match="it is a folder"):
        check_destination(tmp_path / "a.png", force=force)


# --- output_urls --------------------------------------------------------------------------


def test_output_urls() -> None:
    assert output_urls({"output": ["https://a/1.png", "https://a/2.png"]}) == [
        "https://a/1.png",
        "https://a/2.png",
    ]
    assert output_urls({}) == []
    assert output_urls({"output": "https://a/1.png"}) == []
    assert output_urls({"output": ["https://a/1.png", None]}) == []
