"""The API key: resolving it, storing it, removing it, and showing it masked.

Precedence: ``--api-key`` > ``RUNWAYML_API_SECRET`` > the stored key file
(``credentials.json`` in the config dir, mode 0600 in a 0700 directory, written atomically).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from runway_cli.errors import CredentialsError
from runway_cli.input_checks import check_api_key
from runway_cli.settings import KEY_ENV, Settings


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


def read_stored_key(path: Path) -> tuple[str | None, list[str]]:
    """The stored key (or None) and warnings about permissions we had to fix."""
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


def resolve_key(settings: Settings) -> tuple[ResolvedKey, list[str]]:
    if settings.api_key_flag is not None:
        return ResolvedKey(check_api_key(settings.api_key_flag, "--api-key"), "--api-key"), []
    if settings.api_key_env:
        return ResolvedKey(check_api_key(settings.api_key_env, KEY_ENV), KEY_ENV), []
    path = settings.paths.credentials
    stored, warnings = read_stored_key(path)
    if stored is not None:
        return ResolvedKey(check_api_key(stored, str(path)), str(path)), warnings
    raise CredentialsError(
        "No Runway API key found.",
        hint=(
            f"Run `runway-img auth login`, or set {KEY_ENV}, or pass --api-key. "
            "To try generate, status or download without a key, add --sandbox."
        ),
    )


def store_key(path: Path, key: str) -> Path:
    """Write the key atomically to ``path`` with mode 0600 in a 0700 directory."""
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


def delete_key(path: Path) -> Path | None:
    if path.exists():
        path.unlink()
        return path
    return None
