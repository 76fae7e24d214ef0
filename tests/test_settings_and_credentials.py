"""Settings read once (flags > environment > defaults, bad values refused) and the API key:
resolution, atomic private storage, permissions, masking."""

from __future__ import annotations

import json
import os
import stat
import string
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runway_cli import credentials
from runway_cli.api.retry import RetryPolicy
from runway_cli.errors import CredentialsError, UsageError
from runway_cli.polling import PollSchedule
from runway_cli.settings import (
    BASE_URL_ENV,
    CONFIG_DIR_ENV,
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_SANDBOX_SECONDS,
    HISTORY_ENV,
    HTTP_TIMEOUT_ENV,
    KEY_ENV,
    POLL_INTERVAL_ENV,
    PROFILE_ENV,
    RETRY_BACKOFF_ENV,
    SANDBOX_ENV,
    SANDBOX_SECONDS_ENV,
    Paths,
    Settings,
    positive_seconds,
    truthy,
)
from runway_cli.wire import DEFAULT_BASE_URL

FLAG_KEY = "key_flag_0123456789abcdef"
ENV_KEY = "key_env_0123456789abcdef"
STORED_KEY = "key_stored_0123456789abcdef"
running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0


def resolve(env: dict[str, str] | None = None, **flags) -> Settings:
    return Settings.resolve(environ=env or {}, **flags)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- Settings.resolve ----------------------------------------------------------------------


def test_defaults() -> None:
    s = resolve()
    assert s.base_url == DEFAULT_BASE_URL and s.base_url_flag is None
    assert s.api_key_flag is None and s.api_key_env is None
    assert s.sandbox is False
    assert s.sandbox_task_seconds == DEFAULT_SANDBOX_SECONDS
    assert s.http_timeout == DEFAULT_HTTP_TIMEOUT
    assert s.poll == PollSchedule() and s.retry == RetryPolicy()


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (None, None, DEFAULT_BASE_URL),
        (None, "https://env.example", "https://env.example"),
        ("https://flag.example", "https://env.example", "https://flag.example"),
        ("https://flag.example", None, "https://flag.example"),
        (None, "", DEFAULT_BASE_URL),  # an empty variable counts as unset
    ],
)
def test_base_url_flag_beats_env_beats_default(flag, env, expected) -> None:
    s = resolve({BASE_URL_ENV: env} if env is not None else {}, base_url=flag)
    assert s.base_url == expected
    assert s.base_url_flag == flag  # remembered, so a resume command can repeat it


def test_key_flag_and_env_are_both_kept() -> None:
    s = resolve({KEY_ENV: ENV_KEY}, api_key=FLAG_KEY)
    assert (s.api_key_flag, s.api_key_env) == (FLAG_KEY, ENV_KEY)
    assert resolve({KEY_ENV: ""}).api_key_env is None


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (False, None, False),
        (True, None, True),
        (False, "1", True),
        (False, "yes", True),
        (False, " On ", True),
        (False, "0", False),
        (False, "", False),
        (True, "0", True),  # the flag wins
    ],
)
def test_sandbox_flag_or_env(flag, env, expected) -> None:
    s = resolve({SANDBOX_ENV: env} if env is not None else {}, sandbox=flag)
    assert s.sandbox is expected


def test_numbers_from_the_environment() -> None:
    s = resolve(
        {
            POLL_INTERVAL_ENV: "0.25",
            RETRY_BACKOFF_ENV: "0.5",
            HTTP_TIMEOUT_ENV: "12",
            SANDBOX_SECONDS_ENV: "3.5",
        }
    )
    assert list(islice(s.poll.delays(), 4)) == [0.25] * 4
    assert s.retry.backoff == 0.5
    assert s.http_timeout == 12.0
    assert s.sandbox_task_seconds == 3.5


