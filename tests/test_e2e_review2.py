"""Regression tests from the second review: templates, -p values, uploads, history size."""

from __future__ import annotations

import json

import pytest

from runway_cli.sandbox.images import make_png, png_size


@pytest.fixture
def ref(workdir):
    (workdir / "ref.png").write_bytes(make_png("ref", 64, 64))
    return "ref.png"


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("{seed:05d}.png", "no --seed"),
        ("{id:d}.png", "Invalid -o template"),
        ("{n!z}.png", "Invalid -o template"),
        ("{n:x>300}.png", "Cannot save to"),  # a 300-character file name
        ("x" * 300 + ".png", "Cannot save to"),
        ("o{{q}}/a.png", "does not exist"),  # {{ is a literal brace, not a placeholder
    ],
)
def test_bad_templates_are_refused_before_any_request(
    run, api_env, sandbox, workdir, output, needle
):
    r = run("generate", "a fox", "-o", output, env=api_env)
    assert r.code == 2, r
    assert needle in r.stderr
    assert sandbox.requests == []
    assert list(workdir.iterdir()) == []


def test_fixed_extension_in_a_template_warns_once(run, api_env, workdir):
    r = run(
        "generate",
        "x",
        "-m",
        "seedream5_pro",
        "--format",
        "jpeg",
        "-n",
        "2",
        "-o",
        "j-{n}.png",
        env=api_env,
    )
    assert r.code == 0, r
    assert r.stdout.split() == ["j-1.png", "j-2.png"]
    assert r.stderr.count("The image is JPEG but") == 1


def test_download_fills_model_and_seed_from_history(run, api_env, workdir):
    task_id = run("generate", "a fox", "--seed", "7", "--no-wait", env=api_env).stdout.strip()
    r = run("download", task_id, "-o", "{model}-{seed}-{n}.{ext}", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip() == "gen4_image-7-1.png"


def test_download_with_unknown_seed_is_refused_before_any_request(run, api_env, sandbox):
    r = run("download", "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b", "-o", "{seed}.png", env=api_env)
    assert r.code == 2 and "{seed}" in r.stderr
    assert sandbox.requests == []


def test_download_ext_template_existing_file_is_exit_2(run, api_env, sandbox, workdir):
    task_id = run(
        "generate", "x", "-m", "seedream5_pro", "--format", "jpeg", "--no-wait", env=api_env
    ).stdout.strip()
    first = run("download", task_id, "-o", "j-{n}.{ext}", env=api_env)
    assert first.code == 0 and first.stdout.strip() == "j-1.jpg", first
    again = run("download", task_id, "-o", "j-{n}.{ext}", env=api_env)
    assert again.code == 2, again
    assert "j-1.jpg already exists" in again.stderr and "--force" in again.stderr


def test_history_keeps_data_uris_short(run, api_env, home, workdir):
    (workdir / "mid.png").write_bytes(make_png("mid", 1024, 1024))  # ~1.5 MB, inlined
    r = run("generate", "a fox", "--ref", "mid.png", "-o", "o.png", env=api_env)
    assert r.code == 0, r
    history_file = home / "data" / "runway-img" / "history.jsonl"
    assert history_file.stat().st_size < 10_000
    entry = json.loads(run("history", "--json", env=api_env).stdout)[0]
    assert entry["params"]["referenceImages"][0]["uri"].endswith("chars)")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_params_are_refused_and_nothing_is_in_doubt(run, api_env, sandbox, value):
    r = run(
        "generate", "x", "-m", "future_model", "--ratio", "1:1", "-p", f"x={value}", env=api_env
    )
    assert r.code == 2, r
    assert sandbox.requests == []
    assert json.loads(run("history", "--json", env=api_env).stdout) == []


def test_params_nest_and_conflicts_are_refused(run, api_env, sandbox):
    ok = run(
        "generate",
        "x",
        "-m",
        "future_model",
        "--ratio",
        "1:1",
        "-p",
        "a.b.c=1",
        "-p",
        "a.b.d=true",
        "--dry-run",
        env=api_env,
    )
    assert ok.code == 0, ok
    assert json.loads(ok.stdout)["a"] == {"b": {"c": 1, "d": True}}
    bad = run(
        "generate",
        "x",
        "-m",
        "future_model",
        "--ratio",
        "1:1",
        "-p",
        "foo=1",
        "-p",
        "foo.bar=2",
        env=api_env,
    )
    assert bad.code == 2 and "foo is already set" in bad.stderr
    twice = run("generate", "x", "--seed", "2", "-p", "seed=1", env=api_env)
    assert twice.code == 2 and "Set seed with --seed" in twice.stderr
    named = run("generate", "x", "-p", "quality=high", env=api_env)
    assert named.code == 2 and "Models that do: gpt_image_2" in named.stderr
    assert sandbox.requests == []


def test_upload_name_comes_from_the_bytes(run, api_env, sandbox, workdir):
    (workdir / "bigfile").write_bytes(
        make_png("big", 2048, 2048)
    )  # no extension, too big to inline
    r = run("generate", "a fox", "--ref", "bigfile", "-o", "o.png", env=api_env)
    assert r.code == 0, r
    upload = next(e for e in sandbox.requests if e["path"] == "/v1/uploads")
    assert upload["json"] == {"filename": "bigfile.png", "type": "ephemeral"}


def test_tags_may_start_with_data(run, api_env, ref):
    r = run("generate", "@database chart", "--ref", f"database={ref}", "--dry-run", env=api_env)
    assert r.code == 0, r
    assert json.loads(r.stdout)["referenceImages"][0]["tag"] == "database"


def test_auto_ratio_default_and_size(run, api_env, workdir):
    dry = run("generate", "x", "-m", "gpt_image_2", "--dry-run", env=api_env)
    assert json.loads(dry.stdout)["ratio"] == "auto"
    r = run("generate", "x", "-m", "gpt_image_2", "-o", "a.png", env=api_env)
    assert r.code == 0, r
    assert png_size((workdir / "a.png").read_bytes()) == (1024, 1024)


def test_very_wide_jpeg_request_is_served_as_png(run, api_env, workdir):
    r = run(
        "generate",
        "x",
        "-m",
        "seedream5_lite",
        "--ratio",
        "70000:60",
        "--format",
        "jpeg",
        env=api_env,
    )
    assert r.code == 0, r
    assert r.stdout.strip().endswith(".png")
    assert png_size((workdir / r.stdout.strip()).read_bytes()) == (70000, 60)


def test_auth_status_shows_the_source_even_when_the_api_is_unreachable(run, env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run(
        "auth",
        "status",
        "--json",
        env={
            **env,
            "RUNWAYML_BASE_URL": f"http://127.0.0.1:{port}",
            "RUNWAYML_API_SECRET": "key_" + "cd" * 64,
        },
    )
    assert r.code == 7, r
    info = json.loads(r.stdout)
    assert info["source"] == "RUNWAYML_API_SECRET" and info["valid"] is None
    assert info["key"] == "key_…cdcd"


def test_verbose_explains_download_resumes_and_refreshes(run, api_env, sandbox):
    from runway_cli.sandbox import FaultRule

    sandbox.faults.add(
        FaultRule(action="cut", method="GET", path="/_sandbox/files/"),
        FaultRule(action="status", status=403, method="GET", path="/_sandbox/files/"),
    )
    r = run("generate", "a fox", "-o", "f.png", "-v", env=api_env)
    assert r.code == 0, r
    assert "download broke (" in r.stderr and "resuming at byte" in r.stderr
    assert "output URL refused (HTTP 403); fetching fresh URLs" in r.stderr
