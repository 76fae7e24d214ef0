"""Fault rules return effects that the server carries out, and the request log stays bounded.

The rules are checked as data first (which effect for which action), then over a real socket
(what a client sees), with plain ``requests`` / ``http.client``.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from runway_cli.sandbox import FaultFileError, FaultRule, SandboxServer, Timeline, load_faults
from runway_cli.sandbox.effects import Cut, Delay, Drop, Respond, SlowBody

KEY = "key_" + "9a8b" * 32
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
CREATE = "/v1/text_to_image"
BODY = {"model": "gen4_image", "promptText": "a fox", "ratio": "720:720"}
FILE = Respond(200, b"\x89PNG\r\n\x1a\n" + b"x" * 92, "image/png", output_file=True)
JSON = Respond(200, b'{"id": "x"}')


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    timeline = Timeline(pending=1.0, running=1.0)
    with SandboxServer(keys=[KEY], timeline=timeline, clock=clock) as server:
        yield server


def output_url(sandbox: SandboxServer, clock: FakeClock) -> str:
    """The first output URL of a new, finished task."""
    created = requests.post(f"{sandbox.base_url}{CREATE}", json=BODY, headers=HEADERS, timeout=5)
    clock.now += 10
    task = requests.get(
        f"{sandbox.base_url}/v1/tasks/{created.json()['id']}", headers=HEADERS, timeout=5
    ).json()
    url: str = task["output"][0]
    return url


# -- rules as data: which effect for which action ------------------------------------------------


def test_before_effects() -> None:
    assert FaultRule(action="drop").before() == Drop()
    assert FaultRule(action="delay", delay=2.5).before() == Delay(2.5)
    answer = FaultRule(action="status", status=503, retry_after="1").before()
    assert isinstance(answer, Respond)
    assert (answer.status, dict(answer.headers)) == (503, {"Retry-After": "1"})
    assert json.loads(answer.body) == {"error": "Injected fault: HTTP 503."}
    html = FaultRule(action="status", status=502, html=True).before()
    assert isinstance(html, Respond) and html.content_type == "text/html"
    bad = FaultRule(action="bad_json").before()
    assert isinstance(bad, Respond) and (bad.status, bad.content_type) == (200, "text/html")
    for action in ("drop_after", "empty_json", "body", "cut", "slow_body", "no_range"):
        assert FaultRule(action=action).before() is None  # these act after the work


def test_after_effects_on_json_answers() -> None:
    assert FaultRule(action="drop_after").after(JSON) == Drop()
    assert FaultRule(action="empty_json").after(JSON) == Respond(200, b"{}")
    changed = FaultRule(action="body", body={"id": "../escape"}).after(JSON)
    assert isinstance(changed, Respond) and json.loads(changed.body) == {"id": "../escape"}
    for action in ("cut", "slow_body", "no_range", "not_image"):
        assert FaultRule(action=action).after(JSON) == JSON  # file faults leave JSON alone


def test_after_effects_on_output_files() -> None:
    assert FaultRule(action="cut").after(FILE) == Cut(FILE)
    assert FaultRule(action="slow_body", delay=0.2).after(FILE) == SlowBody(FILE, pause=0.2)
    whole = FaultRule(action="no_range").after(FILE)
    assert isinstance(whole, Respond) and whole.ignore_range and whole.body == FILE.body
    text = FaultRule(action="not_image").after(FILE)
    assert isinstance(text, Respond) and b"not an image" in text.body
    assert FaultRule(action="empty_json").after(FILE) == FILE


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"action": "explode"}, "unknown fault action"),
        ({"action": "status", "status": 99}, "not an HTTP status"),
        ({"action": "delay", "delay": -1}, "delay"),
        ({"action": "delay", "delay": 1e9}, "delay"),
        ({"action": "status", "retry_after": "1\r\nSet-Cookie: x=1"}, "retry_after"),
        ({"action": "drop", "times": -2}, "times"),
        ({"action": "drop", "times": "abc"}, "wrong type"),
        ({"action": "drop", "colour": "red"}, "unknown fault field"),
        ({"method": "GET"}, "needs an action"),
        ("drop", "JSON object"),
    ],
)
def test_bad_rules_are_refused_when_loaded(rule: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        FaultRule.from_dict(rule)


def test_load_faults_reads_a_list_and_names_the_file_when_it_cannot(tmp_path: Path) -> None:
    good = tmp_path / "rules.json"
    good.write_text('[{"action": "drop", "method": "POST", "path": "/v1/text_to_image"}]')
    assert load_faults(good) == [FaultRule(action="drop", method="POST", path=CREATE)]
    for content in ('{"action": "drop"}', "not json", '[{"action": 5}]'):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        with pytest.raises(FaultFileError, match=r"Cannot use the fault file .*bad\.json: "):
            load_faults(bad)
    with pytest.raises(FaultFileError, match=r"missing\.json"):
        load_faults(tmp_path / "missing.json")
    assert issubclass(FaultFileError, ValueError)
    with pytest.raises(FaultFileError, match="it is not a regular file"):
        load_faults(Path("/dev/zero"))  # never read without end
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(1 << 30)
    with pytest.raises(FaultFileError, match="it is over 1,048,576 bytes"):
        load_faults(huge)


# -- over a socket: what a client sees -----------------------------------------------------------


def test_drop_closes_without_an_answer_and_does_no_work(sandbox: SandboxServer) -> None:
    sandbox.faults.add(FaultRule(action="drop", method="POST", path=CREATE))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.base_url}{CREATE}", json=BODY, headers=HEADERS, timeout=5)
    assert sandbox.store.daily_counts() == {}
    assert sandbox.request_log()[-1]["status"] == "dropped"
    assert sandbox.faults_taken() == 1


def test_drop_after_does_the_work_then_closes(sandbox: SandboxServer) -> None:
    sandbox.faults.add(FaultRule(action="drop_after", method="POST", path=CREATE))
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.base_url}{CREATE}", json=BODY, headers=HEADERS, timeout=5)
    assert sandbox.store.daily_counts() == {"gen4_image": 1}


def test_status_fault_answers_with_retry_after(sandbox: SandboxServer) -> None:
    sandbox.faults.add(
        FaultRule(action="status", status=429, retry_after="7", method="GET", times=2)
    )
    for _ in range(2):
        r = requests.get(f"{sandbox.base_url}/v1/organization", headers=HEADERS, timeout=5)
        assert (r.status_code, r.headers["Retry-After"]) == (429, "7")
    r = requests.get(f"{sandbox.base_url}/v1/organization", headers=HEADERS, timeout=5)
    assert r.status_code == 200  # fired twice, then spent


def test_body_fault_replaces_a_successful_answer_only(sandbox: SandboxServer) -> None:
    sandbox.faults.add(FaultRule(action="body", body={"surprise": True}, path="/v1/tasks/"))
    r = requests.get(f"{sandbox.base_url}/v1/tasks/unknown", headers=HEADERS, timeout=5)
    assert r.status_code == 404  # the work failed: the rule did not change the 404


def test_cut_sends_half_the_promised_bytes(sandbox: SandboxServer, clock: FakeClock) -> None:
    url = urlsplit(output_url(sandbox, clock))
    sandbox.faults.add(FaultRule(action="cut", method="GET", path="/_sandbox/files/"))
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    conn.request("GET", f"{url.path}?{url.query}")
    response = conn.getresponse()
    promised = int(response.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    conn.close()
    assert len(info.value.partial) == promised // 2


def test_range_is_honoured_unless_no_range(sandbox: SandboxServer, clock: FakeClock) -> None:
    url = output_url(sandbox, clock)
    whole = requests.get(url, timeout=5).content
    part = requests.get(url, headers={"Range": "bytes=100-"}, timeout=5)
    assert part.status_code == 206 and part.content == whole[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(whole) - 1}/{len(whole)}"
    sandbox.faults.add(FaultRule(action="no_range", path="/_sandbox/files/"))
    ignored = requests.get(url, headers={"Range": "bytes=100-"}, timeout=5)
    assert ignored.status_code == 200 and ignored.content == whole


def test_not_image_serves_text(sandbox: SandboxServer, clock: FakeClock) -> None:
    url = output_url(sandbox, clock)
    sandbox.faults.add(FaultRule(action="not_image", path="/_sandbox/files/"))
    r = requests.get(url, timeout=5)
    assert r.status_code == 200 and r.content.startswith(b"this is not an image")


def test_slow_body_still_sends_every_byte(sandbox: SandboxServer, clock: FakeClock) -> None:
    url = output_url(sandbox, clock)
    whole = requests.get(url, timeout=5).content
    sandbox.faults.add(FaultRule(action="slow_body", delay=0.0, path="/_sandbox/files/"))
    assert requests.get(url, timeout=5).content == whole


def test_faults_can_be_set_over_http(sandbox: SandboxServer) -> None:
    rules = [{"action": "status", "status": 503, "method": "POST", "path": CREATE}]
    r = requests.post(f"{sandbox.base_url}/_sandbox/faults", json=rules, headers=HEADERS, timeout=5)
    assert r.json() == {"faults": 1}
    r = requests.post(f"{sandbox.base_url}{CREATE}", json=BODY, headers=HEADERS, timeout=5)
    assert r.status_code == 503
    bad = requests.post(
        f"{sandbox.base_url}/_sandbox/faults", json=[{"x": 1}], headers=HEADERS, timeout=5
    )
    assert bad.status_code == 400 and "Bad fault list" in bad.json()["error"]


# -- the request log -----------------------------------------------------------------------------


def test_the_request_log_keeps_only_the_newest_requests(clock: FakeClock) -> None:
    with SandboxServer(keys=[KEY], clock=clock, log_limit=5) as sandbox:
        for i in range(8):
            requests.get(f"{sandbox.base_url}/v1/tasks/t{i}", headers=HEADERS, timeout=5)
        paths = [e["path"] for e in sandbox.requests]
        assert paths == [f"/v1/tasks/t{i}" for i in range(3, 8)]
        assert sandbox.request_log() == sandbox.requests
        assert sandbox.count("GET", "/v1/tasks/") == 5
        served = requests.get(
            f"{sandbox.base_url}/_sandbox/requests", headers=HEADERS, timeout=5
        ).json()
        assert [e["path"] for e in served] == paths
        # ... and the log request itself is recorded as it is answered, pushing out the oldest.
        assert [e["path"] for e in sandbox.requests] == [*paths[1:], "/_sandbox/requests"]


def test_the_request_log_records_facts_but_never_the_key(sandbox: SandboxServer) -> None:
    requests.post(f"{sandbox.base_url}{CREATE}", json=BODY, headers=HEADERS, timeout=5)
    (entry,) = sandbox.requests
    assert entry["method"] == "POST" and entry["path"] == CREATE and entry["status"] == 200
    assert entry["json"] == BODY and entry["authorized"] is True
    assert KEY not in json.dumps(sandbox.requests)
