"""The sandbox under parallel load, on loopback: no reset, every task right.

With the standard listen queue of 5, 200 clients connecting at once saw resets (11% of tasks
failed); a reset create leaves a client unsure whether its task exists. Here 200 clients
connect at the same instant (a barrier), each creates a task and polls it on one kept-alive
connection, then downloads its output on a second one: 400 connections, 800 requests. The
clock is injected, so the tasks finish when every client has created and polled once, not
after a sleep. Plain ``http.client``, no retries: any reset or refusal fails the test.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from runway_cli.sandbox import SandboxServer, Timeline
from runway_cli.wire import API_VERSION

KEY = "key_" + "10ad" * 32
HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "X-Runway-Version": API_VERSION,
    "Content-Type": "application/json",
}
CLIENTS = 200
MODEL = "recraft_v4_1_vector"  # SVG outputs: cheap to make, so the server's work is HTTP
RATIOS = ("1024:1024", "1216:896", "896:1216", "1344:768")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers=HEADERS)
    response = conn.getresponse()
    text = response.read()
    assert response.status == 200, (response.status, text)
    return json.loads(text)


def _client(sandbox: SandboxServer, i: int, start: threading.Barrier, created: threading.Barrier) -> dict[str, Any]:  # fmt: skip
    """One client's whole run; returns what it saw."""
    start.wait()
    api = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    try:
        body = {"model": MODEL, "promptText": f"fox number {i}", "ratio": RATIOS[i % 4]}
        task_id = _call(api, "POST", "/v1/text_to_image", body)["id"]
        first = _call(api, "GET", f"/v1/tasks/{task_id}")["status"]
        created.wait()  # every task exists; the last arrival moves the clock past them all
        task = _call(api, "GET", f"/v1/tasks/{task_id}")
    finally:
        api.close()
    url = urlsplit(task["output"][0])
    files = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    try:
        files.request("GET", f"{url.path}?{url.query}")
        response = files.getresponse()
        image = response.read()
        assert response.status == 200, response.status
    finally:
        files.close()
    return {"id": task_id, "first": first, "task": task, "image": image}


def test_200_clients_at_once_get_every_task_right_and_no_reset() -> None:
    clock = Clock()
    with SandboxServer(
        keys=[KEY],
        clock=clock,
        timeline=Timeline(pending=1.0, running=1.0),
        concurrency=None,
        daily_limit=None,
    ) as sandbox:
        results: dict[int, dict[str, Any]] = {}
        failures: list[tuple[int, str]] = []
        start = threading.Barrier(CLIENTS, timeout=30)

        def everything_created() -> None:
            clock.now += 60

        created = threading.Barrier(CLIENTS, action=everything_created, timeout=30)

        def run(i: int) -> None:
            try:
                results[i] = _client(sandbox, i, start, created)
            except Exception as exc:  # a reset, a refusal, a wrong answer: all failures
                failures.append((i, repr(exc)))
                start.abort()
                created.abort()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - began
        log = sandbox.requests

    assert failures == [], failures[:5]
    assert len(results) == CLIENTS
    assert len({r["id"] for r in results.values()}) == CLIENTS
    for i, seen in results.items():
        task = seen["task"]
        assert seen["first"] == "PENDING"
        assert (task["status"], task["cost"], len(task["output"])) == (
            "SUCCEEDED",
            {"credits": 5},
            1,
        )
        width, height = RATIOS[i % 4].split(":")
        assert re.search(rf'width="{width}" height="{height}"'.encode(), seen["image"][:200])
    prompts = {e["json"]["promptText"] for e in log if e["path"] == "/v1/text_to_image"}
    assert prompts == {f"fox number {i}" for i in range(CLIENTS)}  # each create sent once
    assert all(e["status"] == 200 for e in log)
    print(f"\n{CLIENTS} clients, {len(log)} requests on {2 * CLIENTS} connections: {elapsed:.2f} s")