@pytest.mark.parametrize(
    "name", [POLL_INTERVAL_ENV, RETRY_BACKOFF_ENV, HTTP_TIMEOUT_ENV, SANDBOX_SECONDS_ENV]
)
@pytest.mark.parametrize(
    "raw", ["0", "-1", "-0.5", "abc", "nan", "inf", "Infinity", "-inf", "1s", "--", " "]
)
def test_bad_numbers_are_a_usage_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(UsageError, match=name) as info:
        resolve({name: raw})
    assert repr(raw) in info.value.message


def test_reads_os_environ_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "https://from-os.example")
    assert Settings.resolve().base_url == "https://from-os.example"


@pytest.mark.parametrize(("raw", "value"), [(None, None), ("", None), ("2", 2.0), ("1e-3", 0.001)])
def test_positive_seconds(raw: str | None, value: float | None) -> None:
    env = {} if raw is None else {"X": raw}
    assert positive_seconds(env, "X") == value


@pytest.mark.parametrize(("raw", "value"), [(None, False), ("TRUE", True), ("nope", False)])
def test_truthy(raw: str | None, value: bool) -> None:
    assert truthy(raw) is value


# --- Paths ------------------------------------------------------------------------------------


def test_paths_follow_the_platform_dirs(home: Path) -> None:
    paths = Paths.resolve({})
    assert paths.config_dir == home / "config" / "runway-img"
    assert paths.credentials == paths.config_dir / "credentials.json"
    assert paths.history == home / "data" / "runway-img" / "history.jsonl"
    assert paths.sandbox_state == home / "cache" / "runway-img" / "sandbox.sqlite3"


def test_config_dir_override(tmp_path: Path) -> None:
    paths = resolve({CONFIG_DIR_ENV: str(tmp_path / "cfg")}).paths
    assert paths.config_dir == tmp_path / "cfg"
    assert paths.credentials == tmp_path / "cfg" / "credentials.json"


def test_config_dir_and_history_expand_the_home_folder(home: Path) -> None:
    paths = Paths.resolve({CONFIG_DIR_ENV: "~/cfg", HISTORY_ENV: "~/h.jsonl"})
    assert paths.config_dir == home / "cfg"
    assert paths.history == home / "h.jsonl"


# --- resolve_key --------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "cfg"


@pytest.fixture
def key_file(config_dir: Path) -> Path:
    return config_dir / "credentials.json"


def settings_for(config_dir: Path, *, flag: str | None = None, env: str | None = None) -> Settings:
    environ = {CONFIG_DIR_ENV: str(config_dir)}
    if env is not None:
        environ[KEY_ENV] = env
    return Settings.resolve(api_key=flag, environ=environ)


