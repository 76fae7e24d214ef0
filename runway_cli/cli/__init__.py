"""The command line: the only code that uses typer. One module per command; ``app`` assembles
them and ``boundary`` turns errors into one line and an exit status."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import NoReturn


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:  # answered before the Typer app is built: instant
        from runway_cli import __version__

        print(f"runway-img {__version__}")
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    from runway_cli.cli.app import app

    app(prog_name="runway-img")
