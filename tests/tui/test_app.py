"""App shell: help from BINDINGS, palette with every action, theme saved, keymap, header."""

from __future__ import annotations

import gc

import pytest
from textual.widgets import Static

from qbtui.errors import QbtuiError
from qbtui.registry import Registry
from qbtui.tui.app import QbtuiApp, user_at_host
from qbtui.tui.commands import palette_commands
from qbtui.tui.screens.help import HelpScreen, help_lines, screen_bindings
from qbtui.tui.screens.runs import RunsScreen
from qbtui.tui.screens.training import TrainingScreen
from tests.tui.waiting import workers_idle


def rows(keymap: dict[str, str]) -> list[list[str]]:
    return [line.split() for line, kind in help_lines(keymap) if kind == "row" and line.startswith("  ")]


def test_help_lists_every_binding_of_every_screen():
    headings = [line for line, kind in help_lines({}) if kind == "heading"]
    ids = {row[-1] for row in rows({})}
    assert headings[:3] == ["Everywhere", "Friends dashboard", "Dataset"]
    for title, bindings in screen_bindings():
        assert title in headings
        for binding in bindings:
            assert binding.id, f"{title}: binding {binding.key} has no id"
            assert binding.id in ids
    assert ["s", "Start", "training.start"] in rows({})
    assert ["?", "Help", "app.help_alt"] in rows({})


def test_help_shows_remapped_keys():
    assert ["ctrl+y", "Train", "dashboard.train"] in rows({"dashboard.train": "ctrl+y"})


async def test_help_screen_opens_with_f1_and_closes_with_escape(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "training.stop" in str(app.screen.query_one("#help-text", Static).content)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_every_action(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=5)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.running_run("peter") is not None)
        titles = {command.title for command in palette_commands(app)}
    for title in ("Friends dashboard", "Runs and queue", "Add friend", "Prompt helper", "Pick theme", "Help", "Quit"):
        assert title in titles
    for name in ("Peter", "Anna", "Sam"):
        assert {f"Open dataset: {name}", f"Train: {name}"} <= titles
    # Stop only where a run is training now (the state the table shows as ▶).
    assert "Stop training: Peter" in titles
    assert not {"Stop training: Anna", "Stop training: Sam"} & titles
    assert {"Theme: paper-and-ink", "Theme: ink-wash"} <= titles


async def test_palette_command_opens_the_training_screen(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Train: Anna")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen) and app.screen.friend_id == "anna"


async def test_chosen_theme_is_saved_in_the_registry(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "paper-and-ink"
        app.action_set_theme("ink-wash")
        await workers_idle(pilot)
        await pilot.pause()
    assert Registry.load(demo_registry).settings.theme == "ink-wash"


async def test_saved_theme_is_applied_at_start(demo_registry, app_factory):
    Registry.load(demo_registry).set_setting("theme", "ink-wash")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)):
        assert app.theme == "ink-wash"


def add_keymap(registry_path, lines: str) -> None:
    with open(registry_path, "a", encoding="utf-8") as handle:
        handle.write(f"\n[keymap]\n{lines}\n")


async def test_registry_keymap_rebinds_by_id(demo_registry, app_factory):
    add_keymap(demo_registry, '"dashboard.runs" = "ctrl+o"')
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        assert not isinstance(app.screen, RunsScreen)
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, RunsScreen)


async def test_keymap_edited_while_running_applies_on_reload(demo_registry, app_factory, until, settle):
    app = app_factory(demo_registry, watch=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        add_keymap(demo_registry, '"dashboard.runs" = "ctrl+o"')
        await until(pilot, lambda: app.keymap == {"dashboard.runs": "ctrl+o"})
        await pilot.press("r")
        assert not isinstance(app.screen, RunsScreen)
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, RunsScreen)


async def test_unknown_binding_id_is_named_in_a_notification(demo_registry, app_factory):
    add_keymap(demo_registry, '"dashboard.trian" = "ctrl+o"\n"dashboard.runs" = "ctrl+y"')
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = [notice.message for notice in app.notices.items]
        await pilot.press("ctrl+y")
        assert isinstance(app.screen, RunsScreen)
    assert any("'dashboard.trian'" in message and "dashboard.runs" not in message for message in messages)


async def test_keymap_without_unknown_ids_notifies_nothing(demo_registry, app_factory):
    add_keymap(demo_registry, '"dashboard.train" = "t,ctrl+n"')
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not [note for note in app._notifications if note.title == "Keymap"]


def test_help_says_the_keymap_lives_in_the_registry():
    text = " ".join(line for line, kind in help_lines({}) if kind == "row" and not line.startswith("  "))
    assert "[keymap] in registry.toml" in text and "keymap.toml" not in text


async def test_heap_is_settled_after_the_first_scan_and_released_on_exit(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_header_names_user_and_host(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)):
        assert app.sub_title == user_at_host() and "@" in app.sub_title


async def test_escape_returns_to_the_dashboard_and_screens_do_not_pile_up(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.press("ctrl+r")
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, RunsScreen) and len(app.screen_stack) == 3
        await pilot.press("escape")
        assert type(app.screen).__name__ == "DashboardScreen"


def test_the_pilot_tests_build_the_app_the_way_production_does(demo_registry, app_factory, monkeypatch):
    """make_app: the workspace from the registry, then its image protocol, then the app; run_app uses it."""
    import qbtui.tui
    from qbtui.tui.widgets import preview

    chosen: list[str] = []
    monkeypatch.setattr(preview, "prepare_image_protocol", chosen.append)
    app = app_factory(demo_registry)
    assert isinstance(app, QbtuiApp) and app.workspace.registry_path == Registry.load(demo_registry).path
    assert chosen == [app.workspace.settings.image_protocol]

    class Ran:
        return_code = 3

        def run(self) -> None:
            chosen.append("ran")

    monkeypatch.setattr(qbtui.tui, "make_app", lambda path: Ran())
    assert qbtui.tui.run_app(demo_registry) == 3 and chosen[-1] == "ran"


def test_an_unknown_image_protocol_stops_the_start_with_the_fix(demo_registry):
    from qbtui.tui import make_app

    text = demo_registry.read_text()
    demo_registry.write_text(text.replace("[settings]\n", '[settings]\nimage_protocol = "ascii"\n', 1))
    with pytest.raises(QbtuiError) as caught:
        make_app(demo_registry, watch=False)
    assert "image_protocol" in str(caught.value)
