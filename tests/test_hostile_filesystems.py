"""Odd filesystems give one clear line: a key file of another user or not a file at all, a
folder where a file should be (and a file where a folder should be), unreadable files, a name
that is not UTF-8, a read-only current folder, a sandbox state in a folder that does not exist.
Each is one ``error:`` line and its documented exit code, nothing is created or billed, and
nothing but the key file is ever chmod-ed.

Wrong owners and unreadable files need another user: the CLI runs as ``nobody`` (CI runs as
root, so these run there)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KEY
from tests.helpers import (
    CREATE,
    SOME_TASK_ID,
    assert_refused,
    error_line,
    files_in,
    history,
    state_files,
    task_id_from,
)
from tests.hostile_support import NOBODY, as_root, error_lines, nobody_home, quick_sandbox, shell

sandbox = quick_sandbox  # tasks that end at once: these tests are about what surrounds them


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- the key file ------------------------------------------------------------------------------


@as_root
def test_a_key_file_of_another_user_is_refused_never_read_or_chmodded(env, sandbox):
    with nobody_home(env) as (root, nobody_env):
        folder = root / "config" / "runway-img"
        folder.mkdir(mode=0o700)
        os.chown(folder, NOBODY, NOBODY)
        key_file = folder / "credentials.json"
        key_file.write_text(json.dumps({"api_key": KEY}))
        key_file.chmod(0o644)  # root's, readable: it must still not be used
        nobody_env = {**nobody_env, "RUNWAYML_BASE_URL": sandbox.base_url}
        r = shell('$RW generate "a fox" -o fox.png', env=nobody_env, cwd=root / "work", nobody=True)
        assert r.code == 3, r
        [line] = error_lines(r.stderr)
        assert "belongs to another user (uid 0)" in line, r
        assert sandbox.requests == []
        assert _mode(key_file) == 0o644 and key_file.stat().st_uid == 0
        assert json.loads(key_file.read_text()) == {"api_key": KEY}
        assert files_in(folder) == ["credentials.json"]  # no temporary file left


@as_root
def test_auth_login_never_replaces_or_chmods_a_key_file_of_another_user(cli, env, home):
    # The same check as above from the other side (root running into nobody's file), so
    # in-process: the process-level part, a CLI that really is another user, is shown above.
    folder = home / "config" / "runway-img"
    folder.mkdir(mode=0o700)
    key_file = folder / "credentials.json"
    key_file.write_text(json.dumps({"api_key": KEY}))
    key_file.chmod(0o644)
    os.chown(key_file, NOBODY, NOBODY)
    r = cli("auth", "login", "--no-verify", env=env, input="key_new\n")
    assert r.code == 3, r
    assert f"belongs to another user (uid {NOBODY})" in error_line(r.stderr)
    assert _mode(key_file) == 0o644 and key_file.stat().st_uid == NOBODY
    assert json.loads(key_file.read_text()) == {"api_key": KEY}
    assert files_in(folder) == ["credentials.json"]  # no temporary file left


@pytest.mark.parametrize("command", ["generate", "auth-login", "auth-status"])
def test_a_folder_where_the_key_file_should_be(cli, env, home, sandbox, command):
    folder = home / "config" / "runway-img" / "credentials.json"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    run_env = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    if command == "generate":
        r = cli("generate", "a fox", env=run_env)
    elif command == "auth-login":
        r = cli("auth", "login", "--no-verify", env=run_env, input=KEY + "\n")
    else:
        r = cli("auth", "status", "--json", env=run_env)
        assert json.loads(r.stdout)["error"]["exitCode"] == 3, r
    assert r.code == 3, r
    assert "not a regular file" in error_line(r.stderr)
    assert folder.is_dir() and _mode(folder) == 0o755  # never chmod-ed, never replaced
    assert sandbox.requests == []


def test_a_symlinked_key_file_pointing_elsewhere_is_not_chmodded(cli, env, home, sandbox):
    notes = home / "notes.txt"
    notes.write_text("not a key file\n")
    notes.chmod(0o644)
    folder = home / "config" / "runway-img"
    folder.mkdir(mode=0o700)
    (folder / "credentials.json").symlink_to(notes)
    r = cli("generate", "a fox", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url})
    assert r.code == 3, r
    error_line(r.stderr)
    assert _mode(notes) == 0o644  # a file that is not a key file keeps its mode
    assert sandbox.requests == []


def test_a_shared_config_folder_is_not_chmodded(cli, env, home):
    shared = home / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: others use it too
    r = cli(
        "auth",
        "login",
        "--no-verify",
        env={**env, "RUNWAY_IMG_CONFIG_DIR": str(shared)},
        input=KEY + "\n",
    )
    assert r.code == 0, r
    assert _mode(shared) == 0o1777
    assert _mode(shared / "credentials.json") == 0o600


# -- folders and files in the wrong places -----------------------------------------------------


def test_a_file_where_the_config_folder_should_be(cli, env, api_env, home):
    (home / "config" / "runway-img").write_text("a file, not a folder\n")
    login = cli("auth", "login", "--no-verify", env=env, input=KEY + "\n")
    assert login.code == 3, login
    assert "is not a folder" in error_line(login.stderr)
    setting = cli("config", "set", "model", "gen4_image", env=env)
    assert setting.code == 2, setting
    line = error_line(setting.stderr)
    assert "runway-img is a file, not a folder" in line and "Move that file away" in line
    made = cli("generate", "a fox", "--no-wait", env=api_env)  # nothing it needs is there
    assert made.code == 0, made
    assert (home / "config" / "runway-img").read_text() == "a file, not a folder\n"


def test_a_file_further_up_the_config_folder_is_named(cli, env, home):
    (home / "afile").write_text("x")
    deep = {**env, "RUNWAY_IMG_CONFIG_DIR": str(home / "afile" / "sub")}
    r = cli("config", "set", "model", "gen4_image", env=deep)
    assert r.code == 2, r
    assert f"{home / 'afile'} is a file, not a folder" in error_line(r.stderr)


def test_a_folder_where_config_json_should_be(cli, api_env, home, sandbox):
    (home / "config" / "runway-img" / "config.json").mkdir(parents=True)
    r = cli("generate", "a fox", env=api_env)
    assert r.code == 2, r
    line = error_line(r.stderr)
    assert "config.json: it is a folder" in line and "RUNWAY_IMG_CONFIG_DIR" in line
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("what", "needle"),
    [
        ("not-utf8", "is not valid UTF-8 JSON"),
        ("dev-zero", "not a regular file"),
        ("fifo", "not a regular file"),
        ("huge", "is over 1,048,576 bytes"),
    ],
)
def test_a_config_file_that_cannot_be_one_is_one_line(cli, api_env, home, sandbox, what, needle):
    path = home / "config" / "runway-img" / "config.json"
    path.parent.mkdir(parents=True)
    if what == "not-utf8":
        path.write_bytes(b'{"current": "\xff\xfe"}')
    elif what == "dev-zero":
        path.symlink_to("/dev/zero")
    elif what == "fifo":
        os.mkfifo(path)  # nobody writes: reading it would hang every command
    else:
        with path.open("wb") as fh:
            fh.truncate(1 << 30)  # sparse: 1 GB of NULs
    for args in (("config", "list", "--json"), ("generate", "a fox", "--json")):
        r = cli(*args, env=api_env)
        assert r.code == 2, r
        assert needle in error_line(r.stderr)
        assert json.loads(r.stdout)["error"]["exitCode"] == 2
    assert sandbox.requests == []


@pytest.mark.parametrize("what", ["cache-folder-is-a-file", "state-file-is-a-folder"])
def test_the_sandbox_cache_in_the_wrong_shape(cli, env, home, what):
    cache = home / "cache" / "runway-img"
    if what == "cache-folder-is-a-file":
        cache.write_text("a file\n")
    else:
        (cache / "sandbox.sqlite3").mkdir(parents=True)
    r = cli("generate", "a fox", "--sandbox", env=env)
    assert r.code == 2, r
    assert "sandbox" in error_line(r.stderr)
    assert files_in(home / "work") == []


def test_a_folder_where_the_history_file_should_be(cli, api_env, sandbox, home, workdir):
    made = cli("generate", "a fox", "--no-wait", env=api_env)
    task_id = made.stdout.strip()
    path = home / "data" / "runway-img" / "history.jsonl"
    path.unlink()
    path.mkdir()

    listed = cli("history", env=api_env)
    assert listed.code == 2, listed
    assert "history" in error_line(listed.stderr)

    last = cli("download", "--last", env=api_env)
    assert last.code == 2, last
    error_line(last.stderr)

    by_id = cli("download", task_id, "-o", "by-id.png", env=api_env)  # a warning, not an error
    assert by_id.code == 0, by_id
    assert "Continuing without it" in by_id.stderr and "error:" not in by_id.stderr
    assert (workdir / "by-id.png").read_bytes() == sandbox.image_bytes(task_id, 0)

    again = cli("generate", "a second fox", "-q", "-o", "second.png", env=api_env)
    assert again.code == 0, again
    second_id = task_id_from(again.stderr)  # -q, yet the id is on stderr: the history lost it
    assert "Could not write the task history" in again.stderr
    assert (workdir / "second.png").read_bytes() == sandbox.image_bytes(second_id, 0)


# -- unreadable files, as another user ----------------------------------------------------------


@as_root
@pytest.mark.parametrize("what", ["prompt-file", "reference", "history"])
def test_a_file_only_root_can_read_is_one_line(env, sandbox, what):
    with nobody_home(env) as (root, nobody_env):
        secret = root / "secret"
        secret.write_bytes(b"a fox\n")
        secret.chmod(0o600)  # root's
        nobody_env = {**nobody_env, "RUNWAYML_BASE_URL": sandbox.base_url}
        nobody_env["RUNWAYML_API_SECRET"] = KEY
        if what == "history":
            nobody_env["RUNWAY_IMG_HISTORY"] = str(secret)
            script = "$RW history"
        elif what == "prompt-file":
            script = f"$RW generate --prompt-file {secret}"
        else:
            script = f'$RW generate "a fox" --ref {secret}'
        r = shell(script, env=nobody_env, cwd=root / "work", nobody=True)
        assert r.code == 2, r
        [line] = error_lines(r.stderr)
        assert str(secret) in line and "Permission denied" in line, line
        assert sandbox.requests == []
        assert secret.read_bytes() == b"a fox\n" and _mode(secret) == 0o600


@as_root
def test_a_read_only_current_folder_is_fine_when_nothing_is_saved(cli, env, sandbox):
    with nobody_home(env) as (root, nobody_env):
        readonly = root / "readonly"
        readonly.mkdir(mode=0o755)  # root's: nobody can enter it, not write in it
        nobody_env = {**nobody_env, "RUNWAYML_BASE_URL": sandbox.base_url}
        nobody_env["RUNWAYML_API_SECRET"] = KEY
        r = shell(
            '$RW generate "a fox" --dry-run 2>/dev/null | grep -c promptText; '
            'echo "dry=${PIPESTATUS[0]}"; '
            '$RW generate "a fox" --no-wait 2>/dev/null; echo "nowait=$?"; '
            '$RW generate "a fox"; echo "save=$?"',
            env=nobody_env,
            cwd=readonly,
            nobody=True,
        )
        out = r.stdout.splitlines()
        assert out[:2] == ["1", "dry=0"], r
        assert out[3:] == ["nowait=0", "save=2"], r
        [line] = error_lines(r.stderr)
        assert "is not writable" in line, r
        task_id = out[2]
        assert sandbox.count("POST", CREATE) == 1  # only the --no-wait one
        nobody_env["RUNWAY_IMG_HISTORY"] = str(root / "data" / "runway-img" / "history.jsonl")
        assert history(cli, nobody_env)[0]["id"] == task_id
        assert files_in(readonly) == []


def test_a_dry_run_in_a_read_only_folder_checks_nothing_there(cli, env, workdir):
    # Root ignores folder permissions, so the dry run is shown with the folder made read-only
    # for everyone; it must not even look.
    workdir.chmod(0o555)
    try:
        r = cli("generate", "a fox", "--dry-run", env=env)
    finally:
        workdir.chmod(0o755)
    assert r.code == 0, r
    assert json.loads(r.stdout)["promptText"] == "a fox"


# -- names and paths ----------------------------------------------------------------------------


def test_a_non_utf8_byte_in_the_output_name_is_refused_before_the_create(api_env, sandbox, workdir):
    proc = subprocess.run(
        [sys.executable, "-m", "runway_cli", "generate", "a fox", "-o", b"fox\xff.png"],
        env=api_env,
        cwd=workdir,
        capture_output=True,
        timeout=30,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    [line] = error_lines(err)
    assert "not valid UTF-8" in line and "fox\\xff.png" in line, line
    assert sandbox.requests == []
    assert os.listdir(workdir) == []


def test_a_non_utf8_output_name_for_download_too(cli, api_env, sandbox):
    # how Python sees the byte b"\xff" in argv
    r = cli("download", SOME_TASK_ID, "-o", "fox\udcff.png", env=api_env)
    assert r.code == 2, r
    assert "not valid UTF-8" in error_line(r.stderr)
    assert sandbox.requests == []


@pytest.mark.parametrize("where", ["missing-folder", "a-folder", "not-sqlite"])
def test_sandbox_state_that_cannot_be_used_is_one_line(cli, env, home, where):
    base = home / "elsewhere"
    if where == "missing-folder":
        state = base / "missing" / "state.sqlite3"
    elif where == "a-folder":
        state = base / "state.sqlite3"
        state.mkdir(parents=True)
    else:
        state = base / "state.sqlite3"
        base.mkdir()
        state.write_bytes(b"this is not a database\n" * 100)
    r = cli("sandbox", "--port", "0", "--state", str(state), env=env)
    assert r.code == 2, r
    assert str(state.name) in error_line(r.stderr)
    assert r.stdout == ""  # never served
    if where == "missing-folder":
        assert not (base / "missing").exists()  # refused, not created
    assert state_files(home) == []


@pytest.mark.parametrize("shape", ["fifo", "link-to-fifo", "socket"])
def test_force_never_renames_an_image_over_something_that_is_not_a_file(
    cli, api_env, sandbox, home, workdir, shape
):
    # What -o /dev/null --force (or -o /dev/stdout) would do as root: replace a device.
    # A FIFO and a socket stand in for it here, safely.
    target = workdir / "out.png"
    if shape == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(target))
        sock.close()
    else:
        os.mkfifo(workdir / "pipe" if shape == "link-to-fifo" else target)
        if shape == "link-to-fifo":
            target.symlink_to(workdir / "pipe")
    before = sorted(os.listdir(workdir))
    for force in ([], ["--force"]):
        r = cli("generate", "a fox", "-o", "out.png", *force, env=api_env)
        assert_refused(r, sandbox, home, "is not a regular file")
        assert "--force" not in error_line(r.stderr)  # a hint that would work
    assert sorted(os.listdir(workdir)) == before
    assert not stat.S_ISREG(os.lstat(target).st_mode)
