"""Profiles: named sets of a base URL and defaults (model, ratio, output folder), kept in
``config.json`` in the config dir. Keys live apart, in ``credentials.json`` (``credentials``).

``config.json``: ``{"current": NAME, "profiles": {NAME: {"base_url", "model", "ratio",
"output_dir"}}}``. Nothing here is secret; the file is still written atomically.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runway_cli.errors import UsageError
from runway_cli.output_paths import file_in_the_way

DEFAULT_PROFILE = "default"
SETTINGS = {
    "model": "default --model",
    "ratio": "default --ratio",
    "output-dir": "default folder for saved images (-o)",
    "base-url": "API base URL for this profile",
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"Invalid profile name {name!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)."
        )
    return name


@dataclass(frozen=True)
class Profile:
    name: str
    values: dict[str, str] = field(default_factory=dict)  # SETTINGS keys -> value

    def get(self, key: str) -> str | None:
        return self.values.get(key)


@dataclass
class ConfigFile:
    path: Path
    current: str | None = None
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        raw = _read_config(path)
        if raw is None:
            return cls(path)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise UsageError(
                f"{path} is not valid UTF-8 JSON.", hint=f"Fix or remove it. {_ELSEWHERE}"
            ) from None
        return cls(path, *_parse(data, path))

    def profile(self, name: str) -> Profile:
        return Profile(name, dict(self.profiles.get(name, {})))

    def save(self) -> None:
        data: dict[str, Any] = {"current": self.current, "profiles": self.profiles}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2)
                fh.write("\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            in_the_way = file_in_the_way(self.path.parent)
            if in_the_way.exists() and not in_the_way.is_dir():
                raise UsageError(
                    f"Cannot write {self.path}: {in_the_way} is a file, not a folder.",
                    hint=f"Move that file away. {_ELSEWHERE}",
                ) from None
            raise UsageError(
                f"Cannot write {self.path}: {exc.strerror or exc}.",
                hint=f"Check that folder's owner and permissions. {_ELSEWHERE}",
            ) from None


_ELSEWHERE = "RUNWAY_IMG_CONFIG_DIR points runway-img at another folder."
MAX_CONFIG_BYTES = 1 << 20  # ours stays a few hundred bytes; /dev/zero must not be read whole


def _read_config(path: Path) -> bytes | None:
    """The file's bytes (None when there is none): a regular file, read with a bound."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.", hint=_ELSEWHERE) from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise UsageError(
            f"Cannot read {path}: it is {what}; runway-img keeps its profiles in that file.",
            hint=f"Move it away. {_ELSEWHERE}",
        )
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UsageError(
            f"Cannot read {path}: {exc.strerror or exc}.",
            hint=f"Check its owner and permissions. {_ELSEWHERE}",
        ) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UsageError(
            f"{path} is over {MAX_CONFIG_BYTES:,} bytes: not a runway-img config file.",
            hint=f"Move it away. {_ELSEWHERE}",
        )
    return raw


def _parse(data: Any, path: Path) -> tuple[str | None, dict[str, dict[str, str]]]:
    if not isinstance(data, dict):
        raise UsageError(f"{path} does not hold a JSON object.")
    current = data.get("current")
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict) or not (current is None or isinstance(current, str)):
        raise UsageError(f"{path} has an unexpected shape.", hint="Fix or remove it.")
    clean: dict[str, dict[str, str]] = {}
    for name, values in profiles.items():
        if isinstance(name, str) and isinstance(values, dict):
            clean[name] = {k: v for k, v in values.items() if k in SETTINGS and isinstance(v, str)}
    return current, clean
