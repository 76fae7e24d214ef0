"""--ref: local files inlined or uploaded, URLs passed through, per-model rules on counts, tags
and subjects, all checked before the task is created."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runway_cli.sandbox import FaultRule
from tests.helpers import (
    UUID,
    assert_refused,
    create_body,
    megabytes,
    write_big_png,
    write_small_png,
)


@pytest.fixture
def small(workdir):
    return write_small_png(workdir)


@pytest.fixture
def big(workdir):
    return write_big_png(workdir)


def test_small_file_is_inlined_and_url_passes_through(cli, api_env, sandbox, small):
    r = cli(
        "generate",
        "@hero by the sea",
        "--ref",
        f"hero={small}",
        "--ref",
        "https://example.com/cliff.jpg",
        "--no-wait",
        env=api_env,
    )
    assert r.code == 0, r
    refs = create_body(sandbox)["referenceImages"]
    assert refs[0]["tag"] == "hero" and refs[0]["uri"].startswith("data:image/png;base64,iVBOR")
    assert refs[1] == {"uri": "https://example.com/cliff.jpg"}
    assert sandbox.count("POST", "/v1/uploads") == 0
    assert "warning" not in r.stderr


def test_large_file_is_uploaded_and_sent_as_runway_uri(cli, api_env, sandbox, big):
    r = cli("generate", "a cliff", "--ref", big, "-o", "o.png", env=api_env)
    assert r.code == 0, r
    assert sandbox.count("POST", "/v1/uploads") == 1
    assert sandbox.count("POST", "/_sandbox/uploads/") == 1
    uri = create_body(sandbox)["referenceImages"][0]["uri"]
    assert re.fullmatch(r"runway://sandbox/uploads/" + UUID, uri)
    assert f"Uploading big.png ({megabytes(Path(big))} MB)" in r.stderr
    assert r.stdout == "o.png\n"  # the task ran with the uploaded reference


def test_upload_name_comes_from_the_bytes(cli, api_env, sandbox, workdir):
    write_big_png(workdir, "bigfile")  # no extension, too big to inline
    r = cli("generate", "a fox", "--ref", "bigfile", "--no-wait", env=api_env)
    assert r.code == 0, r
    upload = next(e for e in sandbox.requests if e["path"] == "/v1/uploads")
    assert upload["json"] == {"filename": "bigfile.png", "type": "ephemeral"}


def test_upload_storage_failure_is_retried(cli, api_env, sandbox, big):
    sandbox.faults.add(
        FaultRule(action="status", status=503, method="POST", path="/_sandbox/uploads/")
    )
    r = cli("generate", "a cliff", "--ref", big, "--no-wait", env=api_env)
    assert r.code == 0, r
    assert sandbox.count("POST", "/_sandbox/uploads/") == 2
    assert sandbox.count("POST", "/v1/uploads") == 1  # the upload slot itself is not re-created
    assert create_body(sandbox)["referenceImages"][0]["uri"].startswith("runway://")


def test_unknown_runway_uri_is_refused_by_the_server(cli, api_env, sandbox):
    r = cli("generate", "a cliff", "--ref", "runway://sandbox/uploads/nope", env=api_env)
    assert r.code == 2, r
    assert "Unknown or expired runway:// upload URI" in r.stderr
    assert "referenceImages.0.uri" in r.stderr
    assert sandbox.count("POST", "/v1/text_to_image") == 1 and sandbox.count("GET", "/v1/") == 0


SIX_HUMANS = [a for _ in range(6) for a in ("--ref", "small.png@human")]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["--ref", "missing.png"], "does not exist", id="missing-file"),
        pytest.param(["--ref", "notes.txt"], "is not a PNG, JPEG or WebP image", id="not-image"),
        pytest.param(["--ref", "http://example.com/a.png"], "only fetches https://", id="http"),
        # tag-shaped (and not an existing file), so checked as a tag
        pytest.param(["--ref", "Bad=small.png"], "Invalid reference tag 'Bad'", id="tag-upper"),
        pytest.param(["--ref", "ab=small.png"], "Invalid reference tag 'ab'", id="tag-short"),
        pytest.param(
            ["--ref", "x=small.png", "--ref", "x=small.png"], "Invalid reference tag", id="tag-x"
        ),
        pytest.param(
            ["--ref", "hero=small.png", "--ref", "hero=small.png"], "repeated: hero", id="dup-tag"
        ),
        pytest.param(
            ["-m", "gen4_image_turbo"],
            "gen4_image_turbo needs at least 1 reference image",
            id="turbo-needs-one",
        ),
        pytest.param(
            ["-m", "gemini_image3_pro", *SIX_HUMANS],
            "at most 5 references marked @human",
            id="six-humans",
        ),
    ],
)
def test_bad_references_are_refused_locally(
    cli, home, api_env, sandbox, small, workdir, args, needle
):
    (workdir / "notes.txt").write_text("hello")
    r = cli("generate", "a cliff", *args, env=api_env)
    assert_refused(r, sandbox, home, needle)


def test_a_reference_without_a_subject_counts_as_object(cli, api_env, small):
    five = [a for _ in range(5) for a in ("--ref", f"{small}@human")]
    r = cli(
        "generate", "a crowd", "-m", "gemini_image3_pro", *five, "--ref", small, "--dry-run",
        env=api_env,
    )  # fmt: skip
    assert r.code == 0, r
    refs = json.loads(r.stdout)["referenceImages"]
    assert [ref.get("subject") for ref in refs] == ["human"] * 5 + [None]


def test_undefined_prompt_tag_warns(cli, api_env, small):
    r = cli("generate", "@hero meets @villain", "--ref", f"hero={small}", "--dry-run", env=api_env)
    assert r.code == 0, r
    assert "warning: The prompt mentions @villain, but no --ref defines that tag." in r.stderr
    assert "@hero," not in r.stderr


def test_tags_may_start_with_data(cli, api_env, small):
    r = cli("generate", "@database chart", "--ref", f"database={small}", "--dry-run", env=api_env)
    assert r.code == 0, r
    assert json.loads(r.stdout)["referenceImages"][0]["tag"] == "database"