def test_flag_beats_env_and_file(config_dir: Path, key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    resolved, warnings = credentials.resolve_key(
        settings_for(config_dir, flag=FLAG_KEY, env=ENV_KEY)
    )
    assert resolved == credentials.ResolvedKey(FLAG_KEY, "--api-key")
    assert warnings == []


def test_env_beats_file(config_dir: Path, key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    resolved, _ = credentials.resolve_key(settings_for(config_dir, env=ENV_KEY))
    assert resolved == credentials.ResolvedKey(ENV_KEY, KEY_ENV)


def test_file_used_when_nothing_else(config_dir: Path, key_file: Path) -> None:
    path = credentials.store_key(key_file, STORED_KEY)
    resolved, warnings = credentials.resolve_key(settings_for(config_dir))
    assert resolved == credentials.ResolvedKey(STORED_KEY, str(path), "default")
    assert warnings == []


def test_empty_env_falls_through_to_file(config_dir: Path, key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    assert credentials.resolve_key(settings_for(config_dir, env=""))[0].key == STORED_KEY


def test_flag_with_whitespace_is_refused_even_if_env_is_fine(config_dir: Path) -> None:
    with pytest.raises(CredentialsError, match="--api-key"):
        credentials.resolve_key(settings_for(config_dir, flag="key with spaces", env=ENV_KEY))


def test_env_with_newline_is_refused(config_dir: Path) -> None:
    with pytest.raises(CredentialsError, match=KEY_ENV):
        credentials.resolve_key(settings_for(config_dir, env=ENV_KEY + "\n"))


def test_stored_key_is_checked_too(key_file: Path, config_dir: Path) -> None:
    credentials.store_key(key_file, "key with space")
    with pytest.raises(CredentialsError, match=str(key_file)):
        credentials.resolve_key(settings_for(config_dir))


def test_missing_everywhere_raises_credentials_error(config_dir: Path) -> None:
    with pytest.raises(CredentialsError, match="No Runway API key") as info:
        credentials.resolve_key(settings_for(config_dir))
    hint = info.value.hint or ""
    assert "auth login" in hint and KEY_ENV in hint and "--api-key" in hint and "--sandbox" in hint


# --- store_key ----------------------------------------------------------------------------


def test_store_key_writes_0600_file_in_0700_dir(key_file: Path) -> None:
    path = credentials.store_key(key_file, STORED_KEY)
    assert path == key_file
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "profiles": {"default": {"api_key": STORED_KEY}}
    }


def test_store_key_tightens_an_existing_open_dir(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True)
    key_file.parent.chmod(0o755)
    credentials.store_key(key_file, STORED_KEY)
    assert mode(key_file.parent) == 0o700


def test_store_key_replaces_previous_key_and_leaves_no_temp_files(key_file: Path) -> None:
    credentials.store_key(key_file, "key_old_0123456789")
    credentials.store_key(key_file, STORED_KEY)
    assert credentials.read_stored_key(key_file) == (STORED_KEY, [])
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]
    assert mode(key_file) == 0o600


def test_store_key_replaces_an_open_file_with_a_private_one(key_file: Path) -> None:
    credentials.store_key(key_file, "key_old_0123456789")
    key_file.chmod(0o644)
    credentials.store_key(key_file, STORED_KEY)
    assert mode(key_file) == 0o600


def test_store_key_where_the_folder_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "cfg").write_text("a file")
    with pytest.raises(CredentialsError, match="is not a folder") as info:
        credentials.store_key(tmp_path / "cfg" / "credentials.json", STORED_KEY)
    assert CONFIG_DIR_ENV in (info.value.hint or "")


def test_store_key_over_a_folder_is_refused(key_file: Path) -> None:
    key_file.mkdir(parents=True)
    with pytest.raises(CredentialsError, match="not a regular file"):
        credentials.store_key(key_file, STORED_KEY)


# --- read_stored_key ----------------------------------------------------------------------


def test_read_stored_key_none_when_missing(key_file: Path) -> None:
    assert credentials.read_stored_key(key_file) == (None, [])


