"""Where generate saves: -o as a file, a folder or a template; numbered names; extensions from
the bytes served; --force; and every bad -o refused before anything is sent."""

from __future__ import annotations

import re

import pytest

from runway_cli.sandbox.images import png_size
from tests.helpers import UUID, assert_refused, file_requests, files_in


def test_output_into_existing_folder(cli, api_env, workdir):
    (workdir / "images").mkdir()
    r = cli("generate", "a red fox", "-o", "images", env=api_env)
    assert r.code == 0, r
    saved = r.stdout.strip()
    assert re.fullmatch(rf"images/{UUID}\.png", saved), saved
    assert (workdir / saved).read_bytes().startswith(b"\x89PNG")


def test_force_overwrites_existing_file(cli, api_env, workdir):
    (workdir / "out.png").write_bytes(b"old")
    r = cli("generate", "a red fox", "-o", "out.png", "--force", env=api_env)
    assert r.code == 0, r
    assert (workdir / "out.png").read_bytes().startswith(b"\x89PNG")
    assert files_in(workdir) == ["out.png"]


def test_several_outputs_get_numbered_names(cli, api_env, workdir):
    r = cli("generate", "cats", "-m", "gpt_image_2", "-n", "3", "-o", "cat.png", env=api_env)
    assert r.code == 0, r
    assert r.stdout.split() == ["cat-1.png", "cat-2.png", "cat-3.png"]
    assert all((workdir / f"cat-{n}.png").read_bytes().startswith(b"\x89PNG") for n in (1, 2, 3))


def test_template_fills_placeholders_and_makes_folders(cli, api_env):
    r = cli(
        "generate",
        "cats",
        "-m",
        "gemini_image3_pro",
        "-n",
        "4",
        "--ref",
        "https://example.com/c.png",
        "-o",
        "renders/{model}/{id}/{n}.{ext}",
        env=api_env,
    )
    assert r.code == 0, r
    paths = r.stdout.split()
    assert len(paths) == 4
    m = re.fullmatch(rf"renders/gemini_image3_pro/({UUID})/1\.png", paths[0])
    assert m, paths
    assert paths[3] == f"renders/gemini_image3_pro/{m.group(1)}/4.png"


def test_template_with_seed_and_model(cli, api_env, workdir):
    r = cli("generate", "cats", "--seed", "9", "-o", "s{seed}-{model}.{ext}", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip() == "s9-gen4_image.png"
    assert files_in(workdir) == ["s9-gen4_image.png"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(None, None, id="default-name"),
        pytest.param("pic.png", ["pic.png"], id="own-name"),
        pytest.param("j-{n}.png", ["j-1.png", "j-2.png"], id="template-fixed-ext"),
    ],
)
def test_extension_comes_from_the_bytes_and_an_own_name_is_kept(
    cli, api_env, workdir, output, expected
):
    count = ["-n", str(len(expected))] if expected and len(expected) > 1 else []
    name = ["-o", output] if output else []
    r = cli("generate", "x", "-m", "seedream5_pro", "--format", "jpeg", *count, *name, env=api_env)
    assert r.code == 0, r
    saved = r.stdout.split()
    if expected is None:
        assert len(saved) == 1 and saved[0].endswith(".jpg")  # named by the bytes served
        assert "keeping your file name" not in r.stderr
    else:
        assert saved == expected
        # the name disagrees with the bytes: one warning, however many files
        assert r.stderr.count("The image is JPEG but") == 1
        assert r.stderr.count("ends in .png; keeping your file name") == 1
    assert all((workdir / p).read_bytes().startswith(b"\xff\xd8\xff") for p in saved)


def test_vector_model_saves_svg(cli, api_env, workdir):
    r = cli("generate", "a logo", "-m", "recraft_v4_1_vector", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip().endswith(".svg")
    assert (workdir / r.stdout.strip()).read_bytes().startswith(b"<svg")


def test_very_wide_jpeg_request_is_served_and_named_as_png(cli, api_env, workdir):
    # the sandbox's small JPEG encoder does not take a 70000-pixel row: it serves PNG instead
    r = cli(
        "generate", "x", "-m", "seedream5_lite", "--ratio", "70000:60", "--format", "jpeg",
        env=api_env,
    )  # fmt: skip
    assert r.code == 0, r
    assert r.stdout.strip().endswith(".png")
    assert png_size((workdir / r.stdout.strip()).read_bytes()) == (70000, 60)


def test_downloads_ask_for_identity_encoding(cli, api_env, sandbox):
    r = cli("generate", "a fox", "-o", "f.png", env=api_env)
    assert r.code == 0, r
    files = file_requests(sandbox)
    assert files and all(e["accept_encoding"] == "identity" for e in files)


# -- refused before anything is sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["-o", "taken.png"], "already exists", id="existing-file"),
        pytest.param(["-o", "nowhere/cat.png"], "does not exist", id="plain-path-no-folder"),
        pytest.param(["-o", "missing/dir/out.png"], "does not exist", id="deep-missing-folder"),
        pytest.param(["-o", "afile/out.png"], "is not a folder", id="folder-is-a-file"),
        pytest.param(["-o", "{name}.png"], "Unknown placeholder", id="unknown-placeholder"),
        pytest.param(["-o", "{seed:05d}.png"], "no --seed", id="seed-without-seed"),
        pytest.param(["-o", "{id:d}.png"], "Invalid -o template", id="bad-format-spec"),
        pytest.param(["-o", "{n!z}.png"], "Invalid -o template", id="bad-conversion"),
        pytest.param(["-o", "{n:x>300}.png"], "Cannot save to", id="300-char-name-from-template"),
        pytest.param(["-o", "x" * 300 + ".png"], "Cannot save to", id="300-char-name"),
        # fits, but not with the 15 bytes its temporary twin adds while saving
        pytest.param(["-o", "x" * 245 + ".png"], "249 bytes", id="245-char-name"),
        pytest.param(["-o", "{id}/" + "c" * 300 + "/x.{ext}"], "300 bytes", id="long-folder"),
        pytest.param(
            ["-o", "{id}-" + "c" * 214 + ".{ext}"], "255 bytes", id="long-name-from-template"
        ),
        # {{ is a literal brace, not a placeholder: a plain path whose folder does not exist
        pytest.param(["-o", "o{{q}}/a.png"], "does not exist", id="escaped-brace"),
    ],
)
def test_bad_output_is_refused_before_any_request(
    cli, home, api_env, sandbox, workdir, args, needle
):
    (workdir / "taken.png").write_bytes(b"precious")
    (workdir / "afile").write_text("x")
    r = cli("generate", "a fox", *args, env=api_env)
    assert_refused(r, sandbox, home, needle)
    if args == ["-o", "taken.png"]:
        assert "--force" in r.stderr
    assert files_in(workdir) == ["afile", "taken.png"]  # no folder made, nothing replaced
    assert (workdir / "taken.png").read_bytes() == b"precious"
