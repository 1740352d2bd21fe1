"""Issue 25 item 13: one Quit in the palette, `q` quits the dashboard (never a text field),
the footers show how to quit and go back at 80 columns, Home/End in the friends table."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Footer, Input

from qbtui.tui.screens.add_friend import AddFriendScreen
from qbtui.tui.screens.dataset import DatasetScreen
from qbtui.tui.widgets.friend_table import FriendTable
from tests.tui.waiting import wait_until, workers_idle


async def test_the_palette_has_one_quit(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Quit")
        palette = app.screen
        await wait_until(pilot, lambda: palette.query_one("CommandList").option_count >= 1)
        await pilot.pause(0.5)  # both providers answer; a second Quit would be listed by now
        prompts = [str(option.prompt) for option in palette.query_one("CommandList").options]
        assert sum(prompt.splitlines()[0].strip() == "Quit" for prompt in prompts) == 1, prompts


async def test_q_quits_the_dashboard(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None)


async def test_q_in_a_text_field_is_a_letter(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AddFriendScreen))
        await pilot.press(*"Quentin")
        await workers_idle(pilot)
        assert app.screen.query_one("#add-name", Input).value == "Quentin"
        assert app.return_code is None


def footer_keys(app) -> list[tuple[str, int]]:
    """Each footer key's description and its right edge."""
    footer = app.screen.query_one(Footer)
    keys = footer.query("FooterKey").exclude(".-command-palette")
    return [(key.description, key.region.right) for key in keys if key.description]


async def test_footers_show_quit_back_and_help_whole_at_80_columns(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: bool(footer_keys(app)))
        palette = app.screen.query_one(Footer).query_one(".-command-palette").region.x
        shown = dict(footer_keys(app))
        assert {"Quit", "Help"} <= set(shown) and max(shown.values()) <= palette, shown
        app.action_open_dataset("anna")
        await workers_idle(pilot)
        assert isinstance(app.screen, DatasetScreen)
        await wait_until(pilot, lambda: "Back" in dict(footer_keys(app)))
        shown = dict(footer_keys(app))
        assert {"Back", "Help", "Fix all", "Undo"} <= set(shown) and max(shown.values()) <= palette, shown


async def test_home_and_end_in_the_friends_table(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FriendTable)
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 > 0
        await pilot.press("home")
        assert table.cursor_row == 0