def test_read_stored_key_tightens_looser_perms_and_warns(key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    key_file.chmod(0o644)
    key_file.parent.chmod(0o755)
    key, warnings = credentials.read_stored_key(key_file)
    assert key == STORED_KEY
    assert len(warnings) == 2
    assert any("0700" in w and str(key_file.parent) in w for w in warnings)
    assert any("0600" in w and str(key_file) in w for w in warnings)
    assert mode(key_file) == 0o600 and mode(key_file.parent) == 0o700


def test_read_stored_key_warnings_reach_resolve_key(key_file: Path, config_dir: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    key_file.chmod(0o640)
    resolved, warnings = credentials.resolve_key(settings_for(config_dir))
    assert resolved.key == STORED_KEY
    assert len(warnings) == 1 and "0600" in warnings[0]


@pytest.mark.parametrize("content", ["{not json", '["key"]', '{"api_key": ""}', '{"other": 1}'])
def test_read_stored_key_unusable_file(key_file: Path, content: str) -> None:
    credentials.store_key(key_file, STORED_KEY)
    key_file.write_text(content, encoding="utf-8")
    with pytest.raises(CredentialsError) as info:
        credentials.read_stored_key(key_file)
    assert str(key_file) in info.value.message
    assert "auth login" in (info.value.hint or "")


def test_read_stored_key_that_is_a_folder(key_file: Path) -> None:
    key_file.mkdir(parents=True)
    with pytest.raises(CredentialsError, match="not a regular file"):
        credentials.read_stored_key(key_file)


def test_read_stored_key_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "cfg").write_text("a file")
    with pytest.raises(CredentialsError, match="is not a folder"):
        credentials.read_stored_key(tmp_path / "cfg" / "credentials.json")


@pytest.mark.skipif(not running_as_root, reason="needs to create a file owned by someone else")
def test_read_stored_key_of_another_user_is_not_used(key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    os.chown(key_file, 12345, 12345)
    with pytest.raises(CredentialsError, match="belongs to another user") as info:
        credentials.read_stored_key(key_file)
    assert "uid 12345" in info.value.message


# --- profiles ------------------------------------------------------------------------------


def test_keys_are_stored_per_profile(key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    credentials.store_key(key_file, ENV_KEY, "work")
    assert credentials.read_keys(key_file) == ({"default": STORED_KEY, "work": ENV_KEY}, [])
    assert credentials.read_stored_key(key_file, "work") == (ENV_KEY, [])
    assert credentials.read_stored_key(key_file, "other") == (None, [])


def test_a_key_file_from_before_profiles_is_the_default_profiles(key_file: Path) -> None:
    key_file.parent.mkdir(mode=0o700)
    key_file.write_text(json.dumps({"api_key": STORED_KEY}))
    key_file.chmod(0o600)
    assert credentials.read_keys(key_file) == ({"default": STORED_KEY}, [])
    credentials.store_key(key_file, ENV_KEY, "work")  # rewritten in the new shape
    assert json.loads(key_file.read_text()) == {
        "profiles": {"default": {"api_key": STORED_KEY}, "work": {"api_key": ENV_KEY}}
    }


def profile_settings(config_dir: Path, *, flag=None, env_profile=None, env_key=None, current=None):
    if current is not None:
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "config.json").write_text(json.dumps({"current": current, "profiles": {}}))
    environ = {CONFIG_DIR_ENV: str(config_dir)}
    if env_profile is not None:
        environ[PROFILE_ENV] = env_profile
    if env_key is not None:
        environ[KEY_ENV] = env_key
    return Settings.resolve(profile=flag, environ=environ)


@pytest.fixture
def three_keys(key_file: Path) -> Path:
    for name, key in (
        ("default", "key_default_0123456789"),
        ("a", "key_a_0123456789ab"),
        ("b", "key_b_0123456789ab"),
    ):
        credentials.store_key(key_file, key, name)
    return key_file


@pytest.mark.parametrize(
    ("choice", "key", "source"),
    [
        ({}, "key_default_0123456789", "{path}"),
        ({"current": "b"}, "key_b_0123456789ab", "{path} (b)"),
        ({"env_profile": "a", "current": "b"}, "key_a_0123456789ab", "RUNWAY_IMG_PROFILE a"),
        ({"env_key": ENV_KEY, "env_profile": "a"}, ENV_KEY, KEY_ENV),  # the variable's key wins
        ({"flag": "b", "env_key": ENV_KEY}, "key_b_0123456789ab", "--profile b"),  # --profile wins
    ],
)
def test_key_precedence_with_profiles(config_dir, three_keys, choice, key, source) -> None:
    resolved, _ = credentials.resolve_key(profile_settings(config_dir, **choice))
    assert resolved.key == key
    assert resolved.source == source.format(path=three_keys)


@pytest.mark.parametrize(
    ("choice", "needle"),
    [
        ({"flag": "nope"}, "No key stored for profile 'nope' \\(chosen by --profile\\)"),
        ({"env_profile": "nope"}, "chosen by RUNWAY_IMG_PROFILE"),
        ({"current": "nope"}, "No key stored for the current profile 'nope'"),
    ],
)
def test_a_profile_without_a_key(config_dir, three_keys, choice, needle) -> None:
    with pytest.raises(CredentialsError, match=needle):
        credentials.resolve_key(profile_settings(config_dir, **choice))


@pytest.mark.parametrize(
    ("choice", "active", "source"),
    [
        ({}, "default", "default"),
        ({"current": "b"}, "b", "auth use"),
        ({"env_profile": "a", "current": "b"}, "a", PROFILE_ENV),
        ({"flag": "c", "env_profile": "a"}, "c", "--profile"),
    ],
)
def test_profile_choice(config_dir, choice, active, source) -> None:
    chosen = profile_settings(config_dir, **choice).profile
    assert (chosen.active, chosen.source) == (active, source)


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "../up"])
def test_bad_profile_names_are_refused(config_dir, name) -> None:
    with pytest.raises(UsageError, match="Invalid profile name"):
        profile_settings(config_dir, flag=name)


