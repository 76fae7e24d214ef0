"""Where outputs go: -o as a file, a folder or a template; whether it can be written; the
checks before a task is created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runway_cli.errors import UsageError
from runway_cli.output_paths import (
    PROBE_ID,
    OutputPlan,
    check_destination,
    check_template,
    exists,
    is_template,
    plan_paths,
    template_makes_folders,
    url_ext,
)

TASK_ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"
running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0


# --- plan_paths ---------------------------------------------------------------------------


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    """An empty folder of this test's own (tmp_path also holds the isolated home)."""
    folder = tmp_path / "t"
    folder.mkdir()
    return folder


@pytest.fixture
def in_tmp(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp)
    return tmp


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


def test_a_missing_folder_is_named_without_a_stand_in_file_name(in_tmp: Path) -> None:
    # Before the task exists its id is a placeholder: the message names the folder only.
    with pytest.raises(UsageError) as info:
        OutputPlan("renders/", force=False).precheck(1, "png", folder_only=True)
    assert info.value.message == "Cannot save into renders: the folder does not exist."
    assert info.value.hint == "Create it first (mkdir -p renders) or choose another -o."


# --- check_destination --------------------------------------------------------------------


def test_check_destination_new_file_ok(tmp: Path) -> None:
    check_destination(tmp / "new.png", force=False)  # no error
    assert list(tmp.iterdir()) == []  # a check never creates anything


def test_check_destination_bare_name_in_cwd_ok(in_tmp: Path) -> None:
    check_destination(Path("new.png"), force=False)  # no error: the parent is "."
    assert not (in_tmp / "new.png").exists()


def test_check_destination_missing_folder(tmp: Path) -> None:
    dest = tmp / "nope" / "deeper" / "a.png"
    with pytest.raises(UsageError, match="does not exist") as info:
        check_destination(dest, force=True)
    assert info.value.hint is not None
    assert "mkdir -p" in info.value.hint


def test_check_destination_parent_is_a_file(tmp: Path) -> None:
    (tmp / "file.txt").write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        check_destination(tmp / "file.txt" / "a.png", force=False)


@pytest.mark.skipif(running_as_root, reason="root can write to any folder")
def test_check_destination_folder_not_writable(tmp: Path) -> None:
    locked = tmp / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(UsageError, match="not writable"):
            check_destination(locked / "a.png", force=True)
    finally:
        locked.chmod(0o700)


def test_check_destination_existing_file_needs_force(tmp: Path) -> None:
    dest = tmp / "a.png"
    dest.write_bytes(b"old")
    with pytest.raises(UsageError, match="already exists") as info:
        check_destination(dest, force=False)
    assert info.value.hint is not None
    assert "--force" in info.value.hint
    check_destination(dest, force=True)  # with --force it may be replaced
    assert dest.read_bytes() == b"old"  # a check never writes


@pytest.mark.parametrize("force", [False, True])
def test_check_destination_folder_as_destination(tmp: Path, force: bool) -> None:
    (tmp / "a.png").mkdir()
    with pytest.raises(UsageError, match="it is a folder"):
        check_destination(tmp / "a.png", force=force)


def test_check_destination_dangling_symlink_counts_as_existing(tmp: Path) -> None:
    link = tmp / "a.png"
    link.symlink_to(tmp / "nowhere")
    assert exists(link)
    with pytest.raises(UsageError, match="already exists"):
        check_destination(link, force=False)


def test_check_destination_name_too_long(tmp: Path) -> None:
    with pytest.raises(UsageError, match="Cannot save to"):
        check_destination(tmp / ("x" * 300 + ".png"), force=False)


def test_check_destination_make_folders_accepts_missing_folders(tmp: Path) -> None:
    check_destination(tmp / "a" / "b" / "c.png", force=False, make_folders=True)
    assert list(tmp.iterdir()) == []


# --- templates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "count", "expected"),
    [
        ("{id}.{ext}", 1, [f"{TASK_ID}.png"]),
        ("out/{id}/{n}.{ext}", 2, [f"out/{TASK_ID}/1.png", f"out/{TASK_ID}/2.png"]),
        ("{model}-{seed}.{ext}", 1, ["gen4_image-7.png"]),
        ("fox-{n:02d}.png", 2, ["fox-01.png", "fox-02.png"]),
        ("fox.{ext}", 2, ["fox-1.png", "fox-2.png"]),  # no {n}: numbered like a plain name
    ],
)
def test_plan_paths_templates(in_tmp: Path, output: str, count: int, expected: list[str]) -> None:
    paths = plan_paths(TASK_ID, count, output, "png", model="gen4_image", seed=7)
    assert paths == [Path(p) for p in expected]


@pytest.mark.parametrize(
    ("output", "model", "seed", "needle"),
    [
        ("{name}.png", None, None, "Unknown placeholder"),
        ("{}.png", None, None, "Unknown placeholder"),
        ("{0}.png", None, None, "Unknown placeholder"),
        ("{id.real}.png", None, None, "Unknown placeholder"),
        ("{seed}.png", None, None, "no --seed"),
        ("{model}.png", None, 1, "model of this task is not known"),
        ("{id", None, None, "Invalid -o template"),
        ("{id}}", None, None, "Invalid -o template"),
        ("{n:x>}{id:d}.png", None, None, "Invalid -o template"),
    ],
)
def test_check_template_refuses(output, model, seed, needle) -> None:
    with pytest.raises(UsageError, match=needle):
        check_template(output, model=model, seed=seed)


