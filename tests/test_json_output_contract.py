"""--json: every command prints exactly one JSON object on every exit, and it matches the schema
the README documents (read from the README itself, so the docs cannot drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runway_cli.history import History

README = Path(__file__).resolve().parent.parent / "README.md"
UNKNOWN_TASK = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"


def _schemas() -> dict[str, dict[str, Any]]:
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"<!-- schema: ([\w-]+) -->\n```json\n(.*?)```", text, re.S)
    schemas = {name: json.loads(body) for name, body in found}
    error = schemas["error"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("$ref") == "#error":
                return error
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return {name: resolve(schema) for name, schema in schemas.items()}


SCHEMAS = _schemas()


def one_object(stdout: str) -> dict[str, Any]:
    """stdout holds exactly one JSON object (and nothing else)."""
    decoder = json.JSONDecoder()
    obj, end = decoder.raw_decode(stdout.strip())
    assert stdout.strip()[end:].strip() == "", f"more than one object: {stdout!r}"
    assert isinstance(obj, dict)
    return obj


def check(stdout: str, schema: str, *, failed: bool) -> dict[str, Any]:
    obj = one_object(stdout)
    jsonschema.validate(obj, SCHEMAS[schema])
    assert ("error" in obj) == failed, obj
    if failed:
        jsonschema.validate(obj["error"], SCHEMAS["error"])
    return obj


def test_the_readme_documents_a_schema_per_object() -> None:
    assert {"error", "task", "history", "cancel", "credits", "models", "auth-status"} <= set(
        SCHEMAS
    )


def test_generate_success_and_no_wait(cli, api_env) -> None:
    r = cli("generate", "a fox", "-o", "fox.png", "--json", env=api_env)
    assert r.code == 0, r
    obj = check(r.stdout, "task", failed=False)
    assert obj["status"] == "SUCCEEDED" and obj["files"] == ["fox.png"]
    assert isinstance(obj["cost"], int)  # credits are integers, as the API sends them
    r = cli("generate", "a fox", "--no-wait", "--json", env=api_env)
    assert r.code == 0, r
    assert check(r.stdout, "task", failed=False)["status"] == "PENDING"


@pytest.mark.parametrize(
    ("args", "code", "kind"),
    [
        (("generate", ""), 2, "usage"),  # before anything is sent
        (("generate", "a fox [sandbox:fail:SAFETY.INPUT.TEXT]"), 4, "task_failed"),
        (("generate", "a fox [sandbox:cancel]"), 5, "task_cancelled"),
        (("generate", "a fox [sandbox:hang]", "--timeout", "0.3"), 6, "timeout"),
        (("download", UNKNOWN_TASK), 2, "not_found"),
    ],
)
def test_generate_and_download_failures(cli, api_env, args, code, kind) -> None:
    r = cli(*args, "--json", env=api_env)
    assert r.code == code, r
    obj = check(r.stdout, "task", failed=True)
    assert obj["error"]["exitCode"] == code and obj["error"]["kind"] == kind
    if code in (4, 5, 6):
        assert obj["error"]["taskId"] == obj["id"] is not None


def test_download_success(cli, api_env) -> None:
    task_id = cli("generate", "a fox", "--no-wait", "-q", env=api_env).stdout.strip()
    r = cli("download", task_id, "-o", "dl.png", "--json", env=api_env)
    assert r.code == 0, r
    assert check(r.stdout, "task", failed=False)["files"] == ["dl.png"]


def test_status_prints_the_api_object_or_the_id_with_the_error(cli, api_env) -> None:
    task_id = cli("generate", "a fox", "--no-wait", "-q", env=api_env).stdout.strip()
    ok = one_object(cli("status", task_id, "--json", env=api_env).stdout)
    assert ok["id"] == task_id and "status" in ok and "error" not in ok
    r = cli("status", UNKNOWN_TASK, "--json", env=api_env)
    assert r.code == 2
    obj = one_object(r.stdout)
    assert obj["id"] == UNKNOWN_TASK
    jsonschema.validate(obj["error"], SCHEMAS["error"])


def test_history(cli, api_env, home: Path) -> None:
    cli("generate", "a fox", "--no-wait", "-q", env=api_env)
    r = cli("history", "--json", env=api_env)
    assert r.code == 0, r
    assert len(check(r.stdout, "history", failed=False)["tasks"]) == 1
    r = cli("history", "-n", "0", "--json", env=api_env)
    assert r.code == 2
    check(r.stdout, "history", failed=True)


def test_cancel(cli, api_env) -> None:
    running = cli("generate", "x [sandbox:hang]", "--no-wait", "-q", env=api_env).stdout.strip()
    r = cli("cancel", running, "--json", env=api_env)
    assert r.code == 0, r
    assert check(r.stdout, "cancel", failed=False)["tasks"][0]["action"] == "cancelled"
    done = cli("generate", "a fox", "-q", env=api_env)
    assert done.code == 0
    finished = History(Path(api_env["XDG_DATA_HOME"]) / "runway-img" / "history.jsonl").read()
    task_id = finished.entries[0].id
    assert task_id is not None
    r = cli("cancel", task_id, "--json", env=api_env)  # off a terminal, deleting needs --yes
    assert r.code == 2, r
    obj = check(r.stdout, "cancel", failed=True)
    assert obj["tasks"][0]["action"] == "kept"


def test_credits(cli, api_env, env) -> None:
    r = cli("credits", "--json", env=api_env)
    assert r.code == 0, r
    obj = check(r.stdout, "credits", failed=False)
    assert isinstance(obj["creditBalance"], int)
    r = cli("credits", "--json", env=env)  # no key anywhere
    assert r.code == 3
    assert check(r.stdout, "credits", failed=True)["error"]["kind"] == "auth"


def test_models(cli) -> None:
    r = cli("models", "--json")
    assert r.code == 0
    models = check(r.stdout, "models", failed=False)["models"]
    assert len(models) == 21
    r = cli("models", "gen4_image", "--json")
    jsonschema.validate(one_object(r.stdout), SCHEMAS["models"]["properties"]["models"]["items"])
    r = cli("models", "no_such_model", "--json")
    assert r.code == 2
    assert one_object(r.stdout)["error"]["kind"] == "usage"


def test_auth_status(cli, api_env, env) -> None:
    r = cli("auth", "status", "--json", env=api_env)
    assert r.code == 0, r
    assert check(r.stdout, "auth-status", failed=False)["valid"] is True
    r = cli("auth", "status", "--json", env=env)
    assert r.code == 3
    assert check(r.stdout, "auth-status", failed=True)["valid"] is False


def test_a_command_line_that_does_not_parse_still_gets_one_object(cli) -> None:
    r = cli("generate", "a fox", "--count", "many", "--json")
    assert r.code == 2
    obj = one_object(r.stdout)
    assert set(obj) == {"error"}
    jsonschema.validate(obj["error"], SCHEMAS["error"])


def test_batch(cli, api_env, workdir: Path) -> None:
    prompts = workdir / "prompts.txt"
    prompts.write_text("a red fox\na blue bird\n")
    r = cli("batch", str(prompts), "-o", "out", "--json", env=api_env)
    assert r.code == 0, r
    obj = check(r.stdout, "batch", failed=False)
    assert obj["done"] == 2 and obj["stoppedBy"] is None
    prompts.write_text("a red fox\n\n" + "x" * 5000 + "\n")  # line 3 is too long
    r = cli("batch", str(prompts), "-o", "out2", "--json", env=api_env)
    assert r.code == 2, r
    problems = check(r.stdout, "batch-problems", failed=True)["problems"]
    assert [p["line"] for p in problems] == [3]
