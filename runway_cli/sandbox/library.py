"""The sandbox as a library: a test double for code built on the Runway API.

``Sandbox`` is the server ``runway-img sandbox`` runs, in a background thread, with a
constructor made for tests::

    from runway_cli.sandbox import Sandbox

    rule = {"action": "status", "status": 503, "path": "/v1/tasks/"}
    with Sandbox(task_seconds=1, faults=[rule]) as sb:
        client = RunwayML(api_key=sb.key, base_url=sb.url)  # the official SDK, or any client
        ...
        assert sb.count("POST", "/v1/text_to_image") == 1

The pytest plugin (``runway_cli/pytest_plugin.py``) hands one to each test that asks for the
``runway_sandbox`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .faults import FaultRule
from .lifecycle import Timeline
from .server import SandboxServer


def _rule(rule: FaultRule | Mapping[str, Any]) -> FaultRule:
    return rule if isinstance(rule, FaultRule) else FaultRule.from_dict(dict(rule))


class Sandbox(SandboxServer):
    """A Runway-compatible API on 127.0.0.1, in memory, started by ``with`` (or ``start()``).

    - ``task_seconds``: how long each task takes once it has a slot (20% PENDING, then 80%
      RUNNING, as ``runway-img sandbox --task-seconds``); steer single tasks with prompt
      markers such as ``[sandbox:fail]`` (see ``runway_cli.sandbox.MARKERS``).
    - ``key``: the key clients must send (default: a new random one; read it from ``.key``).
    - ``faults``: fault rules, as ``FaultRule`` objects or the JSON objects a fault file holds
      (each checked now: ValueError for a bad one). Add more later with ``add_fault``.
    - every other keyword is ``SandboxServer``'s: ``concurrency`` (default 2),
      ``daily_limit`` (500), ``credits`` (10,000), ``state_path``, ``clock``, ``port``,
      ``ssl_context``, ``log_limit``...

    What a test reads: ``url`` and ``key``; ``requests`` (what it was sent, never the key) and
    ``count(method, path_prefix)``; ``organization()`` (limits, balance, usage); ``faults``.
    """

    def __init__(
        self,
        *,
        task_seconds: float = 1.0,
        key: str | None = None,
        faults: Iterable[FaultRule | Mapping[str, Any]] = (),
        **options: Any,
    ) -> None:
        if "timeline" not in options:
            options["timeline"] = Timeline.of_task(task_seconds)
        keys = [key] if key is not None else options.pop("keys", ())
        super().__init__(keys=keys, faults=[_rule(r) for r in faults], **options)

    @property
    def url(self) -> str:
        """The base URL to give a client (``RunwayML(base_url=...)``, ``RUNWAYML_BASE_URL``)."""
        return self.base_url

    def add_fault(self, rule: FaultRule | Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Add a rule: a ``FaultRule``, a JSON-style dict, or its fields as keywords
        (``add_fault(action="status", status=429, path="/v1/text_to_image")``)."""
        self.faults.add(_rule(rule if rule is not None else fields))

    def organization(self) -> dict[str, Any]:
        """What ``GET /v1/organization`` answers now: limits, ``creditBalance``, usage."""
        return self.account.organization()

    def __enter__(self) -> Sandbox:
        self.start()
        return self
