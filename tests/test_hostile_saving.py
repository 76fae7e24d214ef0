"""Data must not be mislabelled on disk: a dangling symbolic link at ``-o`` is refused before
anything is billed (the pre-check follows the rules of the final link/rename), and an image
cut short by a file host that sends no ``Content-Length`` is never saved under the expected
name (only its bytes can tell: PNG IEND, JPEG EOI, WebP RIFF length, SVG closing tag)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from runway_cli.sandbox import FaultRule
from runway_cli.sandbox.images import make_jpeg, make_png, make_svg
from tests.helpers import (
    CREATE,
    assert_refused,
    error_line,
    file_requests,
    files_in,
    history,
    task_id_from,
)
from tests.hostile_support import (
    FileHost,
    files_no_bigger_than,
    quick_sandbox,
    serve_succeeded_task,
)

sandbox = quick_sandbox  # tasks that end at once: these tests are about what surrounds them

SMALL = ("-m", "gemini_image3.1_flash", "-r", "512:512")  # a 400 kB image

# -- a dangling symbolic link at -o ------------------------------------------------------------


@pytest.mark.parametrize("output", ["fox.png", "fox-{n}.png"])
def test_a_dangling_link_at_the_output_is_refused_before_any_create(
    cli, api_env, sandbox, home, workdir, output
):
    name = output.replace("{n}", "1")
    (workdir / name).symlink_to(workdir / "nowhere" / "fox.png")
    r = cli("generate", "a fox", "-o", output, env=api_env)
    assert_refused(r, sandbox, home, f"{name} already exists")
    assert "--force" in error_line(r.stderr)  # the hint is one that works: see below
    assert sandbox.count("POST", CREATE) == 0
    assert os.readlink(workdir / name) == str(workdir / "nowhere" / "fox.png")


def test_with_force_the_dangling_link_itself_is_replaced(cli, api_env, sandbox, workdir):
    (workdir / "fox.png").symlink_to(workdir / "nowhere.png")
    r = cli("generate", "a fox", "-o", "fox.png", "--force", env=api_env)
    assert r.code == 0, r
    task_id = task_id_from(r.stderr)
    assert not (workdir / "fox.png").is_symlink()
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)
    assert not (workdir / "nowhere.png").exists()  # never written through the link
    assert files_in(workdir) == ["fox.png"]


def test_download_onto_a_dangling_link_is_refused_before_fetching_files(
    cli, api_env, sandbox, workdir
):
    made = cli("generate", "a fox", "-o", "first.png", env=api_env)
    task_id = task_id_from(made.stderr)
    fetched = len(file_requests(sandbox))
    (workdir / "fox.png").symlink_to("missing.png")
    r = cli("download", task_id, "-o", "fox.png", env=api_env)
    assert r.code == 2, r
    assert "fox.png already exists" in error_line(r.stderr)
    assert len(file_requests(sandbox)) == fetched  # refused before fetching the file
    assert files_in(workdir) == ["first.png", "fox.png"] and (workdir / "fox.png").is_symlink()


# -- images cut short without a Content-Length ---------------------------------------------------


def _webp(size: int = 4000) -> bytes:
    payload = bytes(range(256)) * (size // 256)
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


IMAGES = {
    "png": ("image/png", lambda: make_png("cut", 64, 64)),
    "jpg": ("image/jpeg", lambda: make_jpeg("cut", 64, 64)),
    "webp": ("image/webp", _webp),
    "svg": ("image/svg+xml", lambda: make_svg("cut", 64, 64)),
}


@pytest.mark.parametrize("kind", list(IMAGES))
def test_an_image_cut_short_without_content_length_is_never_saved(
    cli, api_env, sandbox, workdir, kind
):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    ctype, make = IMAGES[kind]
    whole = make()
    with FileHost({f"/out.{kind}": (200, ctype, whole[: len(whole) * 2 // 3])}) as host:
        serve_succeeded_task(sandbox, task_id, f"{host.url}/out.{kind}")
        r = cli("download", task_id, env=api_env)  # saved as <id>.<ext>, if at all
        assert len(host.hits) >= 2  # tried again before giving up
    assert r.code == 8, r
    line = error_line(r.stderr)
    assert "ended early" in line and task_id in line, line
    assert f"Retry with: runway-img download {task_id}" in line
    assert files_in(workdir) == []  # no file under the name, no temporary file either
    assert history(cli, api_env)[0]["files"] == []


def test_a_whole_image_without_content_length_is_saved(cli, api_env, sandbox, workdir):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    whole = make_png("whole", 64, 64)
    with FileHost({"/out.png": (200, "image/png", whole)}) as host:
        serve_succeeded_task(sandbox, task_id, f"{host.url}/out.png")
        r = cli("download", task_id, "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes() == whole
    assert files_in(workdir) == ["fox.png"]


# -- a disk that fills up while the image is written ----------------------------------------------


def test_a_disk_that_fills_up_while_saving_leaves_no_file_and_keeps_the_id(
    cli, api_env, sandbox, workdir
):
    # 100 kB per file (`ulimit -f`): the history's lines fit, the 400 kB image does not.
    proc = subprocess.run(
        [sys.executable, "-m", "runway_cli", "generate", "a fox", "-q", "-o", "fox.png", *SMALL],
        env=api_env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=files_no_bigger_than(100_000),
        check=False,
    )
    assert proc.returncode == 8, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    task_id = task_id_from(line)
    assert "File too large" in line, line
    assert f"runway-img download {task_id} -o fox.png" in line  # a retry that works later
    assert files_in(workdir) == []  # no partial fox.png, no temporary file
    [entry] = history(cli, api_env)
    assert entry["id"] == task_id and entry["files"] == []
    assert "not all saved" in entry["note"]
    retry = cli("download", task_id, "-o", "fox.png", env=api_env)  # the hint, with room again
    assert retry.code == 0, retry
    assert (workdir / "fox.png").read_bytes() == sandbox.image_bytes(task_id, 0)


def test_a_pipe_at_the_output_of_download_is_refused_even_while_the_task_runs(
    cli, api_env, sandbox, workdir
):
    task_id = cli("generate", "a fox", "--no-wait", env=api_env).stdout.strip()
    running = {"id": task_id, "status": "RUNNING", "createdAt": "2025-01-01T00:00:00Z"}
    sandbox.faults.add(
        FaultRule(action="body", method="GET", path=f"/v1/tasks/{task_id}", body=running)
    )
    os.mkfifo(workdir / "out.png")
    for force in ([], ["--force"]):
        r = cli("download", task_id, "-o", "out.png", *force, env=api_env)
        assert r.code == 2, r  # before the wait: no outcome can change it
        line = error_line(r.stderr)
        assert "is not a regular file" in line and "--force" not in line, line
    assert files_in(workdir) == ["out.png"] and not (workdir / "out.png").is_file()
    assert file_requests(sandbox) == []
