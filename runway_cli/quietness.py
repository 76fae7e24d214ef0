"""Whether this run is quiet (``-q``): set by the command layer, honoured by the rendering
package, so checking it never imports Rich."""

from __future__ import annotations

_quiet = False


def set_quiet(value: bool) -> None:
    global _quiet
    _quiet = value


def is_quiet() -> bool:
    return _quiet
