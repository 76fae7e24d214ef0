"""Opening saved images in the system viewer (``--open``): ``xdg-open``, ``open`` or the
Windows shell. Never in CI, and never without a display to show them on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def why_not(environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why the files cannot be opened here, or None when they can."""
    env = os.environ if environ is None else environ
    if env.get("CI"):
        return "CI is set"
    if platform.startswith(("linux", "freebsd", "openbsd")):
        if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            return "there is no display (DISPLAY and WAYLAND_DISPLAY are unset)"
        if shutil.which("xdg-open") is None:
            return "xdg-open is not installed"
    return None


def open_files(paths: Sequence[Path], platform: str = sys.platform) -> None:
    """Hand each file to the system viewer, without waiting for it (OSError if it fails)."""
    for path in paths:
        target = str(path.resolve())
        if platform == "win32":
            os.startfile(target)  # type: ignore[attr-defined]  # noqa: S606
            continue
        command = ["open", target] if platform == "darwin" else ["xdg-open", target]
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
