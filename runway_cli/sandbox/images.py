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
    rng = random.Random(seed)
    grain = [
        int.from_bytes(rng.randbytes(width * 3).translate(_GRAIN_MASK), "big")
        for _ in range(_GRAIN_ROWS)
    ]
    row_len = width * 3
    rows = []
    for y in range(height):
        base = int.from_bytes(bytes(row_colour(seed, y, height)) * width, "big")
        rows.append(b"\x00" + (base + grain[(y * 7) % _GRAIN_ROWS]).to_bytes(row_len, "big"))
    # Stored deflate blocks (level 0): grain does not compress anyway, and compressing it cost
    # most of a test run's sandbox time; files are about 3 bytes a pixel, like real outputs.
    pixels = zlib.compress(b"".join(rows), 0)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def sniff_image(head: bytes) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"webp"`` from a file's first bytes (12 are enough); else None.

    The sandbox's own sniffer, for uploads and ``data:`` reference URIs: the formats the API
    accepts as image inputs.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR (for tests and checks)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def make_svg(seed: str, width: int, height: int) -> bytes:
    """A small vector image of ``width`` x ``height`` (for vector models such as Recraft's)."""
    top, bottom = _colours(seed)
    band = (255 - top[0], 255 - top[1], 255 - top[2])

    def hexc(c: tuple[int, int, int]) -> str:
        return "#{:02x}{:02x}{:02x}".format(*c)

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{hexc(top)}"/><stop offset="1" stop-color="{hexc(bottom)}"/>'
        f'</linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>'
        f'<rect y="{height * 19 // 40}" width="100%" height="{max(1, height // 20)}" '
        f'fill="{hexc(band)}"/></svg>\n'
    ).encode()


# -- JPEG -----------------------------------------------------------------------------------
# A baseline JPEG where every 8x8 block is one flat colour (the row's base colour), so only DC
# coefficients are coded. Custom Huffman tables keep it tiny: DC categories 0-11 all get 4-bit
# codes, and the only AC symbol is end-of-block with the 1-bit code "0".

_DC_BITS = bytes([0, 0, 0, 12] + [0] * 12)  # 12 codes of length 4
_DC_VALS = bytes(range(12))
_AC_BITS = bytes([1] + [0] * 15)  # one code of length 1
_AC_VALS = bytes([0x00])  # EOB


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _dc_bits(diff: int) -> str:
    """Huffman code (category) + magnitude bits for a DC difference."""
    if diff == 0:
        return "0000"
    size = abs(diff).bit_length()
    magnitude = diff if diff > 0 else diff + (1 << size) - 1
    return format(size, "04b") + format(magnitude, f"0{size}b")


def _ycc(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    # DC of a flat 8x8 block with a quantiser of 1 is 8 * (level - 128)
    return tuple(round(8 * (min(255.0, max(0.0, v)) - 128)) for v in (y, cb, cr))  # type: ignore[return-value]


def make_jpeg(seed: str, width: int, height: int) -> bytes:
    """A real baseline JPEG (4:4:4, DC only) of exactly ``width`` x ``height`` pixels."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    blocks_x = (width + 7) // 8
    bits: list[str] = []
    previous = [0, 0, 0]
    flat = ("0000" + "0") * 3  # an MCU identical to the one before: three zero diffs + EOBs
    for by in range((height + 7) // 8):
        dc = _ycc(row_colour(seed, min(by * 8, height - 1), height))
        first = "".join(_dc_bits(dc[c] - previous[c]) + "0" for c in range(3))
        previous = list(dc)
        bits.append(first + flat * (blocks_x - 1))
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)  # pad with 1-bits, as the standard asks
    data = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    data = data.replace(b"\xff", b"\xff\x00")
    quant = bytes([1] * 64)
    header = (
        b"\xff\xd8"
        + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xDB, b"\x00" + quant)
        + _segment(
            0xC0,
            struct.pack(">BHHB", 8, height, width, 3)
            + b"\x01\x11\x00"
            + b"\x02\x11\x00"
            + b"\x03\x11\x00",
        )
        + _segment(0xC4, b"\x00" + _DC_BITS + _DC_VALS)
        + _segment(0xC4, b"\x10" + _AC_BITS + _AC_VALS)
        + _segment(0xDA, b"\x03" + b"\x01\x00" + b"\x02\x00" + b"\x03\x00" + b"\x00\x3f\x00")
    )
    return header + data + b"\xff\xd9"
