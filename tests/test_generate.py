"""generate against the sandbox over real HTTP: files, stdout/stderr contract, JSON, stdin."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from runway_cli import __version__
from runway_cli.sandbox.images import png_size

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_generate_saves_png_and_prints_only_the_path(cli, api_env, sandbox, workdir):
    r = cli("generate", "a lighthouse at dusk", "--ratio", "1280:720", "-o", "out.png", env=api_env)
    assert r.code == 0, r
    assert r.stdout == "out.png\n"
    data = (workdir / "out.png").read_bytes()
    assert png_size(data) == (1280, 720)
    task_id = UUID_RE.search(r.stderr).group(0)  # the id is never lost: it is on stderr
    assert data == sandbox.image_bytes(task_id, 0)
    assert sandbox.count("POST", "/v1/text_to_image") == 1
    create = next(e for e in sandbox.requests if e["method"] == "POST")
    assert create["json"] == {
        "model": "gen4_image",
        "promptText": "a lighthouse at dusk",
        "ratio": "1280:720",
    }
    assert create["version"] == "2024-11-06"
    assert create["user_agent"] == f"runway-img/{__version__}"
    # no leftovers from the temporary download file
    assert sorted(p.name for p in workdir.iterdir()) == ["out.png"]
    # a sandbox started elsewhere is recognised and named, once
    assert r.stderr.count(f"{sandbox.base_url} is a runway-img sandbox: no credits are spent.") == 1


def test_default_name_comes_from_task_id_and_default_ratio(cli, api_env, workdir):
    r = cli("generate", "a red fox", env=api_env)
    assert r.code == 0, r
    path = Path(r.stdout.strip())
    assert UUID_RE.fullmatch(path.stem)
    assert path.suffix == ".png"
    assert png_size((workdir / path).read_bytes()) == (1280, 720)  # gen4_image default ratio


def test_output_into_existing_folder(cli, api_env, workdir):
    (workdir / "images").mkdir()
    r = cli("generate", "a red fox", "-o", "images", env=api_env)
    assert r.code == 0, r
    saved = Path(r.stdout.strip())
    assert saved.parent.name == "images"
    assert (workdir / saved).is_file()


def test_json_output_shape(cli, api_env, workdir):
    r = cli("generate", "a red fox", "-o", "fox.png", "--json", env=api_env)
    assert r.code == 0, r
    obj = json.loads(r.stdout)
    assert set(obj) == {"id", "status", "model", "ratio", "prompt", "output", "files", "cost"}
    assert obj["status"] == "SUCCEEDED"
    assert obj["model"] == "gen4_image"
    assert obj["ratio"] == "1280:720"
    assert obj["prompt"] == "a red fox"
    assert obj["files"] == ["fox.png"]
    assert len(obj["output"]) == 1 and obj["output"][0].startswith("http://127.0.0.1")
    assert obj["cost"] == 5


def test_prompt_from_stdin(cli, api_env, sandbox):
    r = cli("generate", "-", "-o", "s.png", env=api_env, input="a cat made of clouds\n")
    assert r.code == 0, r
    create = next(e for e in sandbox.requests if e["method"] == "POST")
    assert create["json"]["promptText"] == "a cat made of clouds"


def test_no_wait_then_status_and_download(cli, api_env, sandbox, workdir):
    r = cli("generate", "a quiet harbour", "--no-wait", env=api_env)
    assert r.code == 0, r
    task_id = r.stdout.strip()
    assert UUID_RE.fullmatch(task_id)
    assert "runway-img download" in r.stderr
    assert sandbox.count("GET", "/v1/tasks/") == 0  # --no-wait does not poll

    d = cli("download", task_id, "-o", "later.png", env=api_env)
    assert d.code == 0, d
    assert d.stdout == "later.png\n"
    assert (workdir / "later.png").read_bytes() == sandbox.image_bytes(task_id, 0)

    s = cli("status", task_id, env=api_env)
    assert s.code == 0, s
    assert f"Task:     {task_id}" in s.stdout
    assert "SUCCEEDED" in s.stdout and "Output 1: http://127.0.0.1" in s.stdout
    assert "Cost:     5 credits" in s.stdout

    j = cli("status", task_id, "--json", env=api_env)
    task = json.loads(j.stdout)
    assert (
        task["id"] == task_id and task["status"] == "SUCCEEDED" and task["cost"] == {"credits": 5.0}
    )
    assert sandbox.count("POST", "/v1/text_to_image") == 1


def test_no_wait_json(cli, api_env):
    r = cli("generate", "a quiet harbour", "--no-wait", "--json", env=api_env)
    assert r.code == 0, r
    obj = json.loads(r.stdout)
    assert UUID_RE.fullmatch(obj["id"]) and obj["status"] == "PENDING" and obj["files"] == []


def test_force_overwrites_existing_file(cli, api_env, workdir):
    (workdir / "out.png").write_bytes(b"old")
    r = cli("generate", "a red fox", "-o", "out.png", "--force", env=api_env)
    assert r.code == 0, r
    assert (workdir / "out.png").read_bytes().startswith(b"\x89PNG")


def test_non_tty_progress_is_plain_lines(cli, api_env):
    r = cli("generate", "a red fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert "\x1b" not in r.stderr and "\r" not in r.stderr
    states = [line for line in r.stderr.splitlines() if line.startswith("task ")]
    assert any("succeeded" in line for line in states)
    # one line per state change, never the same state twice in a row
    words = [line.split(": ", 1)[1].split(" ")[0] for line in states]
    assert all(a != b for a, b in itertools.pairwise(words))


def test_version_and_module_entry(run):
    r = run("--version")
    assert r.code == 0 and r.stdout.strip() == f"runway-img {__version__}"


def test_console_script_is_installed(workdir, env):
    import shutil
    import subprocess

    exe = shutil.which("runway-img", path=str(Path(__import__("sys").executable).parent))
    assert exe, "the runway-img console script is not installed next to this Python"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0 and "generate" in out.stdout
