"""The contact sheet as a pure page: images linked relatively, every caption field shown,
failures with their reason, every text escaped; written atomically."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from runway_cli.batch.contact_sheet import SheetWriter, render, write_atomically
from runway_cli.batch.manifest import ItemState, Phase

ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"


class Page(HTMLParser):
    """Every link, image source and the visible text of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: list[str] = []
        self.figures: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "figure":
            self.figures.append(values.get("id") or "")
        if tag == "img" and values.get("src"):
            self.srcs.append(values["src"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def state(**fields: object) -> ItemState:
    base: dict[str, object] = {"key": "k1", "line": 1, "phase": Phase.SAVED, "model": "gen4_image"}
    base.update(fields)
    return ItemState(**base)  # type: ignore[arg-type]


def test_saved_items_are_linked_images_with_their_facts() -> None:
    item = state(
        prompt="a fox",
        ratio="1280:720",
        seed=7,
        cost=5,
        task_id=ID,
        files=("sub dir/fox #1.png", "fox-2.png"),
    )
    page = Page(render([item], title="t"))
    assert page.srcs == ["sub%20dir/fox%20%231.png", "fox-2.png"] == page.hrefs
    for fact in ("a fox", "gen4_image", "ratio 1280:720", "seed 7", "5 credits", ID, "line 1"):
        assert fact in page.visible


def test_failed_and_unknown_items_show_why() -> None:
    items = [
        state(key="a", line=2, phase=Phase.FAILED, prompt="x", error="moderation said no"),
        state(key="b", line=3, phase=Phase.SENT, prompt="y"),
        state(key="c", line=1, phase=Phase.CREATED, prompt="z", task_id=ID),
    ]
    page = Page(render(items, title="t", running=True))
    assert "moderation said no" in page.visible
    assert "unknown: the create may have reached Runway" in page.visible
    assert page.figures == ["item-c", "item-a", "item-b"]  # in line order
    assert "meta" in page.tags  # reloads itself while running


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=y>'
    item = state(prompt=hostile, error=hostile, files=('"><script>.png',), model="<m>")
    html = render([item], title=hostile)
    page = Page(html)
    assert "script" not in page.tags and page.tags.count("img") == 1
    assert hostile in page.visible
    assert page.srcs == ["%22%3E%3Cscript%3E.png"]


def test_written_atomically_and_at_most_once_per_interval(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "index.html"
    write_atomically(target, "old")
    now = [0.0]
    items = [state(prompt="first")]
    writer = SheetWriter(target, lambda: items, title="t", interval=1.0, clock=lambda: now[0])
    writer.update()
    assert "first" in target.read_text()
    items[0] = state(prompt="second")
    writer.update()  # too soon
    assert "first" in target.read_text()
    writer.update(final=True)
    assert "second" in target.read_text() and "refresh" not in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.html"]  # no temporary left


def test_a_sheet_that_cannot_be_written_does_not_stop_the_batch(tmp_path: Path) -> None:
    writer = SheetWriter(tmp_path / "missing" / "index.html", lambda: [], title="t")
    writer.update(final=True)
    assert writer.problem is not None and "Cannot write the contact sheet" in writer.problem
