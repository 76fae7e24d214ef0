"""Unit tests for runway_cli.config: API key resolution, storage, permissions and masking."""

from __future__ import annotations

import json
import stat
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runway_cli import config
from runway_cli.errors import CredentialsError, UsageError

FLAG_KEY = "key_flag_0123456789abcdef"
ENV_KEY = "key_env_0123456789abcdef"
STORED_KEY = "key_stored_0123456789abcdef"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the config dir into tmp_path and clear the key env var."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(config.KEY_ENV, raising=False)
    folder = config.config_dir()
    # Guard: never touch the real user config.
    assert folder.is_relative_to(tmp_path)
    return folder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- resolve_key --------------------------------------------------------------------------


def test_flag_beats_env_and_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config.store_key(STORED_KEY)
    monkeypatch.setenv(config.KEY_ENV, ENV_KEY)
    resolved, warnings = config.resolve_key(FLAG_KEY)
    assert resolved == config.ResolvedKey(FLAG_KEY, "--api-key")
    assert warnings == []


def test_env_beats_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config.store_key(STORED_KEY)
    monkeypatch.setenv(config.KEY_ENV, ENV_KEY)
    resolved, _ = config.resolve_key(None)
    assert resolved == config.ResolvedKey(ENV_KEY, "RUNWAYML_API_SECRET")


def test_file_used_when_nothing_else() -> None:
    path = config.store_key(STORED_KEY)
    resolved, warnings = config.resolve_key(None)
    assert resolved.key == STORED_KEY
    assert resolved.source == str(path)
    assert warnings == []


def test_empty_env_falls_through_to_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config.store_key(STORED_KEY)
    monkeypatch.setenv(config.KEY_ENV, "")
    assert config.resolve_key(None)[0].key == STORED_KEY


def test_flag_with_whitespace_is_refused_even_if_env_is_fine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(config.KEY_ENV, ENV_KEY)
    with pytest.raises(UsageError, match="--api-key"):
        config.resolve_key("key with spaces")


def test_env_with_newline_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.KEY_ENV, ENV_KEY + "\n")
    with pytest.raises(UsageError, match="RUNWAYML_API_SECRET"):
        config.resolve_key(None)


def test_missing_everywhere_raises_credentials_error() -> None:
    with pytest.raises(CredentialsError, match="No Runway API key") as info:
        config.resolve_key(None)
    hint = info.value.hint
    assert hint is not None
    assert "auth login" in hint
    assert "RUNWAYML_API_SECRET" in hint
    assert "--api-key" in hint


# --- store_key ----------------------------------------------------------------------------


def test_store_key_writes_0600_file_in_0700_dir(isolated_config: Path) -> None:
    path = config.store_key(STORED_KEY)
    assert path == config.credentials_path()
    assert path.parent == isolated_config
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert json.loads(path.read_text(encoding="utf-8")) == {"api_key": STORED_KEY}


def test_store_key_tightens_an_existing_open_dir(isolated_config: Path) -> None:
    isolated_config.mkdir(parents=True)
    isolated_config.chmod(0o755)
    config.store_key(STORED_KEY)
    assert mode(isolated_config) == 0o700


def test_store_key_replaces_previous_key_and_leaves_no_temp_files(isolated_config: Path) -> None:
    config.store_key("key_old_0123456789")
    path = config.store_key(STORED_KEY)
    assert config.read_stored_key() == (STORED_KEY, [])
    assert sorted(p.name for p in isolated_config.iterdir()) == [path.name]
    assert mode(path) == 0o600


def test_store_key_replaces_an_open_file_with_a_private_one() -> None:
    path = config.store_key("key_old_0123456789")
    path.chmod(0o644)
    config.store_key(STORED_KEY)
    assert mode(path) == 0o600


# --- read_stored_key ----------------------------------------------------------------------


def test_read_stored_key_none_when_missing() -> None:
    assert config.read_stored_key() == (None, [])


def test_read_stored_key_tightens_looser_perms_and_warns() -> None:
    path = config.store_key(STORED_KEY)
    path.chmod(0o644)
    path.parent.chmod(0o755)
    key, warnings = config.read_stored_key()
    assert key == STORED_KEY
    assert len(warnings) == 2
    assert any("0700" in w and str(path.parent) in w for w in warnings)
    assert any("0600" in w and str(path) in w for w in warnings)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_read_stored_key_warnings_reach_resolve_key() -> None:
    path = config.store_key(STORED_KEY)
    path.chmod(0o640)
    resolved, warnings = config.resolve_key(None)
    assert resolved.key == STORED_KEY
    assert len(warnings) == 1
    assert "0600" in warnings[0]


def test_read_stored_key_private_perms_no_warning() -> None:
    config.store_key(STORED_KEY)
    assert config.read_stored_key() == (STORED_KEY, [])


@pytest.mark.parametrize("content", ["{not json", '["key"]', '{"api_key": ""}', '{"other": 1}'])
def test_read_stored_key_unusable_file(content: str) -> None:
    path = config.store_key(STORED_KEY)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CredentialsError) as info:
        config.read_stored_key()
    assert str(path) in info.value.message
    assert info.value.hint is not None
    assert "auth login" in info.value.hint


# --- mask_key -----------------------------------------------------------------------------


def visible(masked: str) -> str:
    return masked.replace("*", "").replace("\u2026", "")


def test_mask_key_long_key_shows_ends_only() -> None:
    key = "key_" + "0123456789abcdef" * 8
    masked = config.mask_key(key)
    assert masked == "key_\u2026cdef"
    assert len(visible(masked)) == 8


def test_mask_key_short_key_fully_hidden() -> None:
    assert config.mask_key("abcdefghijkl") == "*" * 12
    assert config.mask_key("") == ""


@settings(deadline=None, database=None)
@given(st.text(string.ascii_letters + string.digits + "_-", max_size=200))
def test_mask_key_never_reveals_more_than_8_characters(key: str) -> None:
    masked = config.mask_key(key)
    assert len(visible(masked)) <= 8
    if len(key) > 8:
        assert key not in masked


# --- delete_key ---------------------------------------------------------------------------


def test_delete_key_removes_file_then_reports_nothing() -> None:
    path = config.store_key(STORED_KEY)
    assert config.delete_key() == path
    assert not path.exists()
    assert config.delete_key() is None
    assert config.read_stored_key() == (None, [])


def test_delete_key_when_nothing_stored() -> None:
    assert config.delete_key() is None


# --- base URL -----------------------------------------------------------------------------


def test_resolve_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.BASE_URL_ENV, raising=False)
    assert config.resolve_base_url(None) == config.DEFAULT_BASE_URL
    monkeypatch.setenv(config.BASE_URL_ENV, "https://env.example")
    assert config.resolve_base_url(None) == "https://env.example"
    assert config.resolve_base_url("https://flag.example") == "https://flag.example"
