"""What a sandbox task produces: image size, file type, price, the bytes, and the signed,
expiring URLs they are served from."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from typing import Any

from .catalog_data import ModelRules, parse_ratio
from .images import make_jpeg, make_png, make_svg
from .store import TaskRow

FALLBACK_SIZE = (1024, 1024)
AUTO_SIZES = {"auto": (1024, 1024), "auto_1k": (1024, 1024), "auto_2k": (2048, 2048)}
JPEG_MAX_SIDE = 65535  # JPEG cannot describe a larger side
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "svg": "image/svg+xml"}
_MAKERS: dict[str, Callable[[str, int, int], bytes]] = {
    "png": make_png,
    "jpg": make_jpeg,
    "svg": make_svg,
}
_CACHED_IMAGES = 32


def size_for(model: ModelRules, ratio: Any) -> tuple[int, int]:
    """Pixels for the requested ratio, a keyword's size, or the model's first real ratio."""
    if isinstance(ratio, str):
        size = parse_ratio(ratio)
        if size is not None:
            return size
        if ratio in AUTO_SIZES:
            return AUTO_SIZES[ratio]
    for value in model.ratios:
        size = parse_ratio(value)
        if size is not None:
            return size
    return FALLBACK_SIZE


def file_kind(model: ModelRules, requested: Any, size: tuple[int, int]) -> str:
    """SVG for vector models, real JPEG when asked (and describable), else PNG.

    WebP is served as PNG: writing WebP would need an encoder the sandbox does not have.
    """
    if model.vector:
        return "svg"
    fmt = requested or model.default_format
    return "jpg" if fmt == "jpeg" and max(size) <= JPEG_MAX_SIDE else "png"


def price(width: int, height: int, outputs: int) -> int:
    """Credits for a task: 5 per image up to 1.5 megapixels, 8 per larger image."""
    return (5 if width * height <= 1_500_000 else 8) * outputs


class OutputFiles:
    """The bytes of each output, made on demand (a few kept), and their signed URLs."""

    def __init__(self, clock: Callable[[], float], ttl: float) -> None:
        self.clock = clock
        self.ttl = ttl
        self._secret = secrets.token_bytes(32)
        self._images: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    def sign(self, text: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{text}|{expires}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def url(self, base_url: str, row: TaskRow, index: int) -> str:
        expires = int(self.clock() + self.ttl)
        path = f"/_sandbox/files/{row.id}/{index}.{row.format}"
        return f"{base_url}{path}?expires={expires}&sig={self.sign(path, expires)}"

    def signature_ok(self, path: str, query: dict[str, list[str]]) -> bool:
        try:
            expires = int(query["expires"][0])
            sig = query["sig"][0]
        except (KeyError, IndexError, ValueError):
            return False
        if expires < self.clock():
            return False
        return hmac.compare_digest(sig, self.sign(path, expires))

    def image(self, row: TaskRow, index: int) -> bytes:
        """Output ``index`` of a task: deterministic for its prompt, id and index."""
        key = (row.id, index)
        with self._lock:
            data = self._images.get(key)
        if data is None:
            maker = _MAKERS.get(row.format, make_png)
            data = maker(f"{row.prompt}|{row.id}|{index}", row.width, row.height)
            with self._lock:
                if len(self._images) >= _CACHED_IMAGES:
                    self._images.clear()
                self._images[key] = data
        return data
