"""Local checks on user input, run before any request so bad input never costs credits."""

from __future__ import annotations

import ipaddress
import math
import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from runway_cli.errors import CredentialsError, UsageError

if TYPE_CHECKING:
    from runway_cli.catalog import Model

_MAX_LISTED_RATIOS = 12


def control_character(text: str) -> str | None:
    """Where ``text`` has a control character other than newline and tab (C0, DEL, C1:
    terminal escapes, NULs), as "(U+001B) at line 2, column 5"; else None."""
    for index, ch in enumerate(text):
        if (ord(ch) < 32 and ch not in "\n\t") or 127 <= ord(ch) <= 159:
            line = text.count("\n", 0, index) + 1
            column = index - (text.rfind("\n", 0, index) + 1) + 1
            return f"(U+{ord(ch):04X}) at line {line}, column {column}"
    return None


def check_prompt(prompt: str, model: Model | None) -> None:
    from runway_cli.catalog import utf16_length

    if not prompt.strip():
        raise UsageError(
            "The prompt is empty.", hint='Describe the image, e.g. runway-img generate "a red fox"'
        )
    where = control_character(prompt)
    if where is not None:  # it would be billed, then replayed raw by `history` and the sheet
        raise UsageError(
            f"The prompt contains a control character {where}; only newlines and tabs are allowed."
        )
    if any("\ud800" <= ch <= "\udfff" for ch in prompt):
        raise UsageError(
            "The prompt contains bytes that are not valid UTF-8 text.",
            hint="Check your terminal or file encoding, or pass the prompt on stdin with -.",
        )
    if model is None or model.prompt_max is None:
        return
    length = utf16_length(prompt)
    if length > model.prompt_max:
        over = length - model.prompt_max
        raise UsageError(
            f"The prompt is {length} characters; {model.id} accepts at most {model.prompt_max} "
            f"({over} too many, counted in UTF-16 code units).",
            hint="Shorten the prompt.",
        )


def check_ratio(ratio: str, model: Model | None) -> None:
    from runway_cli.catalog import parse_ratio

    if model is None:
        if parse_ratio(ratio) is None and not re.fullmatch(r"[a-z0-9_]+", ratio):
            raise UsageError(f"Invalid ratio {ratio!r}: expected WIDTH:HEIGHT, e.g. 1280:720.")
        return
    spec = model.ratio
    if spec.accepts(ratio):
        return
    shown = ", ".join(spec.values[:_MAX_LISTED_RATIOS])
    more = len(spec.values) - _MAX_LISTED_RATIOS
    if more > 0:
        shown += f" (and {more} more: runway-img models {model.id})"
    extra = ""
    if spec.freeform:
        extra = (
            f"; or any WIDTH:HEIGHT with {spec.freeform_min_pixels:,} to "
            f"{spec.freeform_max_pixels:,} pixels"
        )
    raise UsageError(f"Ratio {ratio} is not valid for {model.id}. Valid ratios: {shown}{extra}.")


def check_task_id(task_id: str) -> str:
    task_id = task_id.strip()
    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise UsageError(
            f"{task_id!r} is not a task id: task ids are UUIDs like "
            "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b.",
            hint="Find recent ids with: runway-img history",
        ) from None


def check_timeout(timeout: float) -> None:
    if not math.isfinite(timeout) or timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout:g}.")


def check_base_url(base_url: str) -> tuple[str, str | None]:
    """The URL to use (no trailing slash, no trailing ``/v1``) and a note when it was
    corrected; UsageError if it is empty or not an http(s) URL. Other path prefixes are kept:
    proxies use them, and the official SDK accepts them."""
    url = base_url.strip().rstrip("/")
    if not url:
        raise UsageError(
            "The base URL is empty.",
            hint="Give a URL, or leave --base-url out to use https://api.dev.runwayml.com.",
        )
    note = None
    if url.endswith("/v1"):
        url = url.removesuffix("/v1").rstrip("/")
        note = f"The base URL ends in /v1; using {url} (runway-img adds /v1 to every path)."
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise UsageError(f"Invalid base URL {base_url!r}: it cannot be parsed.") from None
    if parts.scheme not in ("http", "https") or not host or not _HOST_RE.match(host):
        raise UsageError(
            f"Invalid base URL {base_url!r}: expected something like https://api.dev.runwayml.com."
        )
    try:
        _ = parts.port
    except ValueError:
        raise UsageError(
            f"Invalid base URL {base_url!r}: the port is not a number from 0 to 65535."
        ) from None
    if parts.scheme == "http" and not is_loopback(host):
        raise UsageError(
            f"Refusing to send the API key over plain http:// to {host}.",
            hint="Use https://, or http:// only for a sandbox on this machine (127.0.0.1).",
        )
    return url, note


_HOST_RE = re.compile(r"^(\[?[0-9a-fA-F:.]+\]?|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name such as 127.example.com is not loopback


def check_api_key(key: str, source: str) -> str:
    """The key, or CredentialsError (exit 3, an invalid key) for one that cannot be a key."""
    if not key:
        raise CredentialsError(f"The API key from {source} is empty.")
    if any(ch.isspace() for ch in key) or not key.isprintable():
        raise CredentialsError(
            f"The API key from {source} contains whitespace or control characters.",
            hint="Copy the key again without spaces or line breaks.",
        )
    if not key.isascii():
        raise CredentialsError(
            f"The API key from {source} contains non-ASCII characters; Runway keys are "
            "key_ followed by hex digits.",
            hint="Copy the key again from the Runway dashboard.",
        )
    return key


def check_output_option(output: str | None) -> None:
    """``-o`` must be text: a name with bytes that are not UTF-8 could be saved but never
    printed back (stdout, JSON, the history), so it is refused before anything is sent."""
    if output is None:
        return
    try:
        output.encode("utf-8")
    except UnicodeEncodeError:
        shown = output.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(
            f"-o {shown} contains bytes that are not valid UTF-8.",
            hint="Choose a file name in UTF-8.",
        ) from None