def test_base_url_precedence_with_profiles(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps(
            {
                "current": "cur",
                "profiles": {
                    "cur": {"base-url": "https://current.example"},
                    "env": {"base-url": "https://envprofile.example"},
                    "flag": {"base-url": "https://flagprofile.example"},
                },
            }
        )
    )
    env = {CONFIG_DIR_ENV: str(config_dir)}
    assert Settings.resolve(environ=env).base_url == "https://current.example"
    env[PROFILE_ENV] = "env"
    assert Settings.resolve(environ=env).base_url == "https://envprofile.example"
    env[BASE_URL_ENV] = "https://variable.example"
    assert Settings.resolve(environ=env).base_url == "https://variable.example"
    assert Settings.resolve(profile="flag", environ=env).base_url == "https://flagprofile.example"
    assert (
        Settings.resolve(profile="flag", base_url="https://f.example", environ=env).base_url
        == "https://f.example"
    )


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "is not valid UTF-8 JSON"),
        ("[1]", "does not hold a JSON object"),
        ('{"profiles": 3}', "unexpected shape"),
    ],
)
def test_a_broken_config_file_is_a_usage_error(config_dir: Path, content: str, needle: str) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text(content)
    with pytest.raises(UsageError, match=needle):
        Settings.resolve(environ={CONFIG_DIR_ENV: str(config_dir)})


def test_profile_defaults_keep_only_known_settings(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps({"profiles": {"default": {"model": "gpt_image_2", "colour": "red", "ratio": 5}}})
    )
    defaults = Settings.resolve(environ={CONFIG_DIR_ENV: str(config_dir)}).defaults
    assert defaults.values == {"model": "gpt_image_2"}
    assert defaults.get("model") == "gpt_image_2" and defaults.get("ratio") is None


