"""The API key: resolving it, storing it, removing it, and showing it masked.

Precedence: ``--api-key`` > ``RUNWAYML_API_SECRET`` > the stored key file
(``credentials.json`` in the config dir, mode 0600 in a 0700 directory, written atomically).
"""

from __future__ import annotations

import json
import os
import secrets
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
    """Enough to recognise a key, never enough to use it: at most a quarter of it is shown
    (``key_…1a2b`` for a real key; only stars for a short one)."""
    shown = min(4, len(key) // 8)  # from each end: 2 * shown <= len(key) / 4
    if shown == 0:
        return "*" * len(key)
    return f"{key[:shown]}…{key[-shown:]}"


def ensure_private(path: Path, mode: int) -> bool:
    """Tighten ``path`` (ours) to ``mode`` if group/other can access it; True if it changed."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(mode)
        return True
    return False


def _owned_by_us(info: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()


def _check_key_file(path: Path) -> os.stat_result | None:
    """The key file's status, None when there is none; CredentialsError when it is not a
    regular file of ours (nothing else is ever read or chmod-ed)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise CredentialsError(
            f"Cannot read the stored key: {path.parent} is not a folder.",
            hint="Move that file away, or set RUNWAY_IMG_CONFIG_DIR to another folder.",
        ) from None
    except OSError as exc:
        raise CredentialsError(f"Cannot read the stored key at {path}: {exc.strerror}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsError(
            f"The key file {path} is not a regular file (a folder?).",
            hint="Remove it, then run: runway-img auth login",
        )
    if not _owned_by_us(info):
        raise CredentialsError(
            f"The key file {path} belongs to another user (uid {info.st_uid}); not using it.",
            hint="Remove it, or set RUNWAY_IMG_CONFIG_DIR to a folder of your own.",
        )
    return info


def read_stored_key(path: Path) -> tuple[str | None, list[str]]:
    """The stored key (or None) and warnings about permissions we had to fix."""
    warnings: list[str] = []
    if _check_key_file(path) is None:
        return None, warnings
    try:
        if _owned_by_us(path.parent.stat()) and ensure_private(path.parent, 0o700):
            warnings.append(f"{path.parent} was readable by other users; changed it to 0700.")
        if ensure_private(path, 0o600):
            warnings.append(f"{path} was readable by other users; changed it to 0600.")
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _owned_by_us(path.parent.stat()):
            ensure_private(path.parent, 0o700)
        _check_key_file(path)  # an existing key file must be ours and a file
    except (FileExistsError, NotADirectoryError):
        raise CredentialsError(
            f"Cannot store the key: {path.parent} is not a folder.",
            hint="Move that file away, or set RUNWAY_IMG_CONFIG_DIR to another folder.",
        ) from None
    except OSError as exc:
        raise CredentialsError(f"Cannot store the key in {path.parent}: {exc.strerror}.") from None
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"api_key": key}, fh)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CredentialsError(f"Cannot store the key in {path}: {exc.strerror}.") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def delete_key(path: Path) -> Path | None:
    """Remove the key file (only a regular file of ours); None when there was none."""
    if _check_key_file(path) is None:
        return None
    try:
        path.unlink()
    except OSError as exc:
        raise CredentialsError(f"Cannot remove the key file {path}: {exc.strerror}.") from None
    return path
