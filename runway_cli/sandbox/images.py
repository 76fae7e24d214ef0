"""Real image files for the sandbox, made with the standard library only.

Images are deterministic for a (seed, width, height): a vertical gradient between two colours
derived from the seed, with a band across the middle and a fine film grain. The grain keeps
files about as large as real generated images (roughly 1 MB at 1280x720), so downloads are
exercised realistically. Rows are built with bytes multiplication and one big-integer addition
each, so even 4096x4096 stays fast.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib


def _colours(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


_GRAIN_ROWS = 16
_GRAIN_MASK = bytes(b & 0x07 for b in range(256))  # grain adds 0..7 to each channel


def row_colour(seed: str, y: int, height: int) -> tuple[int, int, int]:
    """The base colour of row ``y``; every channel is <= 248 so adding grain (<= 7) never
    carries into the next byte."""
    top, bottom = _colours(seed)
    if abs(y - height // 2) < max(1, height // 40):
        colour = (255 - top[0], 255 - top[1], 255 - top[2])
    else:
        t = y / max(1, height - 1)
        colour = (
            round(top[0] + (bottom[0] - top[0]) * t),
            round(top[1] + (bottom[1] - top[1]) * t),
            round(top[2] + (bottom[2] - top[2]) * t),
        )
    return (colour[0] * 248 // 255, colour[1] * 248 // 255, colour[2] * 248 // 255)


def make_png(seed: str, width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of exactly ``width`` x ``height`` pixels."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    compressor = zlib.compressobj(1)  # speed over size: it is test data
    parts: list[bytes] = []
    rng = random.Random(seed)
    grain = [
        int.from_bytes(rng.randbytes(width * 3).translate(_GRAIN_MASK), "big")
        for _ in range(_GRAIN_ROWS)
    ]
    row_len = width * 3
    for y in range(height):
        base = int.from_bytes(bytes(row_colour(seed, y, height)) * width, "big")
        row = (base + grain[(y * 7) % _GRAIN_ROWS]).to_bytes(row_len, "big")
        parts.append(compressor.compress(b"\x00" + row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR (for tests and checks)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
