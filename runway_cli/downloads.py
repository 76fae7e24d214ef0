"""Saving task outputs to disk: choosing file names, checking destinations, streaming safely.

A file is streamed to a hidden temporary file beside its destination, checked (length and image
signature) and only then moved into place, so an interrupted or failed download never leaves a
partial file where the user expects an image. Cut connections resume with ``Range`` when the
server allows it; expired output URLs are refreshed from the task.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runway_cli.client import RunwayClient
from runway_cli.errors import APIError, NetworkError, SaveError, UsageError

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
)
_MAX_ATTEMPTS = 4
log = logging.getLogger("runway_cli.http")


def sniff_image(head: bytes) -> str | None:
    """The file extension for an image's first bytes: png, jpg, webp, svg; None if not an image."""
    for magic, ext in _SIGNATURES:
        if head.startswith(magic):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    text = head[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<svg") or (
        text.startswith((b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in text
    ):
        return "svg"
    return None


TEMPLATE_FIELDS = ("id", "n", "ext", "model", "seed")


def is_template(output: str | None) -> bool:
    return output is not None and "{" in output


def template_fields(output: str) -> list[str]:
    """The placeholder names in a template (UsageError if it is malformed)."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(output) if name is not None]
    except ValueError as exc:
        raise UsageError(f"Invalid -o template {output!r}: {exc}.") from None


def check_template(output: str, *, model: str | None, seed: int | None) -> None:
    """Raise UsageError unless the template fills in with the values this run will have."""
    names = template_fields(output)
    unknown = sorted({n for n in names if n not in TEMPLATE_FIELDS})
    if unknown or "" in names:
        allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise UsageError(f"Unknown placeholder in -o {output!r}; use {allowed}.")
    if "seed" in names and seed is None:
        raise UsageError("-o uses {seed}, but no --seed is given (or known for this task).")
    if "model" in names and model is None:
        raise UsageError("-o uses {model}, but the model of this task is not known here.")
    try:
        output.format(
            id="00000000-0000-0000-0000-000000000000", n=1, ext="png", model=model, seed=seed
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise UsageError(f"Invalid -o template {output!r}: {exc}.") from None


def template_makes_folders(output: str | None) -> bool:
    """True when a placeholder is in a folder part (``out/{id}/{n}.{ext}``): such templates
    may create missing folders; plain paths never do."""
    if not is_template(output):
        return False
    folder = str(Path(output or "").parent)
    return bool(template_fields(folder)) if "{" in folder else False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def plan_paths(
    task_id: str,
    count: int,
    output: str | None,
    ext: str,
    *,
    model: str | None = None,
    seed: int | None = None,
) -> list[Path]:
    """Destination paths for ``count`` outputs.

    No ``-o``: ``<task id>.<ext>`` in the current directory. ``-o DIR`` (an existing directory):
    the same names inside it. ``-o FILE``: that name; with several outputs it gets numbered
    (``out-1.png``, ``out-2.png``). ``-o TEMPLATE``: ``{id}``, ``{n}`` (1-based), ``{ext}``,
    ``{model}`` and ``{seed}`` filled in; numbered as above if several outputs and no ``{n}``.
    """
    if output is not None and is_template(output):
        values = {
            "id": task_id,
            "ext": ext,
            "model": model or "",
            "seed": "" if seed is None else seed,
        }
        paths = [Path(output.format(n=n, **values)) for n in range(1, count + 1)]
        if count > 1 and len(set(paths)) < count:
            return [p.with_name(f"{p.stem}-{n}{p.suffix}") for n, p in enumerate(paths, start=1)]
        return paths
    if output is None or output.endswith(("/", os.sep)) or _is_dir(Path(output)):
        folder = Path(output) if output else Path()
        if count == 1:
            return [folder / f"{task_id}.{ext}"]
        return [folder / f"{task_id}-{n}.{ext}" for n in range(1, count + 1)]
    path = Path(output)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(1, count + 1)]


def check_destination(path: Path, *, force: bool, make_folders: bool = False) -> None:
    """Raise UsageError unless ``path`` can be written (created, or replaced with force).

    With ``make_folders``, missing folders are fine if the nearest existing one is writable.
    """
    try:
        _check_destination(path, force=force, make_folders=make_folders)
    except OSError as exc:  # e.g. a name longer than the filesystem allows
        raise UsageError(f"Cannot save to {path}: {exc.strerror or exc}.") from None


def _check_destination(path: Path, *, force: bool, make_folders: bool) -> None:
    parent = path.parent if str(path.parent) else Path()
    if make_folders:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if not parent.exists():
        raise UsageError(
            f"Cannot save to {path}: the folder {parent} does not exist.",
            hint=f"Create it first (mkdir -p {parent}) or choose another -o.",
        )
    if not parent.is_dir():
        raise UsageError(f"Cannot save to {path}: {parent} is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"Cannot save to {path}: the folder {parent} is not writable.",
            hint="Choose another -o.",
        )
    if path.is_dir():
        raise UsageError(f"Cannot save to {path}: it is a folder.")
    if path.exists() and not force:
        raise UsageError(
            f"{path} already exists.", hint="Pass --force to overwrite it, or choose another -o."
        )


@dataclass
class SavedFile:
    path: Path
    url: str
    bytes: int
    kind: str


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
            f"{dest} appeared while downloading; not overwriting it.",
            hint="Pass --force to overwrite it, or choose another -o.",
        ) from None
    except OSError:
        # Filesystems without hard links: fall back to a checked rename.
        if dest.exists():
            raise SaveError(f"{dest} appeared while downloading; not overwriting it.") from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def _stream_once(client: RunwayClient, url: str, tmp: Path, offset: int) -> Iterator[int]:
    """Append the body of ``url`` (from ``offset``) to ``tmp``; yield the running byte count."""
    download = client.open_download(url, offset=offset)
    try:
        if offset and download.response.status_code != 206:
            offset = 0  # the server ignored Range: start over
        expected = None if download.length is None else offset + download.length
        mode = "ab" if offset else "wb"
        written = offset
        with tmp.open(mode) as fh:
            for chunk in download.chunks():
                fh.write(chunk)
                written += len(chunk)
                yield written
        if expected is not None and written != expected:
            raise NetworkError(f"The download ended early ({written} of {expected} bytes).")
        yield written
    finally:
        download.close()


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
    host) is replaced by ``refresh_url()`` once per attempt.
    """
    provisional = choose_dest("png")
    if make_folders:
        try:
            provisional.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SaveError(f"Could not create {provisional.parent}: {exc.strerror}.") from None
    tmp = _temp_path(provisional)
    written = 0
    last_error = "unknown error"
    try:
        for _attempt in range(_MAX_ATTEMPTS):
            try:
                for count in _stream_once(client, url, tmp, written):
                    on_progress(count)
                    written = count
                break
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
        else:
            raise SaveError(f"Could not download {provisional.name}: {last_error}.")
        if not tmp.exists() or written == 0:
            raise SaveError(f"Could not download {provisional.name}: {last_error}.")
        with tmp.open("rb") as fh:
            kind = sniff_image(fh.read(512))
        if kind is None:
            raise SaveError(
                f"The output for {provisional.name} is not a PNG, JPEG, WebP or SVG image."
            )
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


def url_ext(url: str) -> str:
    """The image extension an output URL's path suggests (png when it says nothing useful)."""
    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    return (
        {"jpeg": "jpg"}.get(suffix, suffix)
        if suffix in ("png", "jpg", "jpeg", "webp", "svg")
        else "png"
    )


def output_urls(task: dict[str, Any]) -> list[str]:
    output = task.get("output")
    if not isinstance(output, list) or not all(isinstance(u, str) for u in output):
        return []
    return list(output)


_SAME_KIND = {"jpg": {"jpg", "jpeg"}, "png": {"png"}, "webp": {"webp"}, "svg": {"svg"}}


@dataclass
class OutputPlan:
    """Where a task's outputs go: ``-o`` (plain path, folder or template) and ``--force``."""

    output: str | None
    force: bool
    model: str | None = None
    seed: int | None = None

    @property
    def make_folders(self) -> bool:
        return template_makes_folders(self.output)

    def paths(self, task_id: str, count: int, ext: str) -> list[Path]:
        return plan_paths(task_id, count, self.output, ext, model=self.model, seed=self.seed)

    def precheck(self, count: int, ext: str, *, folder_only: bool = False) -> None:
        """Before the task exists (so before it costs anything): can we write there?

        ``folder_only`` checks just the folders (for ``download``, before the number of outputs
        is known); existing files are then checked once the task says how many there are.
        """
        if self.output is None:
            check_destination(Path("runway-img-check"), force=True)
            return
        if is_template(self.output):
            check_template(self.output, model=self.model, seed=self.seed)
        if folder_only:
            probe = self.paths("00000000-0000-0000-0000-000000000000", 1, ext)[0]
            check_destination(probe, force=True, make_folders=self.make_folders)
            return
        if is_template(self.output):
            if "{id}" not in self.output.replace(" ", ""):
                for path in self.paths("00000000-0000-0000-0000-000000000000", count, ext):
                    check_destination(path, force=self.force, make_folders=self.make_folders)
            else:
                probe = self.paths("00000000-0000-0000-0000-000000000000", 1, ext)[0]
                check_destination(probe, force=True, make_folders=self.make_folders)
            return
        for path in self.paths("task", count, ext):
            check_destination(path, force=self.force)

    def extension_mismatch(self, kind: str, path: Path) -> str | None:
        """A warning when the user chose an extension other than what was served."""
        if self.output is None or _is_dir(Path(self.output)):
            return None
        if is_template(self.output) and "ext" in template_fields(self.output):
            return None
        suffix = path.suffix.lower().lstrip(".")
        if suffix and suffix not in _SAME_KIND.get(kind, {kind}):
            shown = {"jpg": "JPEG"}.get(kind, kind.upper())
            return f"The image is {shown} but {path} ends in .{suffix}; keeping your file name."
        return None