@pytest.mark.parametrize("name", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_from_the_environment(name: str) -> None:
    assert resolve({name: "/etc/ca.pem"}).ca_bundle == "/etc/ca.pem"
    assert resolve().ca_bundle is None


# --- delete_key ---------------------------------------------------------------------------


def test_delete_key_removes_file_then_reports_nothing(key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    assert credentials.delete_key(key_file) is True
    assert not key_file.exists()
    assert credentials.delete_key(key_file) is False
    assert credentials.read_stored_key(key_file) == (None, [])


def test_delete_one_profiles_key_keeps_the_others(key_file: Path) -> None:
    credentials.store_key(key_file, STORED_KEY)
    credentials.store_key(key_file, ENV_KEY, "work")
    assert credentials.delete_key(key_file, "work") is True
    assert credentials.read_keys(key_file) == ({"default": STORED_KEY}, [])
    assert mode(key_file) == 0o600
    assert credentials.delete_key(key_file, "work") is False


def test_delete_key_never_removes_a_folder(key_file: Path) -> None:
    key_file.mkdir(parents=True)
    with pytest.raises(CredentialsError, match="not a regular file"):
        credentials.delete_key(key_file)
    assert key_file.is_dir()


# --- mask_key -----------------------------------------------------------------------------


def visible(masked: str) -> str:
    return masked.replace("*", "").replace("\u2026", "")


def test_mask_key_real_key_shows_ends_only() -> None:
    key = "key_" + "0123456789abcdef" * 8
    assert credentials.mask_key(key) == "key_\u2026cdef"


@pytest.mark.parametrize(
    ("key", "masked"),
    [("", ""), ("abcdefg", "*******"), ("abcdefgh", "a\u2026h"), ("a" * 16, "aa\u2026aa")],
)
def test_mask_key_short_keys(key: str, masked: str) -> None:
    assert credentials.mask_key(key) == masked


@settings(deadline=None, database=None)
@given(st.text(string.ascii_letters + string.digits + "_-", max_size=200))
def test_mask_key_never_reveals_more_than_a_quarter_or_8_characters(key: str) -> None:
    shown = visible(credentials.mask_key(key))
    assert len(shown) <= min(8, len(key) // 4)
    if len(key) > 8:
        assert key not in credentials.mask_key(key)


# --- failures while storing, reading and removing keys -----------------------------------------


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_key_path_that_cannot_be_examined(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300) / "credentials.json"  # a name longer than allowed
    with pytest.raises(CredentialsError, match="Cannot read the stored key at"):
        credentials.read_stored_key(path)
    with pytest.raises(CredentialsError, match="Cannot store the key in"):
        credentials.store_key(path, STORED_KEY)


def test_a_failed_write_leaves_no_temporary_file(key_file: Path, monkeypatch) -> None:
    credentials.store_key(key_file, STORED_KEY)

    def fail(src, dst) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("runway_cli.credentials.os.replace", fail)
    with pytest.raises(CredentialsError, match="No space left on device"):
        credentials.store_key(key_file, ENV_KEY, "work")
    assert temp_files(key_file.parent) == []
    monkeypatch.undo()
    assert credentials.read_keys(key_file) == ({"default": STORED_KEY}, [])  # unchanged


def test_an_interrupted_write_leaves_no_temporary_file(key_file: Path, monkeypatch) -> None:
    def interrupted(*args, **kwargs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("runway_cli.credentials.json.dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        credentials.store_key(key_file, STORED_KEY)
    assert temp_files(key_file.parent) == [] and not key_file.exists()


def test_a_failed_delete_leaves_no_temporary_file(key_file: Path, monkeypatch) -> None:
    credentials.store_key(key_file, STORED_KEY)
    credentials.store_key(key_file, ENV_KEY, "work")

    def fail(src, dst) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("runway_cli.credentials.os.replace", fail)
    with pytest.raises(CredentialsError, match="Cannot update the key file"):
        credentials.delete_key(key_file, "work")
    assert temp_files(key_file.parent) == []


# --- the config file -------------------------------------------------------------------------------


def test_config_file_round_trip(config_dir: Path) -> None:
    from runway_cli.profiles import ConfigFile

    config = ConfigFile.load(config_dir / "config.json")
    assert (config.current, config.profiles) == (None, {})
    config.current = "work"
    config.profiles["work"] = {"model": "gpt_image_2", "base-url": "https://w.example"}
    config.save()
    again = ConfigFile.load(config_dir / "config.json")
    assert again.current == "work" and again.profile("work").get("model") == "gpt_image_2"
    assert mode(config_dir / "config.json") == 0o600
    assert temp_files(config_dir) == []


def test_config_file_that_cannot_be_read_or_written(tmp_path: Path) -> None:
    from runway_cli.profiles import ConfigFile

    folder = tmp_path / "config.json"
    folder.mkdir()
    with pytest.raises(UsageError, match="Cannot read"):
        ConfigFile.load(folder)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="Cannot write"):
        ConfigFile(tmp_path / "file" / "config.json").save()
