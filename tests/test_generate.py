"""generate against the sandbox over real HTTP: the saved file, the stdout/stderr contract, JSON,
where the prompt comes from, and what -v logs."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from runway_cli import __version__
from runway_cli.sandbox.images import png_size
from tests.helpers import UUID_RE, create_body, files_in, task_id_from


def test_generate_saves_png_and_prints_only_the_path(cli, api_env, sandbox, workdir):
    r = cli("generate", "a lighthouse at dusk", "--ratio", "1280:720", "-o", "out.png", env=api_env)
    assert r.code == 0, r
    assert r.stdout == "out.png\n"
    data = (workdir / "out.png").read_bytes()
    assert png_size(data) == (1280, 720)
    task_id = task_id_from(r.stderr)  # the id is never lost: it is on stderr
    assert data == sandbox.image_bytes(task_id, 0)
    assert create_body(sandbox) == {
        "model": "gen4_image",
        "promptText": "a lighthouse at dusk",
        "ratio": "1280:720",
    }
    create = next(e for e in sandbox.requests if e["method"] == "POST")
    assert create["version"] == "2024-11-06"
    assert create["user_agent"] == f"runway-img/{__version__}"
    assert files_in(workdir) == ["out.png"]  # no leftovers from the temporary download file
    # a sandbox started elsewhere is recognised and named, once
    assert r.stderr.count(f"{sandbox.base_url} is a runway-img sandbox: no credits are spent.") == 1


def test_default_name_comes_from_task_id_and_default_ratio(cli, api_env, workdir):
    r = cli("generate", "a red fox", env=api_env)
    assert r.code == 0, r
    path = Path(r.stdout.strip())
    assert UUID_RE.fullmatch(path.stem)
    assert path.suffix == ".png"
    assert png_size((workdir / path).read_bytes()) == (1280, 720)  # gen4_image default ratio


def test_json_output_shape(cli, api_env):
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
    r = cli("generate", "-", "--no-wait", env=api_env, input="a cat made of clouds\n")
    assert r.code == 0, r
    assert create_body(sandbox)["promptText"] == "a cat made of clouds"


def test_prompt_from_a_file_keeps_inner_newlines(cli, api_env, sandbox, workdir):
    (workdir / "p.txt").write_text("a lighthouse\non a cliff\n", encoding="utf-8")
    r = cli("generate", "-f", "p.txt", "--no-wait", env=api_env)
    assert r.code == 0, r
    assert create_body(sandbox)["promptText"] == "a lighthouse\non a cliff"


def test_no_wait_prints_the_id_and_does_not_poll(cli, api_env, sandbox):
    r = cli("generate", "a quiet harbour", "--no-wait", env=api_env)
    assert r.code == 0, r
    task_id = r.stdout.strip()
    assert UUID_RE.fullmatch(task_id)
    assert f"runway-img download {task_id}" in r.stderr
    assert sandbox.count("GET", "/v1/tasks/") == 0
    j = cli("generate", "a quiet harbour", "--no-wait", "--json", env=api_env)
    assert j.code == 0, j
    obj = json.loads(j.stdout)
    assert UUID_RE.fullmatch(obj["id"]) and obj["status"] == "PENDING" and obj["files"] == []
    assert sandbox.count("GET", "/v1/tasks/") == 0 and sandbox.count("POST", "/v1/") == 2


def test_non_tty_progress_is_plain_lines(cli, api_env):
    r = cli("generate", "a red fox", "-o", "fox.png", env=api_env)
    assert r.code == 0, r
    assert "\x1b" not in r.stderr and "\r" not in r.stderr
    states = [line for line in r.stderr.splitlines() if line.startswith("task ")]
    assert any("succeeded" in line for line in states)
    # one line per state change, never the same state twice in a row
    words = [line.split(": ", 1)[1].split(" ")[0] for line in states]
    assert all(a != b for a, b in itertools.pairwise(words))


def test_verbose_logs_requests_without_the_key_or_signatures(cli, api_env):
    r = cli("generate", "a fox", "-o", "fox.png", "-v", env=api_env)
    assert r.code == 0, r
    assert re.search(r"POST /v1/text_to_image -> 200 \(\d+ ms\)", r.stderr)
    assert re.search(r"GET /v1/tasks/\S+ -> 200 \(\d+ ms\)", r.stderr)
    assert re.search(r"GET 127\.0\.0\.1:\d+/_sandbox/files/\S+ -> 200", r.stderr)
    assert "sig=" not in r.stderr  # signed output URLs are not logged either
    # the cli fixture already asserts the key is absent from stdout and stderr
