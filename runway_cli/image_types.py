"""Recognising image files by their bytes, and telling a whole file from a truncated one.

The client's one sniffer: reference images (PNG, JPEG, WebP) and saved outputs (those and SVG)
are both checked here. Names use file extensions: ``png``, ``jpg``, ``webp``, ``svg``.
"""

from __future__ import annotations

import struct
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
HEAD_BYTES = 512  # enough for every signature below
_TAIL_BYTES = 1024
MIME = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "svg": "image/svg+xml"}
DISPLAY = {"png": "PNG", "jpg": "JPEG", "webp": "WebP", "svg": "SVG"}


def sniff(head: bytes) -> str | None:
    """The extension for an image's first bytes: png, jpg, webp, svg; None if not an image."""
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPEG_MAGIC):
        return "jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    text = head[:HEAD_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<svg") or (
        text.startswith((b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in text
    ):
        return "svg"
    return None


def sniff_raster(head: bytes) -> str | None:
    """Like ``sniff`` but only the raster kinds the API takes as input (png, jpg, webp)."""
    kind = sniff(head)
    return kind if kind in ("png", "jpg", "webp") else None


def is_complete(kind: str, size: int, head: bytes, tail: bytes) -> bool:
    """Whether a file of ``size`` bytes starting with ``head`` and ending with ``tail`` is a
    whole image: PNG ends with an IEND chunk, JPEG with EOI, WebP's RIFF header states the
    file's length, SVG ends with its closing tag."""
    if kind == "png":
        return tail.endswith(b"IEND\xaeB`\x82")
    if kind == "jpg":
        return tail.rstrip(b"\x00\r\n").endswith(b"\xff\xd9")
    if kind == "webp":
        if len(head) < 8:
            return False
        riff_size: int = struct.unpack("<I", head[4:8])[0]
        return riff_size + 8 == size
    if kind == "svg":
        return tail.rstrip().lower().endswith(b"</svg>")
    return False


def check_file(path: Path) -> tuple[str | None, bool]:
    """``(kind, complete)`` for a file on disk; ``(None, False)`` when it is not an image."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        kind = sniff(head)
        if kind is None:
            return None, False
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
    return kind, is_complete(kind, size, head, tail)
