"""Saving one output to disk safely: stream, verify, then move into place.

A file is streamed to a hidden temporary file beside its destination, checked (length, a real
image signature, and a complete image: PNG IEND, JPEG EOI, WebP RIFF length, SVG closing tag)
and only then moved into place, so an interrupted or failed download never leaves a partial
file where the user expects an image. Cut connections resume with ``Range`` when the server
allows it (a ``206`` must start where it was asked to, or the download restarts from zero);
expired output URLs are refreshed from the task.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runway_cli.api.client import RunwayClient
from runway_cli.errors import APIError, NetworkError, SaveError
from runway_cli.image_types import DISPLAY, check_file
from runway_cli.output_paths import exists

_MAX_ATTEMPTS = 4
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.ASCII)
log = logging.getLogger("runway_cli.http")


@dataclass(frozen=True)
class SavedFile:
    path: Path
    url: str
    bytes: int
    kind: str


@dataclass(frozen=True)
class ContentRange:
    first: int
    last: int
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    """``bytes 100-199/200`` -> ContentRange(100, 199, 200); None if absent or malformed."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == "*" else int(match.group(3))
    if last < first or (total is not None and last >= total):
        return None
    return ContentRange(first, last, total)


class _RestartFromZero(Exception):
    """A resumed download answered from the wrong offset: start again from byte zero."""


def _temp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")


def _move_into_place(tmp: Path, dest: Path, *, force: bool) -> None:
    if force:
        os.replace(tmp, dest)
        return
    try:
        # link() refuses to overwrite: a file that appeared meanwhile is never clobbered.
        os.link(tmp, dest)
    except FileExistsError:
        raise SaveError(
            f"{dest} appeared while downloading; not overwriting it.", existing=dest
        ) from None
    except OSError:
        # Filesystems without hard links: fall back to a checked rename.
        if exists(dest):
            raise SaveError(
                f"{dest} appeared while downloading; not overwriting it.", existing=dest
            ) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def _expected_total(offset: int, length: int | None, content_range: str | None) -> int | None:
    """The size the whole file should have. A ``206`` must start at ``offset``, else the
    download restarts from zero: appending bytes from elsewhere would corrupt the image."""
    if not offset:
        return length
    span = parse_content_range(content_range)
    if span is None or span.first != offset:
        raise _RestartFromZero(f"asked for byte {offset}, got Content-Range {content_range!r}")
    if span.total is not None:
        return span.total
    return None if length is None else offset + length


def _stream_once(client: RunwayClient, url: str, tmp: Path, offset: int) -> Iterator[int]:
    """Append the body of ``url`` (from ``offset``) to ``tmp``; yield the running byte count."""
    download = client.open_download(url, offset=offset)
    try:
        if offset and download.status != 206:
            offset = 0  # the server ignored Range: start over
        expected = _expected_total(offset, download.length, download.content_range)
        written = offset
        with tmp.open("ab" if offset else "wb") as fh:
            for chunk in download.chunks():
                fh.write(chunk)
                written += len(chunk)
                yield written
        if expected is not None and written != expected:
            raise NetworkError(f"The download ended early ({written} of {expected} bytes).")
        yield written
    finally:
        download.close()


def _verify(tmp: Path, name: str) -> str:
    """The image kind of a finished download; NetworkError when it is cut short."""
    kind, complete = check_file(tmp)
    if kind is None:
        raise SaveError(f"The output for {name} is not a PNG, JPEG, WebP or SVG image.")
    if not complete:
        raise NetworkError(f"The {DISPLAY[kind]} image ended early (the file is incomplete).")
    return kind


def save_output(
    client: RunwayClient,
    url: str,
    choose_dest: Callable[[str], Path],
    *,
    force: bool,
    make_folders: bool = False,
    refresh_url: Callable[[], str] | None = None,
    on_progress: Callable[[int], None] = lambda n: None,
) -> SavedFile:
    """Download ``url`` via a temporary file; raise SaveError if it cannot be done.

    ``choose_dest(kind)`` names the destination once the image type (png, jpg, webp, svg) is
    known from the bytes, so default names get the right extension.

    Cut connections resume (Range) or restart; an expired/forbidden URL (403/404 from the file
    host) is replaced by ``refresh_url()``.
    """
    provisional = choose_dest("png")
    if make_folders:
        try:
            provisional.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SaveError(f"Could not create {provisional.parent}: {exc.strerror}.") from None
    tmp = _temp_path(provisional)
    try:
        url, written, kind = _download(client, url, tmp, provisional.name, refresh_url, on_progress)
        dest = choose_dest(kind)
        if make_folders:
            dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            _move_into_place(tmp, dest, force=force)
        except OSError as exc:
            raise SaveError(f"Could not write {dest}: {exc.strerror or exc}.") from None
        return SavedFile(path=dest, url=url, bytes=written, kind=kind)
    except OSError as exc:
        raise SaveError(f"Could not write next to {provisional}: {exc.strerror or exc}.") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _download(
    client: RunwayClient,
    url: str,
    tmp: Path,
    name: str,
    refresh_url: Callable[[], str] | None,
    on_progress: Callable[[int], None],
) -> tuple[str, int, str]:
    """Fetch into ``tmp`` with resumes and restarts; ``(url used, bytes, kind)``."""
    written = 0
    last_error = "unknown error"
    for _attempt in range(_MAX_ATTEMPTS):
        try:
            for count in _stream_once(client, url, tmp, written):
                on_progress(count)
                written = count
            if written == 0:
                raise NetworkError("The file host sent no bytes.")
            return url, written, _verify(tmp, name)
        except _RestartFromZero as exc:
            last_error = str(exc)
            log.info("download restarts from byte 0: %s", exc)
            written = 0
        except NetworkError as exc:
            last_error = exc.message
            written = tmp.stat().st_size if tmp.exists() else 0
            log.info("download broke (%s); resuming at byte %d", exc.message, written)
        except APIError as exc:
            last_error = f"the file host answered HTTP {exc.status_code}"
            written = 0
            if exc.status_code in (403, 404, 410) and refresh_url is not None:
                log.info("output URL refused (HTTP %d); fetching fresh URLs", exc.status_code)
                url = refresh_url()
            elif exc.status_code < 500 and exc.status_code != 429:
                break
    raise SaveError(f"Could not download {name}: {last_error.rstrip('.')}.")
