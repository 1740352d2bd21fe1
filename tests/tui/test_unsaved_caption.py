"""Issue 24 item 1: a caption typed and not saved is never dropped without asking.

Quitting (ctrl+q, the palette's Quit), leaving the screen (ctrl+r, the palette), `escape` or a click
on another photo with changed text asks Save / Discard / Cancel.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TextArea

from qbtui.tui.commands import palette_commands
from qbtui.tui.screens.dataset import DatasetScreen
from qbtui.tui.widgets.unsaved_dialog import UnsavedScreen
from tests.tui.waiting import wait_until, workers_idle


def caption_file(registry: Path, name: str = "photo_00.txt") -> Path:
    return registry.parent / "datasets" / "anna" / "30_anna" / name


async def edit_and_type(app, pilot, text: str = ", sunglasses") -> DatasetScreen:
    """Open Anna's dataset, `e` on the first photo, type `text` (not saved)."""
    await workers_idle(pilot)
    app.action_open_dataset("anna")
    await workers_idle(pilot)
    screen = app.screen
    assert isinstance(screen, DatasetScreen)
    await pilot.press("e", *text)
    assert screen.editing
    return screen


async def test_ctrl_q_with_typed_text_asks_instead_of_quitting(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_and_type(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, UnsavedScreen)
        assert app.return_code is None


async def test_save_writes_the_caption_then_quits(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_text()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_and_type(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("s")
        await wait_until(pilot, lambda: app.return_code is not None)
    assert caption.read_text() == before.strip() + ", sunglasses\n"
    assert sorted(path.name for path in caption.parent.iterdir() if path.name.startswith(".")) == []


async def test_discard_leaves_the_file_unchanged_and_quits(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_bytes()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_and_type(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("d")
        await wait_until(pilot, lambda: app.return_code is not None)
    assert caption.read_bytes() == before


async def test_cancel_keeps_the_editor_with_the_text(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_bytes()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.editing and app.return_code is None
        area = screen.query_one("#caption", TextArea)
        assert area.text == before.decode().strip() + ", sunglasses"
        assert app.focused is area
        await pilot.press(*" hat")
        assert area.text.endswith(", sunglasses hat")
    assert caption.read_bytes() == before


async def test_the_palette_quit_asks_too(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_and_type(app, pilot)
        [quit_command] = [command for command in palette_commands(app) if command.title == "Quit"]
        await quit_command.run()
        await pilot.pause()
        assert isinstance(app.screen, UnsavedScreen)
        assert app.return_code is None


async def test_leaving_the_screen_asks_and_cancel_stays(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, UnsavedScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.editing
        app.action_dashboard()
        await pilot.pause()
        assert isinstance(app.screen, UnsavedScreen)


async def test_escape_on_changed_text_asks_and_save_keeps_it(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_text()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, UnsavedScreen)
        await pilot.press("s")
        await workers_idle(pilot)
        assert app.screen is screen and not screen.editing
    assert caption.read_text() == before.strip() + ", sunglasses\n"


async def test_escape_on_unchanged_text_just_stops_editing(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot, text="")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and not screen.editing
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None)


async def test_a_failed_save_puts_the_text_back_into_the_editor(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        caption.unlink()
        caption.mkdir()  # a folder where the caption was: the save fails
        await pilot.press("ctrl+s")
        await workers_idle(pilot)
        assert screen.editing and screen.query_one("#caption", TextArea).text.endswith(", sunglasses")
        assert app.return_code is None


async def click_photo(pilot, screen: DatasetScreen, row: int) -> None:
    """A mouse click on the list's `row` (0 = the first photo)."""
    await pilot.click("#dataset-images", offset=(4, 1 + row))
    await pilot.pause()


async def test_clicking_another_photo_asks_and_cancel_stays_on_the_edited_one(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_bytes()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        edited = screen.editing_photo
        await click_photo(pilot, screen, 2)
        assert isinstance(app.screen, UnsavedScreen)
        await pilot.press("escape")
        await pilot.pause()
        area = screen.query_one("#caption", TextArea)
        assert app.screen is screen and screen.editing
        assert screen.image_list.selected_path == edited
        assert area.text == before.decode().strip() + ", sunglasses"
    assert caption.read_bytes() == before


async def test_clicking_another_photo_and_saving_writes_then_moves(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_text()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        edited = screen.editing_photo
        await click_photo(pilot, screen, 2)
        await pilot.press("s")
        await workers_idle(pilot)
        await wait_until(pilot, lambda: screen.image_list.selected_path not in (None, edited))
        assert not screen.editing
    assert caption.read_text() == before.strip() + ", sunglasses\n"


async def test_clicking_another_photo_and_discarding_moves_without_writing(demo_registry, app_factory):
    caption = caption_file(demo_registry)
    before = caption.read_bytes()
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        edited = screen.editing_photo
        await click_photo(pilot, screen, 2)
        await pilot.press("d")
        await wait_until(pilot, lambda: screen.image_list.selected_path not in (None, edited))
        assert not screen.editing
        image = screen.image_list.selected
        assert image is not None
        assert screen.query_one("#caption", TextArea).text == (image.caption or "")
    assert caption.read_bytes() == before


async def test_a_caption_changed_on_disk_while_editing_is_not_written_over_without_a_second_save(demo_registry, app_factory):
    """Issue 24 item 1: an edit made outside qbtui after `e` is not lost to ctrl+s; the typed text stays too."""
    caption = caption_file(demo_registry)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_and_type(app, pilot)
        caption.write_text("qb_anna person, EXTERNAL EDIT\n", encoding="utf-8")
        await pilot.press("ctrl+s")
        await workers_idle(pilot)
        assert caption.read_text(encoding="utf-8") == "qb_anna person, EXTERNAL EDIT\n"
        assert screen.editing and screen.query_one("#caption", TextArea).text.endswith(", sunglasses")
        await pilot.press("ctrl+s")  # asked once: the second save writes the typed text over it
        await workers_idle(pilot)
        await wait_until(pilot, lambda: caption.read_text(encoding="utf-8").endswith(", sunglasses\n"))
