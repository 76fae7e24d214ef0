"""Turning the connection options into a ready API client: real service, or the sandbox.

``--sandbox`` / ``RUNWAY_IMG_SANDBOX=1`` starts an in-process sandbox on 127.0.0.1 with state
in the user cache dir (so tasks survive between invocations) and needs no key. Otherwise the
key is resolved (flag > env > stored file) and the base URL is checked before any request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from runway_cli import config
from runway_cli.client import READ_TIMEOUT, RunwayClient
from runway_cli.errors import UsageError
from runway_cli.retry import RetryPolicy
from runway_cli.validation import check_base_url

SANDBOX_ENV = "RUNWAY_IMG_SANDBOX"
SANDBOX_SECONDS_ENV = "RUNWAY_IMG_SANDBOX_TASK_SECONDS"
RETRY_BACKOFF_ENV = "RUNWAY_IMG_RETRY_BACKOFF"
HTTP_TIMEOUT_ENV = "RUNWAY_IMG_HTTP_TIMEOUT"


def sandbox_requested(flag: bool) -> bool:
    return flag or os.environ.get(SANDBOX_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Connection:
    client: RunwayClient
    sandbox: bool
    key_source: str | None
    notes: list[str] = field(default_factory=list)


def _positive_float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive number of seconds, not {raw!r}.")
    return value


def retry_policy() -> RetryPolicy:
    return RetryPolicy(backoff=_positive_float_env(RETRY_BACKOFF_ENV, 1.0))


@contextmanager
def connect(*, api_key: str | None, base_url: str | None, sandbox: bool) -> Iterator[Connection]:
    policy = retry_policy()
    read_timeout = _positive_float_env(HTTP_TIMEOUT_ENV, READ_TIMEOUT)
    if sandbox_requested(sandbox):
        from runway_cli.sandbox import SandboxServer, Timeline

        total = _positive_float_env(SANDBOX_SECONDS_ENV, 2.0)
        server = SandboxServer(
            state_path=config.cache_dir() / "sandbox.sqlite3",
            timeline=Timeline(pending=total * 0.2, running=total * 0.8),
        )
        server.start()
        try:
            with RunwayClient(
                server.base_url, server.key, retry=policy, read_timeout=read_timeout
            ) as client:
                yield Connection(
                    client=client,
                    sandbox=True,
                    key_source=None,
                    notes=[
                        f"Using the built-in sandbox at {server.base_url}: "
                        "no key needed, no credits spent."
                    ],
                )
        finally:
            server.stop()
        return
    url = check_base_url(config.resolve_base_url(base_url))
    resolved, warnings = config.resolve_key(api_key)
    with RunwayClient(url, resolved.key, retry=policy, read_timeout=read_timeout) as client:
        yield Connection(client=client, sandbox=False, key_source=resolved.source, notes=warnings)
