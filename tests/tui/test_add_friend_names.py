"""The Add dialog asks the registry what a name becomes while it is typed: a look-alike of an
existing friend shows as refused before ctrl+s, in the domain's words."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from qbtui.registry import Registry
from qbtui.tui.screens.add_friend import AddFriendScreen
from qbtui.tui.widgets.friend_table import FriendTable
from tests.tui.waiting import workers_idle


async def test_a_look_alike_name_shows_as_existing_while_typing(registry_path: Path, app_factory) -> None:
    Registry.load(registry_path).add_friend("Mary Jane")
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await workers_idle(pilot)
        app.action_add_friend()
        await pilot.pause()
        assert isinstance(app.screen, AddFriendScreen)
        await pilot.press(*"mary-jane")
        await pilot.pause()
        assert "already exists (Mary Jane)" in str(app.screen.query_one("#add-error", Static).content)
        app.screen.query_one("#add-name", Input).value = "Zoë"
        await pilot.pause()
        assert str(app.screen.query_one("#add-error", Static).content) == ""
        assert "token: qb_zoe" in str(app.screen.query_one("#add-hint", Static).content)


async def test_the_new_friend_is_selected_after_adding(registry_path: Path, app_factory) -> None:
    registry = Registry.load(registry_path)
    for name in ("Ada", "Ben"):
        registry.add_friend(name)
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await workers_idle(pilot)
        app.action_add_friend()
        await pilot.pause()
        app.screen.query_one("#add-name", Input).value = "Aaron"
        await pilot.press("ctrl+s")
        await workers_idle(pilot)
        await pilot.pause()
        table = app.screen.query_one(FriendTable)
        assert table.selected_friend_id == "aaron"
        assert "Aaron" in str(app.screen.query_one("#friend-details", Static).content)
