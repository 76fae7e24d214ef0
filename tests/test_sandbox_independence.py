"""The sandbox is an independent oracle: it uses none of the client's code.

It may import only the standard library, its own modules and ``runway_cli.wire`` (names and
values both sides share); it reads the catalog as JSON data. ``tests/test_layering.py`` checks
every import statement; this checks what a working sandbox has actually loaded.
"""

from __future__ import annotations

import subprocess
import sys


def test_a_working_sandbox_loads_nothing_else_from_the_package() -> None:
    script = """
import sys, requests
from runway_cli.sandbox import SandboxServer
with SandboxServer(keys=["key_x"]) as s:
    h = {"Authorization": "Bearer key_x", "X-Runway-Version": "2024-11-06"}
    r = requests.post(s.base_url + "/v1/text_to_image", headers=h, timeout=5,
                      json={"model": "gen4_image", "promptText": "a fox", "ratio": "720:720"})
    assert r.status_code == 200, r.text
    assert requests.get(s.base_url + "/v1/tasks/" + r.json()["id"], headers=h, timeout=5).ok
print("\\n".join(sorted(m for m in sys.modules if m.split(".")[0] == "runway_cli")))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    others = [m for m in out if m not in ("runway_cli", "runway_cli.wire", "runway_cli.sandbox")]
    assert others and all(m.startswith("runway_cli.sandbox.") for m in others), out
