"""Recognising images by their bytes and telling a whole file from a truncated one: PNG (IEND),
JPEG (EOI), WebP (the RIFF length), SVG (the closing tag)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runway_cli.image_types import (
    HEAD_BYTES,
    check_file,
    is_complete,
    sniff,
    sniff_raster,
)
from runway_cli.sandbox.images import make_png
from tests.fakes import jpeg_bytes, png_bytes, svg_bytes, webp_bytes

WHOLE = {
    "png": png_bytes(),
    "jpg": jpeg_bytes(),
    "webp": webp_bytes(),
    "svg": svg_bytes(),
}


def complete(kind: str, data: bytes) -> bool:
    return is_complete(kind, len(data), data[:HEAD_BYTES], data[-1024:])


# --- sniff ----------------------------------------------------------------------------------


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
        (b'\xef\xbb\xbf<svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        (b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "svg11.dtd">\n<svg/>', "svg"),
        (b'<!-- Generator: vectoriser -->\n<svg xmlns="x"/>', "svg"),
    ],
)
def test_sniff_recognises(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize("kind", list(WHOLE))
def test_sniff_recognises_the_whole_fixtures(kind: str) -> None:
    assert sniff(WHOLE[kind][:HEAD_BYTES]) == kind


def test_sniff_a_real_png() -> None:
    assert sniff(make_png("seed", 4, 4)[:HEAD_BYTES]) == "png"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world",
        b"\x89PNG",  # a truncated signature
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"<!doctype html><html><body>Access denied</body></html>",
        b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
        b"<!-- a comment and no svg -->",
        b'{"error": "expired"}',
        b"GIF89a\x01\x00\x01\x00",
    ],
)
def test_sniff_rejects_non_images(head: bytes) -> None:
    assert sniff(head) is None


@pytest.mark.parametrize(("kind", "raster"), [("png", "png"), ("jpg", "jpg"), ("webp", "webp")])
def test_sniff_raster_takes_the_input_kinds(kind: str, raster: str) -> None:
    assert sniff_raster(WHOLE[kind][:16]) == raster


def test_sniff_raster_refuses_svg() -> None:
    assert sniff_raster(svg_bytes()) is None


# --- completeness -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(WHOLE))
def test_whole_files_are_complete(kind: str) -> None:
    assert complete(kind, WHOLE[kind])


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("png", png_bytes()[:-1]),  # the IEND chunk's CRC cut
        ("png", png_bytes()[:-12]),  # no IEND chunk at all
        ("jpg", jpeg_bytes()[:-1]),  # half an EOI
        ("jpg", jpeg_bytes()[:-2]),  # no EOI
        ("webp", webp_bytes()[:-1]),  # shorter than the RIFF header says
        ("webp", webp_bytes() + b"\0\0"),  # longer than it says
        ("webp", b"RIFF\x00"),  # not even a whole header
        ("svg", b'<svg xmlns="x"><rect/>'),  # no closing tag
        ("svg", b'<svg xmlns="x"><rect/></sv'),
    ],
)
def test_truncated_files_are_incomplete(kind: str, data: bytes) -> None:
    assert not complete(kind, data)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("jpg", jpeg_bytes() + b"\r\n\x00\x00"),  # padding after EOI is tolerated
        ("svg", svg_bytes().upper() + b"  \n\n"),  # case and trailing whitespace
    ],
)
def test_harmless_trailers_are_tolerated(kind: str, data: bytes) -> None:
    assert complete(kind, data)


def test_unknown_kind_is_never_complete() -> None:
    assert not is_complete("gif", 10, b"GIF89a", b"")


@given(st.sampled_from(["png", "jpg", "webp"]), st.integers(0, 400), st.data())
def test_every_proper_prefix_of_a_raster_image_is_incomplete(
    kind: str, payload: int, data: st.DataObject
) -> None:
    whole = {"png": png_bytes, "jpg": jpeg_bytes, "webp": webp_bytes}[kind](payload)
    cut = data.draw(st.integers(len(whole) // 2, len(whole) - 1))
    assert complete(kind, whole)
    assert not complete(kind, whole[:cut])


# --- check_file -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(WHOLE))
def test_check_file_on_disk(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(WHOLE[kind])
    assert check_file(path) == (kind, True)
    path.write_bytes(WHOLE[kind][:-3])
    assert check_file(path) == (kind, False)


def test_check_file_reads_the_tail_of_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(payload=50_000))
    assert check_file(path) == ("png", True)


def test_check_file_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"<html>nope</html>")
    assert check_file(path) == (None, False)
