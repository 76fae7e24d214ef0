"""Reference images: parsing ``--ref`` values and turning local files into image inputs.

A source is an ``https://`` URL, a ``runway://`` URI (from an upload), a ``data:image/`` URI, or
a local file. Local files are checked by their bytes (PNG, JPEG or WebP) and inlined as a
``data:`` URI when the whole URI stays under the API's 5 MiB limit; larger ones are uploaded
(``POST /v1/uploads``) and sent as the returned ``runway://`` URI.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

from runway_cli.errors import UsageError
from runway_cli.image_types import MIME, sniff_raster

TAG_RE = re.compile(r"^[a-z][a-z0-9_]{2,15}$")
# Anything shaped like a tag before '=' is taken as one (then checked), unless the whole value
# names an existing file.
_TAG_PREFIX_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)=(.*)$", re.S)
SUBJECTS = ("human", "object")
MAX_DATA_URI = 5 * 1024 * 1024  # characters of the whole data: URI
MAX_URL = 2048
MAX_RUNWAY_URI = 5000
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RefOption:
    """One ``--ref`` as the user wrote it: ``[TAG=]SOURCE[@human|@object]``."""

    source: str
    tag: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class LocalImage:
    path: Path
    kind: str  # png, jpg, webp (image_types names)
    data: bytes

    @property
    def mime(self) -> str:
        return MIME[self.kind]

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def data_uri_length(self) -> int:
        return len(f"data:{self.mime};base64,") + 4 * ((len(self.data) + 2) // 3)

    @property
    def fits_inline(self) -> bool:
        return self.data_uri_length() < MAX_DATA_URI


def parse_ref(text: str) -> RefOption:
    value = text.strip()
    if not value:
        raise UsageError("--ref needs a file, https:// URL or runway:// URI.")
    subject = None
    for candidate in SUBJECTS:
        if value.endswith(f"@{candidate}"):
            subject = candidate
            value = value[: -len(candidate) - 1]
            break
    value = value.strip()
    tag = None
    match = _TAG_PREFIX_RE.match(value)  # URLs and data: URIs never match: ':' comes first
    if match and not Path(value).exists():
        tag, value = match.group(1), match.group(2).strip()
        if not TAG_RE.match(tag):
            raise UsageError(
                f"Invalid reference tag {tag!r}: use 3-16 characters, a lowercase letter first, "
                "then lowercase letters, digits or _."
            )
    if not value:
        raise UsageError("--ref needs a file, https:// URL or runway:// URI.")
    return RefOption(source=value, tag=tag, subject=subject)


def load_source(source: str) -> str | LocalImage:
    """A remote source as a checked string, or a local file read and checked."""
    if source.startswith("https://"):
        if len(source) > MAX_URL:
            raise UsageError(
                f"Reference URL is {len(source)} characters; the API allows {MAX_URL}."
            )
        return source
    if source.startswith("runway://"):
        if len(source) > MAX_RUNWAY_URI:
            raise UsageError("Reference runway:// URI is too long.")
        return source
    if source.startswith("data:"):
        if not re.match(r"^data:image/(png|jpeg|webp);base64,", source):
            raise UsageError("Reference data: URIs must be data:image/png|jpeg|webp;base64,...")
        if len(source) >= MAX_DATA_URI:
            raise UsageError("Reference data: URI is over 5 MiB; pass the file itself instead.")
        return source
    if source.startswith("http://"):
        raise UsageError(f"Reference {source}: the API only fetches https:// URLs.")
    path = Path(source).expanduser()
    data = _read_image_file(path, source)
    kind = sniff_raster(data[:16])
    if kind is None:
        raise UsageError(f"Reference {source} is not a PNG, JPEG or WebP image.")
    return LocalImage(path=path, kind=kind, data=data)


def _read_image_file(path: Path, source: str) -> bytes:
    """At most the API's limit + 1 byte, whatever the file is (``/dev/zero``, a FIFO, a
    process substitution), so a wrong path never eats memory."""
    too_big = f"Reference {source} is over 16 MB; the API accepts images up to 16 MB."
    try:
        if path.is_dir():
            raise UsageError(f"Reference {source} is a folder, not an image file.")
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(too_big)
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"Reference image {source} does not exist.") from None
    except OSError as exc:
        raise UsageError(f"Cannot read reference image {source}: {exc.strerror}.") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(too_big)
    return data


def shorten_data_uri(uri: str, keep: int = 40) -> str:
    """For --dry-run: ``data:image/png;base64,iVBORw0KG…(123456 chars)``."""
    if not uri.startswith("data:") or len(uri) <= keep + 40:
        return uri
    head = uri.split(",", 1)[0]
    return f"{head},{uri[len(head) + 1 : len(head) + 1 + keep]}…({len(uri)} chars)"
