"""Reference images: parsing ``--ref [TAG=]SOURCE[@human|@object]``, loading a source (URL,
runway:// URI, data: URI or local file), and inlining small files vs uploading large ones."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runway_cli.errors import UsageError
from runway_cli.references import (
    MAX_DATA_URI,
    MAX_FILE_BYTES,
    MAX_RUNWAY_URI,
    MAX_URL,
    LocalImage,
    RefOption,
    load_source,
    parse_ref,
    shorten_data_uri,
)
from tests.fakes import jpeg_bytes, png_bytes, webp_bytes

running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    here = tmp_path / "refs"
    here.mkdir()
    (here / "ref.png").write_bytes(png_bytes())
    monkeypatch.chdir(here)
    return here


# --- parse_ref -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("ref.png", RefOption("ref.png")),
        ("  ref.png  ", RefOption("ref.png")),
        ("fox=ref.png", RefOption("ref.png", tag="fox")),
        ("fox_2=ref.png@human", RefOption("ref.png", tag="fox_2", subject="human")),
        ("ref.png@object", RefOption("ref.png", subject="object")),
        ("ref.png @human", RefOption("ref.png", subject="human")),
        ("https://img.example/a.png?x=1", RefOption("https://img.example/a.png?x=1")),
        ("hero=https://img.example/a.png", RefOption("https://img.example/a.png", tag="hero")),
        ("runway://uploads/a.png@human", RefOption("runway://uploads/a.png", subject="human")),
        ("data:image/png;base64,AAAA", RefOption("data:image/png;base64,AAAA")),
        ("me@example.png", RefOption("me@example.png")),  # not a subject suffix
    ],
)
def test_parse_ref(text: str, ref: RefOption) -> None:
    assert parse_ref(text) == ref


def test_a_file_whose_name_looks_like_a_tag_is_a_file(folder: Path) -> None:
    (folder / "abc=def.png").write_bytes(png_bytes())
    assert parse_ref("abc=def.png") == RefOption("abc=def.png")


def test_only_tag_shaped_prefixes_are_tags() -> None:
    assert parse_ref("fox-1=ref.png") == RefOption("fox-1=ref.png")


@pytest.mark.parametrize("tag", ["ab", "Fox", "x" * 17])
def test_invalid_tag_message(tag: str) -> None:
    with pytest.raises(UsageError, match=f"Invalid reference tag '{tag}': use 3-16 characters"):
        parse_ref(f"{tag}=ref.png")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_ref_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--ref needs a file"):
        parse_ref(text)


@pytest.mark.parametrize("text", ["@human", "fox= @object"])
def test_ref_with_only_a_subject_or_tag_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--ref needs a file"):
        parse_ref(text)


# --- load_source: remote sources -----------------------------------------------------------------


def test_remote_sources_pass_through() -> None:
    for source in (
        "https://img.example/a.png",
        "runway://uploads/a.png",
        "data:image/jpeg;base64,/9j/",
        "data:image/webp;base64,UklG",
    ):
        assert load_source(source) == source


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("https://img.example/" + "a" * MAX_URL, f"the API allows {MAX_URL}"),
        ("runway://" + "a" * MAX_RUNWAY_URI, "runway:// URI is too long"),
        ("data:image/gif;base64,R0lG", "data:image/png\\|jpeg\\|webp"),
        ("data:text/plain,hello", "data:image/png\\|jpeg\\|webp"),
        ("data:image/png;base64," + "A" * MAX_DATA_URI, "over 5 MiB"),
        ("http://img.example/a.png", "only fetches https://"),
    ],
)
def test_remote_sources_refused(source: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        load_source(source)


def test_limits_are_inclusive_where_the_api_says_so() -> None:
    url = "https://i.example/" + "a" * (MAX_URL - len("https://i.example/"))
    assert len(url) == MAX_URL and load_source(url) == url
    uri = "data:image/png;base64," + "A" * (MAX_DATA_URI - 23)
    assert len(uri) == MAX_DATA_URI - 1 and load_source(uri) == uri


# --- load_source: local files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind", "mime"),
    [
        (png_bytes(), "png", "image/png"),
        (jpeg_bytes(), "jpg", "image/jpeg"),
        (webp_bytes(), "webp", "image/webp"),
    ],
)
def test_local_file_is_read_and_checked_by_its_bytes(folder: Path, data, kind, mime) -> None:
    (folder / "img.bin").write_bytes(data)  # the name does not matter
    image = load_source("img.bin")
    assert isinstance(image, LocalImage)
    assert (image.kind, image.mime, image.data) == (kind, mime, data)
    assert image.data_uri() == f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_local_file_with_a_home_folder(home: Path) -> None:
    (home / "fox.png").write_bytes(png_bytes())
    image = load_source("~/fox.png")
    assert isinstance(image, LocalImage) and image.path == home / "fox.png"


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: (d / "x").mkdir(), "is a folder, not an image file"),
        (lambda d: (d / "x").write_bytes(b"GIF89a" + b"\0" * 20), "is not a PNG, JPEG or WebP"),
        (lambda d: (d / "x").write_bytes(b'<svg xmlns="x"></svg>'), "is not a PNG, JPEG or WebP"),
        (lambda d: (d / "x").write_bytes(b""), "is not a PNG, JPEG or WebP"),
    ],
)
def test_local_file_refused(folder: Path, make, needle: str) -> None:
    make(folder)
    with pytest.raises(UsageError, match=needle):
        load_source("x")


def test_local_file_over_16_mb_is_refused_without_reading_it(folder: Path) -> None:
    with (folder / "huge.png").open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no 16 MB written
    with pytest.raises(UsageError, match="over 16 MB"):
        load_source("huge.png")


def test_a_device_that_never_ends_is_read_only_up_to_the_limit() -> None:
    with pytest.raises(UsageError, match="over 16 MB"):
        load_source("/dev/zero")


@pytest.mark.skipif(running_as_root, reason="root can read any file")
def test_unreadable_file(folder: Path) -> None:
    (folder / "ref.png").chmod(0)
    with pytest.raises(UsageError, match="Cannot read reference image"):
        load_source("ref.png")


# --- inline or upload --------------------------------------------------------------------------------


def image_of(size: int, kind: str = "png") -> LocalImage:
    return LocalImage(path=Path("x"), kind=kind, data=b"\0" * size)


@given(st.integers(0, 3000), st.sampled_from(["png", "jpg", "webp"]))
def test_data_uri_length_is_computed_without_encoding(size: int, kind: str) -> None:
    image = image_of(size, kind)
    assert image.data_uri_length() == len(image.data_uri())


@pytest.mark.parametrize("kind", ["png", "jpg", "webp"])
def test_the_inline_threshold_is_the_api_limit_on_the_whole_uri(kind: str) -> None:
    prefix = len(f"data:{image_of(0, kind).mime};base64,")
    largest = (MAX_DATA_URI - 1 - prefix) // 4 * 3  # the most bytes whose URI is under 5 MiB
    assert image_of(largest, kind).data_uri_length() < MAX_DATA_URI
    assert image_of(largest, kind).fits_inline
    assert not image_of(largest + 1, kind).fits_inline


# --- shorten_data_uri --------------------------------------------------------------------------------


def test_shorten_data_uri() -> None:
    uri = "data:image/png;base64," + "A" * 1000
    assert shorten_data_uri(uri) == "data:image/png;base64," + "A" * 40 + f"…({len(uri)} chars)"
    assert shorten_data_uri("data:image/png;base64,AAAA") == "data:image/png;base64,AAAA"
    assert shorten_data_uri("https://x.example/" + "a" * 200).startswith("https://")
