"""Where runway-img keeps its files, and the API key: resolving, storing and removing it.

Key precedence: ``--api-key`` > ``RUNWAYML_API_SECRET`` > the stored key file
(``<user config dir>/runway-img/credentials.json``, mode 0600 in a 0700 directory).
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from runway_cli.errors import CredentialsError, UsageError
from runway_cli.validation import check_api_key

APP_NAME = "runway-img"
KEY_ENV = "RUNWAYML_API_SECRET"
BASE_URL_ENV = "RUNWAYML_BASE_URL"
DEFAULT_BASE_URL = "https://api.dev.runwayml.com"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass(frozen=True)
class ResolvedKey:
    key: str
    source: str  # "--api-key", "RUNWAYML_API_SECRET" or the key file's path


def mask_key(key: str) -> str:
    """Enough to recognise a key, never enough to use it."""
    if len(key) <= 12:
        return "*" * len(key)
    return f"{key[:4]}…{key[-4:]}"


def ensure_private(path: Path, mode: int) -> bool:
    """Tighten ``path`` to ``mode`` if group/other can access it. Returns True if it changed."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(mode)
        return True
    return False


def read_stored_key() -> tuple[str | None, list[str]]:
    """The stored key (or None) and warnings about permissions we had to fix."""
    path = credentials_path()
    warnings: list[str] = []
    if not path.exists():
        return None, warnings
    if ensure_private(path.parent, 0o700):
        warnings.append(f"{path.parent} was readable by other users; changed it to 0700.")
    if ensure_private(path, 0o600):
        warnings.append(f"{path} was readable by other users; changed it to 0600.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(
            f"Cannot read the stored key at {path}: {exc.__class__.__name__}.",
            hint="Run: runway-img auth login",
        ) from None
    key = data.get("api_key") if isinstance(data, dict) else None
    if not isinstance(key, str) or not key:
        raise CredentialsError(
            f"The key file {path} has no api_key.", hint="Run: runway-img auth login"
        )
    return key, warnings


def resolve_key(flag_value: str | None) -> tuple[ResolvedKey, list[str]]:
    if flag_value is not None:
        return ResolvedKey(check_api_key(flag_value, "--api-key"), "--api-key"), []
    env_value = os.environ.get(KEY_ENV)
    if env_value:
        return ResolvedKey(check_api_key(env_value, KEY_ENV), KEY_ENV), []
    stored, warnings = read_stored_key()
    if stored is not None:
        path = str(credentials_path())
        return ResolvedKey(check_api_key(stored, path), path), warnings
    raise CredentialsError(
        "No Runway API key found.",
        hint=(
            f"Run `runway-img auth login`, or set {KEY_ENV}, or pass --api-key. "
            "To try generate, status or download without a key, add --sandbox."
        ),
    )


def store_key(key: str) -> Path:
    """Write the key atomically to the credentials file with mode 0600 in a 0700 directory."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    ensure_private(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"api_key": key}, fh)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def delete_key() -> Path | None:
    path = credentials_path()
    if path.exists():
        path.unlink()
        return path
    return None


def env_key_set() -> bool:
    return bool(os.environ.get(KEY_ENV))


def positive_seconds_env(name: str) -> float | None:
    """A positive, finite number of seconds from the environment; None when unset."""
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive number of seconds, not {raw!r}.")
    return value


def resolve_base_url(flag_value: str | None) -> str:
    return flag_value or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
