"""Reference images, output templates and --dry-run, end to end over real HTTP."""

from __future__ import annotations

import json
import re

import pytest

from runway_cli.sandbox import FaultRule
from runway_cli.sandbox.images import make_png

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def small(workdir):
    (workdir / "small.png").write_bytes(make_png("small", 64, 64))
    return "small.png"


@pytest.fixture
def big(workdir):
    # about 6 MB: its data: URI would pass the API's 5 MiB limit, so it must be uploaded
    data = make_png("big", 2048, 2048)
    assert len(data) * 4 / 3 > 5 * 1024 * 1024
    (workdir / "big.png").write_bytes(data)
    return "big.png"


def _create(sandbox):
    creates = [e for e in sandbox.requests if e["path"] == "/v1/text_to_image"]
    assert len(creates) == 1
    return creates[0]["json"]


def test_small_file_is_inlined_and_url_passes_through(run, api_env, sandbox, small):
    r = run(
        "generate",
        "@hero by the sea",
        "--ref",
        f"hero={small}",
        "--ref",
        "https://example.com/cliff.jpg",
        "-o",
        "o.png",
        env=api_env,
    )
    assert r.code == 0, r
    refs = _create(sandbox)["referenceImages"]
    assert refs[0]["tag"] == "hero" and refs[0]["uri"].startswith("data:image/png;base64,iVBOR")
    assert refs[1] == {"uri": "https://example.com/cliff.jpg"}
    assert sandbox.count("POST", "/v1/uploads") == 0
    assert "warning" not in r.stderr


def test_large_file_is_uploaded_and_sent_as_runway_uri(run, api_env, sandbox, big):
    r = run("generate", "a cliff", "--ref", big, "-o", "o.png", env=api_env)
    assert r.code == 0, r
    assert sandbox.count("POST", "/v1/uploads") == 1
    assert sandbox.count("POST", "/_sandbox/uploads/") == 1
    uri = _create(sandbox)["referenceImages"][0]["uri"]
    assert re.fullmatch(r"runway://sandbox/uploads/" + UUID, uri)
    assert "Uploading big.png (6." in r.stderr


def test_upload_storage_failure_is_retried(run, api_env, sandbox, big):
    sandbox.faults.add(
        FaultRule(action="status", status=503, method="POST", path="/_sandbox/uploads/")
    )
    r = run("generate", "a cliff", "--ref", big, "-o", "o.png", env=api_env)
    assert r.code == 0, r
    assert sandbox.count("POST", "/_sandbox/uploads/") == 2
    assert sandbox.count("POST", "/v1/uploads") == 1  # the upload slot itself is not re-created


def test_unknown_runway_uri_is_refused_by_the_server(run, api_env, sandbox):
    r = run("generate", "a cliff", "--ref", "runway://sandbox/uploads/nope", env=api_env)
    assert r.code == 2, r
    assert "Unknown or expired runway:// upload URI" in r.stderr
    assert "referenceImages.0.uri" in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--ref", "missing.png"], "does not exist"),
        (["--ref", "notes.txt"], "is not a PNG, JPEG or WebP image"),
        (["--ref", "http://example.com/a.png"], "only fetches https://"),
        (
            ["--ref", "Bad=small.png"],
            "Invalid reference tag 'Bad'",
        ),  # tag-shaped (and not an existing file), so checked as a tag
        (["--ref", "ab=small.png"], "Invalid reference tag 'ab'"),
        (["--ref", "x=small.png", "--ref", "x=small.png"], "Invalid reference tag"),
        (["--ref", "hero=small.png", "--ref", "hero=small.png"], "repeated: hero"),
    ],
)
def test_bad_references_are_refused_locally(run, api_env, sandbox, small, workdir, args, needle):
    (workdir / "notes.txt").write_text("hello")
    r = run("generate", "a cliff", *args, env=api_env)
    assert r.code == 2, r
    assert needle in r.stderr
    assert sandbox.requests == []


def test_turbo_needs_a_reference(run, api_env, sandbox):
    r = run("generate", "a cliff", "-m", "gen4_image_turbo", env=api_env)
    assert r.code == 2
    assert "gen4_image_turbo needs at least 1 reference image" in r.stderr
    assert sandbox.requests == []


def test_gemini_subject_limits(run, api_env, sandbox, small):
    six = [a for _ in range(6) for a in ("--ref", f"{small}@human")]
    r = run("generate", "a crowd", "-m", "gemini_image3_pro", *six, env=api_env)
    assert r.code == 2 and "at most 5 references marked @human" in r.stderr
    five = [a for _ in range(5) for a in ("--ref", f"{small}@human")]
    ok = run(
        "generate",
        "a crowd",
        "-m",
        "gemini_image3_pro",
        *five,
        "--ref",
        small,
        "--dry-run",
        env=api_env,
    )
    assert ok.code == 0, ok
    refs = json.loads(ok.stdout)["referenceImages"]
    assert [r.get("subject") for r in refs] == ["human"] * 5 + [None]


