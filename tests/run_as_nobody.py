"""Run the CLI as the unprivileged user ``nobody`` (uid/gid 65534), started by root.

``subprocess.run(..., user=65534)`` cannot be used as such where the interpreter lives in a
folder only root can enter (pyenv under /root, as on CI), so this starts as root, then sets the
real and effective uid and gid to nobody, keeping root only as the *saved* uid. Every file the
CLI opens, creates, stats or checks with ``os.access`` is then opened as nobody and
``os.getuid()`` is nobody's; only imports (the standard library under /root) switch the
effective uid back to root for the time it takes to read a module, and so does the exit, for
coverage to save its data.

Usage: ``python tests/run_as_nobody.py ARGS...`` (as root) runs ``runway-img ARGS...``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

NOBODY = 65534


@contextlib.contextmanager
def _as_root() -> Iterator[None]:
    os.seteuid(0)
    try:
        yield
    finally:
        os.seteuid(NOBODY)


class _Loader:
    """A module loader that reads and runs its module with root's file access."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> Any:
        with _as_root():
            return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with _as_root():
            self._inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RootImports:
    """First on ``sys.meta_path``: finds modules with root's file access."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> Any:
        with _as_root():
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is cls or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
            else:
                return None
        if spec.loader is not None and not isinstance(spec.loader, _Loader):
            spec.loader = _Loader(spec.loader)
        return spec


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run_as_nobody.py must be started as root")
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, 0)
    os.setresuid(NOBODY, NOBODY, 0)
    # Once the CLI is done, tools that started with the interpreter (coverage, which CI runs
    # over subprocesses too) save their files as the user who started them: handlers run
    # last-registered first, so this runs before theirs.
    atexit.register(os.seteuid, 0)
    sys.meta_path.insert(0, _RootImports)
    sys.argv[0] = "runway-img"
    from runway_cli.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