@pytest.mark.parametrize("output", ["{id}.{ext}", "{n}-{model}-{seed}.png", "plain.png"])
def test_check_template_accepts(output: str) -> None:
    check_template(output, model="gen4_image", seed=3)


@pytest.mark.parametrize(
    ("output", "makes"),
    [
        (None, False),
        ("fox.png", False),
        ("{id}.png", False),
        ("out/{id}.png", False),
        ("out/{id}/{n}.png", True),
        ("{model}/x.png", True),
    ],
)
def test_only_placeholders_in_folders_make_folders(output: str | None, makes: bool) -> None:
    assert template_makes_folders(output) is makes
    assert is_template(output) is (output is not None and "{" in output)


@pytest.mark.parametrize(
    ("url", "ext"),
    [
        ("https://f.example/a.png?sig=1", "png"),
        ("https://f.example/a.JPEG", "jpg"),
        ("https://f.example/a.jpg", "jpg"),
        ("https://f.example/a.webp", "webp"),
        ("https://f.example/a.svg", "svg"),
        ("https://f.example/a.gif", "png"),
        ("https://f.example/download?file=a.jpg", "png"),
    ],
)
def test_url_ext(url: str, ext: str) -> None:
    assert url_ext(url) == ext


# --- OutputPlan -----------------------------------------------------------------------------


def test_plan_paths_and_check_all(in_tmp: Path) -> None:
    plan = OutputPlan("fox.png", force=False)
    assert plan.paths(TASK_ID, 2, "png") == [Path("fox-1.png"), Path("fox-2.png")]
    (in_tmp / "fox-2.png").write_bytes(b"x")
    with pytest.raises(UsageError, match=r"fox-2\.png already exists"):
        plan.check_all(TASK_ID, 2, "png")
    OutputPlan("fox.png", force=True).check_all(TASK_ID, 2, "png")


def test_precheck_without_output_checks_the_working_folder(in_tmp: Path) -> None:
    OutputPlan(None, force=False).precheck(1, "png")
    OutputPlan(None, force=False).precheck(1, "png", folder_only=True)
    assert list(in_tmp.iterdir()) == []


def test_precheck_plain_name_that_exists(in_tmp: Path) -> None:
    (in_tmp / "fox.png").write_bytes(b"x")
    with pytest.raises(UsageError, match="already exists"):
        OutputPlan("fox.png", force=False).precheck(1, "png")
    OutputPlan("fox.png", force=False).precheck(1, "png", folder_only=True)  # download: later


def test_precheck_template_without_id_checks_the_names(in_tmp: Path) -> None:
    (in_tmp / "fox-1.png").write_bytes(b"x")
    with pytest.raises(UsageError, match="already exists"):
        OutputPlan("fox-{n}.{ext}", force=False).precheck(1, "png")


def test_precheck_template_with_id_checks_only_the_folder(in_tmp: Path) -> None:
    (in_tmp / f"{PROBE_ID}.png").write_bytes(b"x")  # cannot clash with a real task id
    OutputPlan("{id}.{ext}", force=False).precheck(1, "png")
    with pytest.raises(UsageError, match="does not exist"):
        OutputPlan("missing/{id}.png", force=False).precheck(1, "png")
    OutputPlan("made/{id}/{n}.png", force=False).precheck(2, "png")  # folders will be made


def test_precheck_refuses_a_bad_template(in_tmp: Path) -> None:
    with pytest.raises(UsageError, match="no --seed"):
        OutputPlan("{seed}.png", force=False).precheck(1, "png")


@pytest.mark.parametrize(
    ("output", "kind", "saved_as", "warned"),
    [
        ("fox.png", "jpg", "fox.png", True),
        ("fox.jpeg", "jpg", "fox.jpeg", False),
        ("fox.JPG", "jpg", "fox.JPG", False),
        ("fox.webp", "webp", "fox.webp", False),
        ("fox", "png", "fox", False),  # no extension chosen: nothing to contradict
        (None, "jpg", "x.jpg", False),
        ("{id}.{ext}", "jpg", "x.jpg", False),
        ("{id}.png", "jpg", "x.png", True),
    ],
)
def test_extension_mismatch(in_tmp: Path, output, kind, saved_as, warned) -> None:
    warning = OutputPlan(output, force=False).extension_mismatch(kind, Path(saved_as))
    assert (warning is not None) is warned
    if warning:
        assert "keeping your file name" in warning


def test_extension_mismatch_into_a_folder(in_tmp: Path) -> None:
    (in_tmp / "imgs").mkdir()
    assert OutputPlan("imgs", force=False).extension_mismatch("jpg", Path("imgs/x.jpg")) is None


def test_make_folders_follows_the_template() -> None:
    assert OutputPlan("out/{id}/{n}.png", force=False).make_folders
    assert not OutputPlan("out/x.png", force=False).make_folders


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("c" * 245 + ".png", "249 bytes"),  # fits, but its temporary twin while saving does not
        ("c" * 300 + "/x.png", "300 bytes"),  # a folder part
        ("/".join(["c" * 200] * 21) + "/x.png", "more than the file system takes"),  # PATH_MAX
    ],
    ids=["temp-twin", "folder", "whole-path"],
)
def test_names_the_file_system_cannot_take_are_refused_before_the_create(
    in_tmp: Path, name: str, why: str
) -> None:
    with pytest.raises(UsageError, match=why):
        OutputPlan(name, force=False).precheck(1, "png")