def test_undefined_prompt_tag_warns(run, api_env, small):
    r = run("generate", "@hero meets @villain", "--ref", f"hero={small}", "--dry-run", env=api_env)
    assert r.code == 0
    assert "warning: The prompt mentions @villain, but no --ref defines that tag." in r.stderr
    assert "@hero," not in r.stderr


# -- --dry-run ---------------------------------------------------------------------------------


def test_dry_run_sends_nothing_and_needs_no_key(run, env, sandbox, small, big):
    r = run(
        "generate",
        "a fox",
        "--ref",
        small,
        "--ref",
        big,
        "--seed",
        "42",
        "--public-figures",
        "low",
        "--dry-run",
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url},
    )
    assert r.code == 0, r
    body = json.loads(r.stdout)
    assert body["model"] == "gen4_image" and body["seed"] == 42
    assert body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert re.fullmatch(
        r"data:image/png;base64,\S{40}…\(\d+ chars\)", body["referenceImages"][0]["uri"]
    )
    assert body["referenceImages"][1]["uri"].startswith("runway://(upload of big.png, 6.")
    assert sandbox.requests == []
    assert "nothing was sent" in r.stderr


def test_param_types_are_checked(run, api_env, sandbox):
    ok = run(
        "generate",
        "x",
        "-m",
        "gpt_image_2",
        "-p",
        "quality=high",
        "-p",
        "background=auto",
        "--dry-run",
        env=api_env,
    )
    assert ok.code == 0, ok
    assert json.loads(ok.stdout)["quality"] == "high"
    bad = run("generate", "x", "-m", "seedream5_pro", "-p", "grounding=sometimes", env=api_env)
    assert bad.code == 2 and "grounding must be true or false" in bad.stderr
    core = run("generate", "x", "-p", "ratio=1:1", env=api_env)
    assert core.code == 2 and "Set ratio with --ratio" in core.stderr
    assert sandbox.requests == []


# -- output names ------------------------------------------------------------------------------


def test_several_outputs_get_numbered_names(run, api_env, workdir):
    r = run("generate", "cats", "-m", "gpt_image_2", "-n", "3", "-o", "cat.png", env=api_env)
    assert r.code == 0, r
    assert r.stdout.split() == ["cat-1.png", "cat-2.png", "cat-3.png"]
    assert all((workdir / f"cat-{n}.png").read_bytes().startswith(b"\x89PNG") for n in (1, 2, 3))


def test_template_fills_placeholders_and_makes_folders(run, api_env, workdir):
    r = run(
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


def test_template_with_seed_and_no_n(run, api_env, workdir):
    r = run(
        "generate",
        "cats",
        "-m",
        "gpt_image_2",
        "-n",
        "2",
        "--seed",
        "9",
        "-o",
        "s{seed}.{ext}",
        env=api_env,
    )
    # gpt_image_2 takes no seed: refused before anything is sent
    assert r.code == 2 and "does not take --seed" in r.stderr
    r = run("generate", "cats", "--seed", "9", "-o", "s{seed}-{model}.{ext}", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip() == "s9-gen4_image.png"


def test_plain_path_never_creates_folders(run, api_env, sandbox, workdir):
    r = run("generate", "cats", "-o", "nowhere/cat.png", env=api_env)
    assert r.code == 2 and "does not exist" in r.stderr
    assert not (workdir / "nowhere").exists()
    assert sandbox.requests == []


def test_unknown_placeholder_is_refused(run, api_env, sandbox):
    r = run("generate", "cats", "-o", "{name}.png", env=api_env)
    assert r.code == 2 and "Unknown placeholder" in r.stderr
    assert sandbox.requests == []


def test_extension_from_bytes_and_mismatch_warning(run, api_env, workdir):
    r = run("generate", "x", "-m", "seedream5_pro", "--format", "jpeg", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip().endswith(".jpg")  # default name: extension from the bytes served
    w = run(
        "generate", "x", "-m", "seedream5_pro", "--format", "jpeg", "-o", "pic.png", env=api_env
    )
    assert w.code == 0, w
    assert w.stdout.strip() == "pic.png"
    assert w.stderr.count("ends in .png; keeping your file name") == 1
    assert (workdir / "pic.png").read_bytes().startswith(b"\xff\xd8\xff")


def test_vector_model_saves_svg(run, api_env, workdir):
    r = run("generate", "a logo", "-m", "recraft_v4_1_vector", env=api_env)
    assert r.code == 0, r
    assert r.stdout.strip().endswith(".svg")
    assert (workdir / r.stdout.strip()).read_bytes().startswith(b"<svg")
