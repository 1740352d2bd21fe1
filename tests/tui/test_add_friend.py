"""Add friend modal: the registry gains the friend and the folder exists; refusals show inline."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Input, Static

from qbtui.registry import Registry
from qbtui.tui.screens.add_friend import AddFriendScreen
from qbtui.tui.screens.dashboard import DashboardScreen
from qbtui.tui.widgets.friend_table import FriendTable
from tests.tui.waiting import workers_idle


async def _open(app, pilot) -> None:
    await workers_idle(pilot)
    app.action_add_friend()
    await pilot.pause()
    assert isinstance(app.screen, AddFriendScreen)


async def _submitted(app, pilot) -> None:
    """Wait until no worker runs for three turns of the event loop in a row."""
    idle_turns = 0
    while idle_turns < 3:
        await pilot.pause()
        if any(not worker.is_finished for worker in app.workers):
            await workers_idle(pilot)
            idle_turns = 0
        else:
            idle_turns += 1


def _text(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def test_add_friend_writes_the_registry_and_creates_the_folder(registry_path: Path, app_factory) -> None:
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.click("#add-name")
        await pilot.press(*"Peter")
        assert "token: qb_peter" in _text(app, "#add-hint")
        assert "peter/30_peter" in _text(app, "#add-hint")
        await pilot.click("#add-describe")
        await pilot.press(*"man, glasses")
        assert "captions start: qb_peter person, man, glasses" in _text(app, "#add-hint")
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert str(app.screen.query_one(FriendTable).get_row("peter")[1]) == "qb_peter"
    friend = Registry.load(registry_path).friends["peter"]
    assert (friend.name, friend.token, friend.repeats, friend.describe) == ("Peter", "qb_peter", 30, "man, glasses")
    assert (registry_path.parent / "datasets" / "peter" / "30_peter").is_dir()


async def test_custom_token_and_repeats_are_kept(registry_path: Path, app_factory) -> None:
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        app.screen.query_one("#add-name", Input).value = "Maria"
        app.screen.query_one("#add-token", Input).value = "mxria"
        app.screen.query_one("#add-repeats", Input).value = "20"
        await pilot.pause()
        assert "token: mxria" in _text(app, "#add-hint")
        await pilot.click("#add-submit")
        await _submitted(app, pilot)
        assert app.workspace.friend("maria").token == "mxria"
    friend = Registry.load(registry_path).friends["maria"]
    assert (friend.token, friend.repeats) == ("mxria", 20)
    assert (registry_path.parent / "datasets" / "maria" / "20_maria").is_dir()


async def test_duplicate_token_or_name_is_refused_inline_and_nothing_changes(registry_path: Path, app_factory) -> None:
    Registry.load(registry_path).add_friend("Peter")
    before = registry_path.read_text()
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        app.screen.query_one("#add-name", Input).value = "Pete"
        app.screen.query_one("#add-token", Input).value = "qb_peter"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        assert isinstance(app.screen, AddFriendScreen)
        assert "token 'qb_peter' is already used by 'peter'" in _text(app, "#add-error")
        assert "fix:" in _text(app, "#add-error")
        app.screen.query_one("#add-name", Input).value = "Peter"
        app.screen.query_one("#add-token", Input).value = ""
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        assert "friend 'peter' already exists" in _text(app, "#add-error")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
    assert registry_path.read_text() == before


async def test_a_broken_registry_refuses_with_its_file_and_line(registry_path: Path, app_factory) -> None:
    app = app_factory(registry_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        text = registry_path.read_text()
        registry_path.write_text(text.replace("[settings]\n", "[settings]\nlora_wieght = 0.8\n", 1))
        line = registry_path.read_text().splitlines().index("lora_wieght = 0.8") + 1
        app.screen.query_one("#add-name", Input).value = "Zoe"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        assert isinstance(app.screen, AddFriendScreen)
        shown = _text(app, "#add-error")
        assert shown.startswith(f"{registry_path.name}:{line}: ") and "lora_wieght" in shown, shown
        assert str(registry_path.parent) not in shown


async def test_bad_name_and_bad_repeats_show_why_before_anything_is_written(registry_path: Path, app_factory) -> None:
    before = registry_path.read_text()
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        app.screen.query_one("#add-name", Input).value = "../evil"
        await pilot.pause()
        assert "path separator" in _text(app, "#add-error")
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        assert "path separator" in _text(app, "#add-error") and isinstance(app.screen, AddFriendScreen)
        app.screen.query_one("#add-name", Input).value = "Zoe"
        app.screen.query_one("#add-repeats", Input).value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "repeats must be a whole number" in _text(app, "#add-error")
    assert registry_path.read_text() == before


def burst(app: App, keys: list[str]) -> None:
    """Queue key presses all at once, as a fast typist's terminal delivers them (no wait between keys)."""
    from textual import events

    for key in keys:
        character = {"tab": "\t", "enter": "\r"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


async def test_fast_keys_after_a_refused_add_type_over_the_name_and_tab_moves_on(registry_path: Path, app_factory) -> None:
    Registry.load(registry_path).add_friend("Ben")
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press(*"Ben", "ctrl+s")
        await _submitted(app, pilot)
        assert "friend 'ben' already exists" in _text(app, "#add-error")
        burst(app, [*"Dora", "tab", *"qb_ada"])
        await _submitted(app, pilot)
        assert app.screen.query_one("#add-name", Input).value == "Dora"
        assert app.screen.query_one("#add-token", Input).value == "qb_ada"
        assert isinstance(app.screen, AddFriendScreen), "nothing is added before ctrl+s"
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
    friend = Registry.load(registry_path).friends["dora"]
    assert (friend.name, friend.token) == ("Dora", "qb_ada")


async def test_enter_moves_to_the_next_field_and_never_adds(registry_path: Path, app_factory) -> None:
    before = registry_path.read_text()
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press(*"Zoe", "enter")
        await _submitted(app, pilot)
        assert app.focused is app.screen.query_one("#add-token", Input)
        await pilot.press("enter", "enter", "enter", "enter")
        await _submitted(app, pilot)
        assert isinstance(app.screen, AddFriendScreen)
    assert registry_path.read_text() == before


async def test_an_empty_name_previews_no_placeholder_token(registry_path: Path, app_factory) -> None:
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        hint = _text(app, "#add-hint")
        assert "type a name" in hint and "qb__" not in hint and "<id>" not in hint
        await pilot.press(*"Zoe")
        assert "token: qb_zoe" in _text(app, "#add-hint")
        await pilot.press("backspace", "backspace", "backspace")
        assert "qb__" not in _text(app, "#add-hint") and "type a name" in _text(app, "#add-hint")


async def test_a_name_or_token_too_long_for_the_file_system_names_the_field_to_shorten(registry_path: Path, app_factory) -> None:
    """The Add dialog's fix names its own field, never the CLI's --token: a typed token too long for
    the LoRA's checkpoint names -> the Trigger token field; a name whose id makes too long a run folder -> the name."""
    before = registry_path.read_text()
    app = app_factory(registry_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        app.screen.query_one("#add-name", Input).value = "Tom"
        app.screen.query_one("#add-token", Input).value = "t" * 225
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        error = _text(app, "#add-error")
        assert "(limit 255)" in error and "type a shorter token in the Trigger token field" in error
        assert "--token" not in error and app.screen.focused is app.screen.query_one("#add-token", Input)
        app.screen.query_one("#add-token", Input).value = ""
        app.screen.query_one("#add-name", Input).value = "L" * 228
        await pilot.press("ctrl+s")
        await _submitted(app, pilot)
        error = _text(app, "#add-error")
        assert "the id makes folder and file names" in error and "shorten the name" in error
        assert "--token" not in error and isinstance(app.screen, AddFriendScreen)
    assert registry_path.read_text() == before
