"""Layouts that use the width, footers that follow the dialog, the notifications log and
toasts that fit the screen."""

from __future__ import annotations

from textual.widgets import Footer, RichLog

from qbtui.tui.notices import LOG_POINTER, toast_text
from qbtui.tui.screens.add_friend import AddFriendScreen
from qbtui.tui.screens.notices import NoticesScreen
from qbtui.tui.widgets.friend_table import FriendTable
from tests.tui.waiting import wait_until, workers_idle


def test_a_long_notice_becomes_a_short_toast_pointing_to_the_log():
    long = "the dataset is not ready:\n" + "\n".join(
        f"  - photo_{index}.jpg is not 512x512 (fix: prep it)" for index in range(12)
    )
    toast = toast_text(long, width=36)
    assert len(toast.splitlines()) == 3 and toast.splitlines()[-1] == LOG_POINTER
    assert toast_text("short and sweet", width=36) == "short and sweet"


async def test_the_notifications_log_reopens_every_notice_in_full(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        long = "first line\n" + "\n".join(f"detail {index}" for index in range(10))
        app.notify(long, severity="error")
        await pilot.pause()
        assert all(len(str(note.message).splitlines()) <= 3 for note in app._notifications)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, NoticesScreen)
        await wait_until(pilot, lambda: "detail 9" in " ".join(s.text for s in app.screen.query_one(RichLog).lines))
        assert next(key.description for key in app.screen.query_one(Footer).query("FooterKey")) == "Close"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, NoticesScreen)


async def test_the_notifications_log_opens_on_the_newest_notice(demo_registry, app_factory, settle):
    """Issue 25 item 1: newest first, and scrolled to the top where the newest is."""
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for index in range(30):
            app.notify(f"notice number {index}\nsecond line of {index}", timeout=0.1)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, NoticesScreen))
        log = app.screen.query_one(RichLog)
        await wait_until(pilot, lambda: log.max_scroll_y > 0 and "notice number 0" in " ".join(s.text for s in log.lines))
        await pilot.pause()
        assert log.scroll_y == 0
        assert "notice number 29" in log.lines[1].text
        await pilot.pause(0.3)
        assert log.scroll_y == 0


async def test_a_dialog_shows_its_own_keys_in_the_footer(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddFriendScreen) and bool(app.screen.query("FooterKey")))
        keys = [key.description for key in app.screen.query_one(Footer).query("FooterKey")]
        assert "Add" in keys and "Cancel" in keys and "Train" not in keys


async def test_the_training_column_fits_its_texts_and_the_file_list_grows_at_160_columns(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FriendTable)
        training = table.columns["training"]
        cell = str(table.get_cell("anna", "training"))
        assert cell == "blocked: 12 photos, needs 20" and training.width >= len(cell)
        assert len("trained 2026-12-01 · 1200 steps") <= training.width
        assert app.screen.query_one("#friend-panel").size.width >= 50
        await pilot.press("d")
        await workers_idle(pilot)
        assert app.screen.query_one("#dataset-images").size.width > 40  # 32 at 80 columns


async def test_no_stray_character_beside_the_palette_key_at_60x18(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(60, 18)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await workers_idle(pilot)
        palette = app.screen.query_one(Footer).query_one("FooterKey.-command-palette")
        assert palette.region.right == 60
