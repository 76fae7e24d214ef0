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
from typing import Any

from runway_cli.errors import CredentialsError
from runway_cli.input_checks import check_api_key
from runway_cli.profiles import DEFAULT_PROFILE
from runway_cli.settings import KEY_ENV, PROFILE_ENV, Settings


@dataclass(frozen=True)
class ResolvedKey:
    key: str
    source: str  # "--api-key", "RUNWAYML_API_SECRET", the key file's path, "--profile NAME"...
    profile: str | None = None  # the profile the key belongs to, when it is a stored one


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


def _tighten_folder(folder: Path) -> bool:
    """Make the key file's folder 0700 when it is ours and not shared; True if it changed.
    A folder with the sticky bit (``/tmp``, a team's drop folder) is other people's too:
    it is never chmod-ed (the key file itself is 0600 there)."""
    info = folder.stat()
    if not _owned_by_us(info) or info.st_mode & stat.S_ISVTX:
        return False
    return ensure_private(folder, 0o700)


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


def read_keys(path: Path, *, tighten: bool = True) -> tuple[dict[str, str], list[str]]:
    """Every stored key by profile, and warnings about permissions we had to fix
    (``tighten=False``: look only, for shell completion, which must change nothing).

    ``{"profiles": {NAME: {"api_key": KEY}}}``; the older ``{"api_key": KEY}`` (one key,
    before profiles) is the ``default`` profile's.
    """
    warnings: list[str] = []
    if _check_key_file(path) is None:
        return {}, warnings
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise CredentialsError(
            f"Cannot read the stored key at {path}: {exc.__class__.__name__}.",
            hint="Run: runway-img auth login",
        ) from None
    keys = _keys_in(data)
    if keys is None:
        raise CredentialsError(
            f"The key file {path} has no api_key.", hint="Run: runway-img auth login"
        )
    # Only a file that holds keys is tightened: a wrong path (a symbolic link to some other
    # file of ours) is refused above with its mode untouched.
    try:
        if tighten and _tighten_folder(path.parent):
            warnings.append(f"{path.parent} was readable by other users; changed it to 0700.")
        if tighten and ensure_private(path, 0o600):
            warnings.append(f"{path} was readable by other users; changed it to 0600.")
    except OSError as exc:
        raise CredentialsError(
            f"Cannot make the key file {path} private: {exc.strerror or exc}."
        ) from None
    return keys, warnings


def _keys_in(data: Any) -> dict[str, str] | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("api_key"), str) and data["api_key"]:
        return {DEFAULT_PROFILE: data["api_key"]}
    profiles = data.get("profiles")
    if not isinstance(profiles, dict):
        return None
    return {
        name: entry["api_key"]
        for name, entry in profiles.items()
        if isinstance(entry, dict) and isinstance(entry.get("api_key"), str) and entry["api_key"]
    }


def read_stored_key(path: Path, profile: str = DEFAULT_PROFILE) -> tuple[str | None, list[str]]:
    """One profile's stored key (or None) and permission warnings."""
    keys, warnings = read_keys(path)
    return keys.get(profile), warnings


def resolve_key(settings: Settings) -> tuple[ResolvedKey, list[str]]:
    """--api-key, then --profile's key, then RUNWAYML_API_SECRET, then RUNWAY_IMG_PROFILE's
    key, then the current profile's (``auth use``, else ``default``)."""
    if settings.api_key_flag is not None:
        return ResolvedKey(check_api_key(settings.api_key_flag, "--api-key"), "--api-key"), []
    path = settings.paths.credentials
    choice = settings.profile
    if choice.flag:
        return _profile_key(path, choice.flag, "--profile")
    if settings.api_key_env:
        return ResolvedKey(check_api_key(settings.api_key_env, KEY_ENV), KEY_ENV), []
    if choice.env:
        return _profile_key(path, choice.env, PROFILE_ENV)
    stored, warnings = read_stored_key(path, choice.current)
    if stored is not None:
        source = str(path) if choice.current == DEFAULT_PROFILE else f"{path} ({choice.current})"
        return ResolvedKey(check_api_key(stored, source), source, choice.current), warnings
    raise CredentialsError(
        "No Runway API key found."
        if choice.current == DEFAULT_PROFILE
        else f"No key stored for the current profile {choice.current!r}.",
        hint=(
            f"Run `runway-img auth login`, or set {KEY_ENV}, or pass --api-key. "
            "To try generate, status or download without a key, add --sandbox."
        ),
    )


def _profile_key(path: Path, profile: str, how: str) -> tuple[ResolvedKey, list[str]]:
    stored, warnings = read_stored_key(path, profile)
    if stored is None:
        raise CredentialsError(
            f"No key stored for profile {profile!r} (chosen by {how}).",
            hint=f"Run: runway-img auth login --profile {profile} (see: runway-img auth list)",
        )
    source = f"{how} {profile}"
    return ResolvedKey(check_api_key(stored, source), source, profile), warnings


def store_key(path: Path, key: str, profile: str = DEFAULT_PROFILE) -> Path:
    """Store ``profile``'s key, atomically, in ``path`` (mode 0600 in a 0700 directory)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _tighten_folder(path.parent)
        keys, _ = read_keys(path)  # an existing key file must be ours and a file
    except (FileExistsError, NotADirectoryError):
        raise CredentialsError(
            f"Cannot store the key: {path.parent} is not a folder.",
            hint="Move that file away, or set RUNWAY_IMG_CONFIG_DIR to another folder.",
        ) from None
    except OSError as exc:
        raise CredentialsError(f"Cannot store the key in {path.parent}: {exc.strerror}.") from None
    keys[profile] = key
    try:
        _write_keys(path, keys)
    except OSError as exc:
        raise CredentialsError(f"Cannot store the key in {path}: {exc.strerror}.") from None
    return path


def delete_key(path: Path, profile: str = DEFAULT_PROFILE) -> bool:
    """Remove ``profile``'s key (the file goes with the last one); False when there was none."""
    keys, _ = read_keys(path)
    if profile not in keys:
        return False
    del keys[profile]
    try:
        if not keys:
            path.unlink()
            return True
        _write_keys(path, keys)
    except OSError as exc:
        raise CredentialsError(f"Cannot update the key file {path}: {exc.strerror}.") from None
    return True


def _write_keys(path: Path, keys: dict[str, str]) -> None:
    """Replace the key file atomically (0600); no temporary file is left if it fails."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"profiles": {n: {"api_key": k} for n, k in sorted(keys.items())}}, fh)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
