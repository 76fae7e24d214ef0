"""pytest plugin: the runway-img sandbox as a test double for code built on the Runway API.

Installed with runway-img and registered through the ``pytest11`` entry point (name
``runway_sandbox``; ``-p no:runway_sandbox`` turns it off). It is loaded in every pytest run of
everyone who installs runway-img, so at import time it uses only pytest (already loaded) and
the standard library: the sandbox is imported when a test first asks for a fixture.

Fixtures:

- ``runway_sandbox``: a started ``runway_cli.sandbox.Sandbox`` (the server ``runway-img
  sandbox`` runs, on 127.0.0.1, in a background thread), stopped after the test. Point any
  client at ``runway_sandbox.url`` with ``runway_sandbox.key``; read what it saw in
  ``runway_sandbox.requests``; inject failures with ``runway_sandbox.add_fault(...)``.
- ``runway_sandbox_env``: the same sandbox, with ``RUNWAYML_BASE_URL`` and
  ``RUNWAYML_API_SECRET`` set for the test (for code that builds its client from the
  environment, as the official SDK does by default).

Options go in a marker, as keyword arguments of ``Sandbox``::

    @pytest.mark.runway_sandbox(task_seconds=0.2, concurrency=1, credits=50)
    def test_my_pipeline(runway_sandbox): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from runway_cli.sandbox import Sandbox

MARKER = "runway_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options for the runway_sandbox fixture "
        "(keyword arguments of runway_cli.sandbox.Sandbox: task_seconds, faults, concurrency, "
        "daily_limit, credits, ...)",
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only")
    return dict(marker.kwargs)


@pytest.fixture
def runway_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A running Runway-compatible sandbox for this test: ``.url``, ``.key``, ``.requests``."""
    from runway_cli.sandbox import Sandbox

    with Sandbox(**_options(request)) as sandbox:
        yield sandbox


@pytest.fixture
def runway_sandbox_env(
    runway_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    """``runway_sandbox``, with ``RUNWAYML_BASE_URL`` and ``RUNWAYML_API_SECRET`` pointing at it."""
    monkeypatch.setenv("RUNWAYML_BASE_URL", runway_sandbox.url)
    monkeypatch.setenv("RUNWAYML_API_SECRET", runway_sandbox.key)
    yield runway_sandbox
