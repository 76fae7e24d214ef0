"""Turning the connection options into a ready API client: real service, or the sandbox.

``--sandbox`` / ``RUNWAY_IMG_SANDBOX=1`` starts an in-process sandbox on 127.0.0.1 with state
in the user cache dir (so tasks survive between invocations) and needs no key. Otherwise the
key is resolved (flag > env > stored file) and the base URL is checked before any request.
Every environment setting is read here, before anything is sent.
"""

from __future__ import annotations

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


@contextmanager
def connect(
    *, api_key: str | None, base_url: str | None, sandbox: bool, allow_sandbox: bool = True
) -> Iterator[Connection]:
    """A client for the real API or, when asked and allowed, the in-process sandbox."""
    policy = RetryPolicy(backoff=config.positive_seconds_env(RETRY_BACKOFF_ENV) or 1.0)
    read_timeout = config.positive_seconds_env(HTTP_TIMEOUT_ENV) or READ_TIMEOUT
    if allow_sandbox and sandbox_requested(sandbox):
        from runway_cli.sandbox import SandboxServer, SandboxStateError

        try:
            server = SandboxServer.for_cli(
                task_seconds=config.positive_seconds_env(SANDBOX_SECONDS_ENV) or 2.0,
                state_path=config.cache_dir() / "sandbox.sqlite3",
            )
        except SandboxStateError as exc:
            raise UsageError(str(exc)) from None
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
