"""Where outputs go: ``-o`` as a file, a folder or a template, and whether it can be written.

Checks here use the same rules as the final write in ``saving`` (a name that exists, even as
a dangling symbolic link, is not replaced without ``--force``), so a destination that passes
before the task is created is one the image can really be saved to.
"""

from __future__ import annotations

import os
import shlex
import stat
import string
from dataclasses import dataclass
from pathlib import Path

from runway_cli.errors import UsageError
from runway_cli.image_types import DISPLAY

TEMPLATE_FIELDS = ("id", "n", "ext", "model", "seed")
PROBE_ID = "00000000-0000-0000-0000-000000000000"
_SAME_KIND = {"jpg": {"jpg", "jpeg"}, "png": {"png"}, "webp": {"webp"}, "svg": {"svg"}}


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
        output.format(id=PROBE_ID, n=1, ext="png", model=model, seed=seed)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise UsageError(f"Invalid -o template {output!r}: {exc}.") from None


# Saving writes ".<name>.<8 hex>.part" beside the file first: 15 bytes longer than the name.
TEMP_NAME_EXTRA = 15
PATH_MAX = 4096


def too_long_name(path: Path) -> tuple[int, int] | None:
    """``(bytes, limit)`` when a part of ``path`` (or its temporary twin while saving) is
    longer than the file system takes (NAME_MAX of the nearest existing folder; 255 where it
    does not say), or the whole path is longer than PATH_MAX; else None. Found before a task
    is paid for, not when its image is saved."""
    folder = path.parent
    while str(folder) not in ("", ".") and not is_dir(folder) and folder != folder.parent:
        folder = folder.parent
    try:
        limit = os.pathconf(folder if str(folder) else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    sizes = [len(os.fsencode(part)) for part in path.parts]
    if sizes and sizes[-1] + TEMP_NAME_EXTRA > limit:
        return sizes[-1], limit - TEMP_NAME_EXTRA
    longest = max(sizes[:-1], default=0)
    if longest > limit:
        return longest, limit
    whole = len(os.fsencode(path.absolute())) + TEMP_NAME_EXTRA
    if whole >= PATH_MAX:
        return whole, PATH_MAX - 1
    return None


def template_makes_folders(output: str | None) -> bool:
    """True when a placeholder is in a folder part (``out/{id}/{n}.{ext}``): such templates
    may create missing folders; plain paths never do."""
    if output is None or not is_template(output):
        return False
    folder = str(Path(output).parent)
    return "{" in folder and bool(template_fields(folder))


def file_in_the_way(folder: Path) -> Path:
    """The nearest part of ``folder`` that exists and is not a folder (else ``folder``): what
    to name when making the folder fails with "File exists" or "Not a directory"."""
    for part in (folder, *folder.parents):
        if part.exists():
            return folder if part.is_dir() else part
    return folder


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def exists(path: Path) -> bool:
    """True for anything at ``path``, a dangling symbolic link included: the final link or
    rename would not create a new file there. Other errors (a name too long) raise OSError."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def _is_file_or_link_to_one(path: Path) -> bool:
    """A regular file, or a symbolic link to one or to nothing (a dangling link)."""
    mode = os.lstat(path).st_mode
    if stat.S_ISREG(mode):
        return True
    if not stat.S_ISLNK(mode):
        return False
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return True  # dangling: replacing the link writes nowhere else


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
    if output is None or output.endswith(("/", os.sep)) or is_dir(Path(output)):
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
    too_long = too_long_name(path)
    if too_long is not None:
        size, limit = too_long
        raise UsageError(
            f"Cannot save to {path}: a name in it is {size} bytes, more than the file system "
            f"takes here ({limit}).",
            hint="Choose a shorter -o.",
        )
    parent = path.parent if str(path.parent) else Path()
    if make_folders:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    # Folder trouble names the folder only: before a task exists, the file name is a stand-in.
    if not parent.exists():
        raise UsageError(
            f"Cannot save into {parent}: the folder does not exist.",
            hint=f"Create it first (mkdir -p {shlex.quote(str(parent))}) or choose another -o.",
        )
    if not parent.is_dir():
        raise UsageError(f"Cannot save into {parent}: it is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"Cannot save into {parent}: the folder is not writable.", hint="Choose another -o."
        )
    if exists(path) and path.is_dir():
        raise UsageError(f"Cannot save to {path}: it is a folder.")
    if exists(path) and not _is_file_or_link_to_one(path):
        # --force would rename the image over it: over /dev/null (as root) or a FIFO a
        # reader waits on. Only files are replaced, and links to files (the link itself).
        raise UsageError(
            f"Cannot save to {path}: it is not a regular file (a device, a pipe or a socket).",
            hint="Use -o - to write the image to stdout, or choose another -o.",
        )
    if exists(path) and not force:
        raise UsageError(
            f"{path} already exists.", hint="Pass --force to overwrite it, or choose another -o."
        )


@dataclass(frozen=True)
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

    def check_all(self, task_id: str, count: int, ext: str) -> None:
        """UsageError unless every one of ``count`` outputs can be written."""
        for path in self.paths(task_id, count, ext):
            check_destination(path, force=self.force, make_folders=self.make_folders)

    def precheck(self, count: int, ext: str, *, folder_only: bool = False) -> None:
        """Before the task exists (so before it costs anything): can we write there?

        ``folder_only`` checks just the folders (for ``download``, before the number of outputs
        is known); existing files are then checked once the task says how many there are.
        """
        if self.output is None:
            if not folder_only:  # nothing is saved now (download checks again later)
                check_destination(Path("runway-img-check"), force=True)
            return
        self.precheck_template()
        probe = self.paths(PROBE_ID, 1, ext)[0]
        if folder_only:
            check_destination(probe, force=True, make_folders=self.make_folders)
        elif is_template(self.output):
            if "{id}" in self.output.replace(" ", ""):
                check_destination(probe, force=True, make_folders=self.make_folders)
            else:
                self.check_all(PROBE_ID, count, ext)
        else:
            self.check_all("task", count, ext)

    def precheck_template(self) -> None:
        """UsageError unless a template ``-o`` fills in with the values this run has."""
        if self.output is not None and is_template(self.output):
            check_template(self.output, model=self.model, seed=self.seed)

    def extension_mismatch(self, kind: str, path: Path) -> str | None:
        """A warning when the user chose an extension other than what was served."""
        if self.output is None or is_dir(Path(self.output)):
            return None
        if is_template(self.output) and "ext" in template_fields(self.output):
            return None
        suffix = path.suffix.lower().lstrip(".")
        if suffix and suffix not in _SAME_KIND.get(kind, {kind}):
            shown = DISPLAY.get(kind, kind.upper())
            return f"The image is {shown} but {path} ends in .{suffix}; keeping your file name."
        return None


def url_ext(url: str) -> str:
    """The image extension an output URL's path suggests (png when it says nothing useful)."""
    from urllib.parse import urlsplit

    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    if suffix not in ("png", "jpg", "jpeg", "webp", "svg"):
        return "png"
    return "jpg" if suffix == "jpeg" else suffix
