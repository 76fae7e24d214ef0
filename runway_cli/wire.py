"""Wire constants both sides of the API share: the client and the sandbox.

This is the only module the sandbox imports from the rest of the package (besides reading the
model catalog as plain JSON), so it holds names and values only, never checking code.
"""

from __future__ import annotations

API_VERSION = "2024-11-06"
VERSION_HEADER = "X-Runway-Version"
# Every sandbox answer carries this header, so the CLI can say "no credits are spent".
SANDBOX_HEADER = "X-Runway-Img-Sandbox"
DEFAULT_BASE_URL = "https://api.dev.runwayml.com"
