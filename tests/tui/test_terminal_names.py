"""The dashboard shows file and friend names with control characters as visible escapes
and markup in them as text: nothing a name holds reaches the terminal as a command."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.content import Content
from textual.widgets import DataTable, Static

from qbtui.tui.commands import palette_commands
from qbtui.tui.screens.dashboard import friend_details
from qbtui.tui.screens.dataset import DatasetScreen
from qbtui.tui.widgets.dataset_list import DatasetImageList
from tests.tui.waiting import workers_idle

HOSTILE_PHOTO = "[bold]new\nline\x1b[2J[$x].jpg"
HOSTILE_NAME = "Anna\x1b[2J[red]x"


def _hostile_workspace(registry: Path) -> None:
    folder = registry.parent / "datasets" / "anna" / "30_anna"
    shutil.copyfile(folder / "photo_00.jpg", folder / HOSTILE_PHOTO)
    (folder / HOSTILE_PHOTO).with_suffix(".txt").write_text("qb_anna person, smiling\n", encoding="utf-8")
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace('name = "Anna"', 'name = "Anna\\u001b[2J[red]x"', 1), encoding="utf-8")


async def test_names_with_control_characters_and_markup_show_as_text(demo_registry, app_factory):
    _hostile_workspace(demo_registry)
    app = app_factory(demo_registry)
    async with app.run_test(size=(120, 40)) as pilot:
        await workers_idle(pilot)
        table = app.screen.query_one(DataTable)
        assert str(table.get_cell("anna", "name")) == "Anna\\x1b[2J[red]x"
        panel = friend_details(app, "anna").plain
        assert "\x1b" not in panel and "Anna\\x1b[2J[red]x" in panel
        titles = [Content.from_markup(command.title).plain for command in palette_commands(app)]
        assert "Open dataset: Anna\\x1b[2J[red]x" in titles
        app.action_open_dataset("anna")
        await workers_idle(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        image_list = screen.query_one(DatasetImageList)
        shown = [str(image_list.get_option_at_index(row).prompt) for row in range(len(image_list.images))]
        assert any("[bold]new\\nline\\x1b[2J[$x].jpg" in line for line in shown), shown
        assert not any("\x1b" in line or "\n" in line for line in shown)
        summary = str(screen.query_one("#dataset-summary", Static).content)
        assert "Anna\\x1b[2J[red]x" in summary and "\x1b" not in summary
        row = next(row for row, image in enumerate(image_list.images) if image.path.name == HOSTILE_PHOTO)
        image_list.highlighted = row
        await workers_idle(pilot)
        assert screen.caption._border_title is not None
        assert screen.caption._border_title.plain == "Caption · [bold]new\\nline\\x1b[2J[$x].txt"


async def test_a_caption_with_escapes_shows_them_as_text(demo_registry, app_factory):
    caption = demo_registry.parent / "datasets" / "anna" / "30_anna" / "photo_00.txt"
    caption.write_text("qb_x person, \x1b[31mred\x1b[0m, [blink]tag[/blink], a\x07b\n", encoding="utf-8")
    app = app_factory(demo_registry)
    async with app.run_test(size=(60, 20)) as pilot:
        await workers_idle(pilot)
        app.action_open_dataset("anna")
        await workers_idle(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        image_list = screen.query_one(DatasetImageList)
        image_list.highlighted = next(row for row, image in enumerate(image_list.images) if image.path.stem == "photo_00")
        await workers_idle(pilot)
        shown = screen.caption.text
        assert "\\x1b[31mred\\x1b[0m, [blink]tag[/blink], a\\x07b" in shown, shown
        assert "\x1b" not in shown and "\x07" not in shown
