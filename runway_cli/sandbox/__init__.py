"""The built-in sandbox: a local, Runway-compatible API server for trying and testing runway-img.

No credits are spent and no network is needed. See ``server.py`` for what it implements.
"""

from runway_cli.sandbox.faults import FaultRule, load_faults
from runway_cli.sandbox.server import SandboxServer, SandboxStateError, new_key
from runway_cli.sandbox.store import MARKERS, Timeline

__all__ = [
    "MARKERS",
    "FaultRule",
    "SandboxServer",
    "SandboxStateError",
    "Timeline",
    "load_faults",
    "new_key",
]
