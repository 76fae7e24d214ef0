"""The built-in sandbox: a local, Runway-compatible API server for trying and testing runway-img.

No credits are spent and no network is needed. See ``server.py`` for what it implements.
"""

from runway_cli.sandbox.faults import FaultRule
from runway_cli.sandbox.server import SandboxServer, new_key
from runway_cli.sandbox.store import MARKERS, Timeline

__all__ = ["MARKERS", "FaultRule", "SandboxServer", "Timeline", "new_key"]
