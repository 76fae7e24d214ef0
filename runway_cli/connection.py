"""Opening a ready API client from the settings: the real service, or the built-in sandbox.

``--sandbox`` / ``RUNWAY_IMG_SANDBOX=1`` starts an in-process sandbox on 127.0.0.1 with state
in the user cache dir (so tasks survive between invocations) and needs no key. Otherwise the
key is resolved (flag > env > stored file) and the base URL is checked before any request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runway_cli.credentials import resolve_key
from runway_cli.errors import UsageError
from runway_cli.input_checks import check_base_url
from runway_cli.settings import Settings

if TYPE_CHECKING:
    from runway_cli.api.client import RunwayClient


@dataclass
class Connection:
    client: RunwayClient
    sandbox: bool
    key_source: str | None
    notes: list[str] = field(default_factory=list)  # worth saying (e.g. "using the sandbox")
    warnings: list[str] = field(default_factory=list)  # e.g. a key file we had to chmod


@contextmanager
def connect(
    settings: Settings, *, allow_sandbox: bool = True, pool_size: int = 10
) -> Iterator[Connection]:
    """A client for the real API or, when asked and allowed, the in-process sandbox."""
    from runway_cli.api.client import RunwayClient

    if allow_sandbox and settings.sandbox:
        from runway_cli.sandbox import SandboxServer, SandboxStateError

        try:
            server = SandboxServer.for_cli(
                task_seconds=settings.sandbox_task_seconds,
                state_path=settings.paths.sandbox_state,
            )
        except SandboxStateError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(
                f"Cannot use the sandbox state file {settings.paths.sandbox_state}: "
                f"{exc.strerror or exc}.",
                hint="Check the user cache folder is a writable folder.",
            ) from None
        server.start()
        try:
            with RunwayClient(
                server.base_url,
                server.key,
                retry=settings.retry,
                read_timeout=settings.http_timeout,
                pool_size=pool_size,
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
    url, corrected = check_base_url(settings.base_url)
    resolved, warnings = resolve_key(settings)
    with RunwayClient(
        url,
        resolved.key,
        retry=settings.retry,
        read_timeout=settings.http_timeout,
        pool_size=pool_size,
        ca_bundle=settings.ca_bundle,
    ) as client:
        yield Connection(
            client=client,
            sandbox=False,
            key_source=resolved.source,
            notes=[corrected] if corrected else [],
            warnings=warnings,
        )
