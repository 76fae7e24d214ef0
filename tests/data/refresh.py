"""Regenerate the official-source copies that tests/test_catalog_matches_spec.py reads.

    python tests/data/refresh.py [SHARED_DIR]

SHARED_DIR defaults to ``../shared/runway-api`` beside the repository. Writes:

- ``openapi_text_to_image.json``: the ``POST /v1/text_to_image`` request-body schema from the
  official OpenAPI spec (``openapi.json``), with any local ``$ref`` inlined;
- ``sdk_models.json``: the ``sources`` and ``models`` rows of the SDK-derived table
  (``models.json``).

The test suite also calls :func:`build` to check that the copies still match the shared files
when they are there (a fresh clone has no ``../shared``; the copies are what it tests against).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_SHARED = DATA_DIR.parents[2] / "shared" / "runway-api"
SPEC_FILE = "openapi_text_to_image.json"
SDK_FILE = "sdk_models.json"
PATH = "/v1/text_to_image"


def _inline_refs(node: Any, root: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """A copy of ``node`` with every local ``{"$ref": "#/..."}`` replaced by its target."""
    if isinstance(node, list):
        return [_inline_refs(item, root, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"cannot inline $ref {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _inline_refs({**target, **siblings}, root, (*seen, ref))
    return {key: _inline_refs(value, root, seen) for key, value in node.items()}


def text_to_image_schema(spec: dict[str, Any]) -> dict[str, Any]:
    body = _inline_refs(spec["paths"][PATH]["post"]["requestBody"], spec)
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    comment = (
        f"Copied by tests/data/refresh.py from shared/runway-api/openapi.json "
        f"(OpenAPI {spec['openapi']}, API version {spec['info']['version']}): "
        f"paths.{PATH}.post.requestBody.content.application/json.schema, $refs inlined."
    )
    return {"$comment": comment, **schema}


def sdk_rows(table: dict[str, Any]) -> dict[str, Any]:
    return {
        "_comment": (
            "Copied by tests/data/refresh.py from shared/runway-api/models.json "
            "(its 'sources' and 'models' keys, unchanged)."
        ),
        "sources": table["sources"],
        "models": table["models"],
    }


def build(shared: Path) -> dict[str, Any]:
    """File name -> content, from the shared reference files."""
    spec = json.loads((shared / "openapi.json").read_text(encoding="utf-8"))
    table = json.loads((shared / "models.json").read_text(encoding="utf-8"))
    return {SPEC_FILE: text_to_image_schema(spec), SDK_FILE: sdk_rows(table)}


def render(content: Any) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    shared = Path(argv[0]) if argv else DEFAULT_SHARED
    if not (shared / "openapi.json").is_file():
        print(f"no openapi.json in {shared}", file=sys.stderr)
        return 2
    for name, content in build(shared).items():
        (DATA_DIR / name).write_text(render(content), encoding="utf-8")
        print(f"wrote tests/data/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
