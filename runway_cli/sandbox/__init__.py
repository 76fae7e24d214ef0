"""The built-in sandbox: a local, Runway-compatible API server for trying and testing runway-img.

No credits are spent and no network is needed. It is an independent oracle of the API: it
imports nothing from the rest of ``runway_cli`` except the wire constants (``runway_cli.wire``)
and reads the model catalog as plain JSON, so a bug in the client's checks cannot hide in it.

As a library (a test double for code built on the Runway API, e.g. with the official SDK)::

    from runway_cli.sandbox import Sandbox

    with Sandbox(task_seconds=1) as sb:
        client = RunwayML(api_key=sb.key, base_url=sb.url)

and as the ``runway_sandbox`` pytest fixture (``runway_cli/pytest_plugin.py``).

Modules, outside in:

- ``library.py``: ``Sandbox``, the server with a constructor made for tests;
- ``server.py``: ``SandboxServer`` (start/stop, limits, request log);
- ``plumbing.py``: the HTTP plumbing: connections (cap, timeout, TLS, closing them on stop),
  bodies (capped, chunked decoded), carrying out effects;
- ``guards.py``: what is checked before a body is read (Host, framing, key, size) and the
  bounded JSON reader;
- ``routes.py``: the route table, one handler per API or sandbox path;
- ``effects.py``: what a handler or fault rule asks the plumbing to do (respond, drop, cut...);
- ``faults.py``: fault rules that return effects;
- ``request_checks.py``: the live API's checks on a create body, from ``catalog_data.py``;
- ``accounts.py``: the account's limits (concurrency, daily cap, credits) and its answers;
- ``lifecycle.py``: a task's status, derived from time and its model's FIFO queue;
- ``markers.py``: prompt markers that steer a task, and the failure codes;
- ``outputs.py``: sizes, prices, output bytes and signed URLs; ``images.py``: PNG/JPEG/SVG;
- ``store.py``: tasks and uploads in SQLite.
"""

from .accounts import AccountLimits
from .faults import FaultFileError, FaultRule, load_faults
from .library import Sandbox
from .lifecycle import Timeline
from .markers import FAILURES, MARKERS
from .server import RemoteSandboxWarning, SandboxServer, SandboxStateError, new_key

__all__ = [
    "FAILURES",
    "MARKERS",
    "AccountLimits",
    "FaultFileError",
    "FaultRule",
    "RemoteSandboxWarning",
    "Sandbox",
    "SandboxServer",
    "SandboxStateError",
    "Timeline",
    "load_faults",
    "new_key",
]
