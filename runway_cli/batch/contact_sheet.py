"""The contact sheet: ``index.html`` in the output folder, a grid of every item's images.

``render`` is a pure function from the manifest's item states to one self-contained page:
images linked by relative URLs (it works offline, from the folder, and keeps working when
the folder is moved), the prompt, model, ratio, seed, cost and task id under each, and
failed or unknown items with their reason. Every text is HTML-escaped. While the batch runs
the page reloads itself every few seconds.

``SheetWriter`` rewrites the page atomically (a temporary file renamed over it) as results
arrive, at most once per ``interval`` seconds, and always at the end.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path, PurePath
from urllib.parse import quote

from runway_cli.batch.manifest import ItemState, Phase

SHEET_NAME = "index.html"
_LABELS = {
    Phase.SENT: "unknown: the create may have reached Runway",
    Phase.UNKNOWN: "unknown: the create may have reached Runway",
    Phase.REFUSED: "refused",
    Phase.CREATED: "running",
    Phase.SAVED: "done",
    Phase.SAVE_FAILED: "saving failed",
    Phase.FAILED: "failed",
    Phase.CANCELLED: "cancelled",
}
_GROUPS = (
    ("done", (Phase.SAVED,)),
    ("running", (Phase.CREATED,)),
    ("failed", (Phase.FAILED, Phase.CANCELLED, Phase.REFUSED, Phase.SAVE_FAILED)),
    ("unknown", (Phase.SENT, Phase.UNKNOWN)),
)
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#fafafa;color:#222}
h1{font-size:1.3rem;margin:0 0 .3rem}
.counts{color:#555;margin:0 0 1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:1rem}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}
figure img{width:100%;height:auto;display:block;border-radius:4px;background:#eee}
figure.failed,figure.unknown,figure.refused,figure.cancelled,figure.save_failed{border-color:#d66}
figcaption{font-size:.8rem;line-height:1.35;margin-top:.4rem;overflow-wrap:anywhere}
.prompt{font-size:.9rem;color:#111;margin-bottom:.2rem}
.meta{color:#666}
.reason{color:#a22;margin-top:.3rem}
.state{display:inline-block;font-weight:600;text-transform:uppercase;font-size:.7rem}
.thumbs{display:grid;grid-template-columns:repeat(auto-fit,minmax(100px,1fr));gap:.3rem}
"""


def render(items: Sequence[ItemState], *, title: str, running: bool = False, now: str = "") -> str:
    """The page for these items (in line order)."""
    ordered = sorted(items, key=lambda s: (s.line, s.key))
    counts = ", ".join(
        f"{n} {word}"
        for word, phases in _GROUPS
        if (n := sum(1 for s in ordered if s.phase in phases)) or word == "done"
    )
    refresh = '<meta http-equiv="refresh" content="5">' if running else ""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'{refresh}<meta name="viewport" content="width=device-width">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f'<h1>{escape(title)}</h1>\n<p class="counts">{len(ordered)} items: {counts}'
        f"{' · the batch is running' if running else ''}"
        f'{" · " + escape(now) if now else ""}</p>\n<div class="grid">\n'
    )
    return head + "".join(_figure(s) for s in ordered) + "</div>\n</body></html>\n"


def _figure(item: ItemState) -> str:
    thumbs = "".join(_thumb(f, item) for f in item.files)
    if thumbs:
        thumbs = f'<div class="thumbs">{thumbs}</div>' if len(item.files) > 1 else thumbs
    label = _LABELS.get(item.phase, item.phase.value)
    state = "" if item.phase is Phase.SAVED else f'<span class="state">{escape(label)}</span> '
    meta = " · ".join(
        escape(part)
        for part in (
            f"line {item.line}",
            item.model or "",
            f"ratio {item.ratio}" if item.ratio else "",
            f"seed {item.seed}" if item.seed is not None else "",
            f"{item.cost:g} credits" if item.cost is not None else "",
        )
        if part
    )
    task = f"<br>task {escape(item.task_id)}" if item.task_id else ""
    reason = f'<div class="reason">{escape(item.error)}</div>' if item.error else ""
    return (
        f'<figure class="{item.phase.value}" id="item-{escape(item.key)}">{thumbs}'
        f'<figcaption>{state}<div class="prompt">{escape(item.prompt or "")}</div>'
        f'<span class="meta">{meta}{task}</span>{reason}</figcaption></figure>\n'
    )


def _thumb(path: str, item: ItemState) -> str:
    href = escape(quote(PurePath(path).as_posix()), quote=True)
    alt = escape(item.prompt or path, quote=True)
    return f'<a href="{href}"><img src="{href}" alt="{alt}" loading="lazy"></a>'


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old page or the new."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class SheetWriter:
    """Rewrites the contact sheet from the items' states, at most once per ``interval``."""

    def __init__(
        self,
        path: Path,
        items: Callable[[], Sequence[ItemState]],
        *,
        title: str,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._items = items
        self.title = title
        self.interval = interval
        self._clock = clock
        self._last = -interval
        self._lock = threading.Lock()
        self.problem: str | None = None  # why the last write failed

    def update(self, *, final: bool = False) -> None:
        """Write the page now if the last write is ``interval`` old (always if ``final``).
        Never raises: the sheet must not stop a batch; ``problem`` says why it failed."""
        with self._lock:
            now = self._clock()
            if not final and now - self._last < self.interval:
                return
            self._last = now
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            page = render(self._items(), title=self.title, running=not final, now=stamp)
            try:
                write_atomically(self.path, page)
            except OSError as exc:
                self.problem = f"Cannot write the contact sheet {self.path}: {exc.strerror or exc}."
            else:
                self.problem = None
