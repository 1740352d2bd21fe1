"""The Dataset screen never reads or writes a caption that links out of the datasets folder.

`e` refuses it naming the file, the link's target and the fix; nothing is written; `f` on its
row says the link is the problem; the bulk-tags dialog leaves it out of its counts.
"""

from __future__ import annotations

import os
from pathlib import Path

from qbtui.tui.screens.dataset import DatasetScreen
from qbtui.tui.widgets.dataset_list import DatasetImageList
from qbtui.tui.widgets.tag_editor import TagEditorScreen
from tests.tui.waiting import workers_idle

OUTSIDE_TEXT = "outside words, secret\n"


def link_first_caption(registry: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Anna's first caption replaced by a link to a file outside the datasets folder: (link, target)."""
    target = tmp_path / "outside" / "cap.txt"
    target.parent.mkdir()
    target.write_text(OUTSIDE_TEXT, encoding="utf-8")
    link = registry.parent / "datasets" / "anna" / "30_anna" / "photo_00.txt"
    link.unlink()
    os.symlink(target, link)
    return link, target


def unchanged(link: Path, target: Path) -> bool:
    return link.is_symlink() and os.readlink(link) == str(target) and target.read_text(encoding="utf-8") == OUTSIDE_TEXT


def notifications(app) -> str:
    return "\n".join(notice.message for notice in app.notices.items)


async def open_anna(app, pilot) -> DatasetScreen:
    await workers_idle(pilot)
    app.action_open_dataset("anna")
    await workers_idle(pilot)
    assert isinstance(app.screen, DatasetScreen)
    return app.screen


async def test_e_refuses_a_caption_linked_outside_and_nothing_is_written(demo_registry, app_factory, tmp_path):
    link, target = link_first_caption(demo_registry, tmp_path)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_anna(app, pilot)
        assert screen.query_one(DatasetImageList).selected.path.name == "photo_00.jpg"
        await pilot.press("e")
        await pilot.pause()
        assert not screen.editing
        said = notifications(app)
        assert f"photo_00.txt cannot be edited: it links to {target}" in said
        assert "replace the link with a real file" in said
        await pilot.press("ctrl+s", "u")
        await workers_idle(pilot)
    assert unchanged(link, target)


async def test_f_on_its_row_names_the_link_and_its_fix(demo_registry, app_factory, tmp_path):
    link, target = link_first_caption(demo_registry, tmp_path)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_anna(app, pilot)
        assert screen.caption.border_title == "Caption · a link out of the datasets folder: not read"
        await pilot.press("f")
        await workers_idle(pilot)
        said = notifications(app)
        assert "nothing to fix for photo_00.jpg" in said and "replace the link with a real file" in said
    assert unchanged(link, target)


async def test_bulk_tags_leave_out_a_caption_linked_outside(demo_registry, app_factory, tmp_path):
    link, target = link_first_caption(demo_registry, tmp_path)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_anna(app, pilot)
        await pilot.press("b")
        await workers_idle(pilot)
        editor = app.screen
        assert isinstance(editor, TagEditorScreen)
        counts = dict(editor.frequencies)
        assert "secret" not in counts and "outside words" not in counts
        await pilot.press(*"grinning", "enter")
        await workers_idle(pilot)
        assert "left alone: photo_00.txt" in notifications(app)
    assert unchanged(link, target)
