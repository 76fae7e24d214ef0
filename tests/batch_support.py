"""Shared by the batch tests: a sandbox with chosen account limits, the manifest and contact
sheet read back, and how many tasks were in flight at once (from the sandbox's own rows)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from runway_cli.sandbox import SandboxServer, Timeline
from runway_cli.sandbox.lifecycle import start_times
from tests.conftest import KEY

MakeSandbox = Callable[..., SandboxServer]
QUICK = Timeline(pending=0.02, running=0.1)  # a task ends within two or three polls


@pytest.fixture(name="limited")
def limited_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeSandbox]:
    """``limited(concurrency=3, daily_limit=..., credits=..., timeline=...)``: a sandbox with
    those account limits, and this test's environment pointed at it."""
    servers: list[SandboxServer] = []

    def make(timeline: Timeline = QUICK, **limits: Any) -> SandboxServer:
        server = SandboxServer(keys=[KEY], timeline=timeline, **limits)
        server.start()
        servers.append(server)
        monkeypatch.setenv("RUNWAYML_BASE_URL", server.base_url)
        monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
        return server

    yield make
    for server in servers:
        server.stop()


def write_batch(folder: Path, lines: list[Any], name: str = "prompts.txt") -> Path:
    """A batch file: strings as plain lines, dicts as JSON lines."""
    path = folder / name
    text = "\n".join(json.dumps(line) if isinstance(line, dict) else line for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def records(manifest: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def created_ids(manifest: Path) -> list[str]:
    return [r["id"] for r in records(manifest) if r["event"] == "created"]


def creates(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """The body of every create request the sandbox saw."""
    return [
        entry["json"]
        for entry in sandbox.requests
        if entry["method"] == "POST" and entry["path"] == "/v1/text_to_image"
    ]


def in_flight(sandbox: SandboxServer) -> tuple[int, int]:
    """``(most tasks alive at once, how many were ever THROTTLED)``, server side: each task
    from its create to its end. A client holds a slot at least that long, so the first number
    is a lower bound of what the client had in flight."""
    rows = sandbox.store.all_tasks()
    events: list[tuple[float, int]] = []
    throttled = 0
    for model in {row.model for row in rows}:
        queue = sorted((r for r in rows if r.model == model), key=lambda r: r.seq)
        starts = start_times(queue, sandbox.timeline)
        for row in queue:
            start = starts[row.id]
            throttled += start > row.created + 1e-9
            end = start + sandbox.timeline.pending + sandbox.timeline.running
            events += [(row.created, 1), (end, -1)]
    alive = most = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        alive += step
        most = max(most, alive)
    return most, throttled


def wait_for(what: Callable[[], bool], timeout: float = 20.0, message: str = "") -> None:
    """Poll ``what`` until true (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or what}")
        time.sleep(0.02)


class Sheet(HTMLParser):
    """The contact sheet: every link and image source, figures, tags and visible text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.folder = path.parent
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "img" and values.get("src"):
            self.srcs.append(values["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)

    def targets(self) -> set[Path]:
        """Every linked or shown file, resolved against the sheet's folder."""
        from urllib.parse import unquote, urlsplit

        out = set()
        for link in self.hrefs + self.srcs:
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, f"not a relative link: {link}"
            out.add((self.folder / unquote(parts.path)).resolve())
        return out
