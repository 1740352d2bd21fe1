"""Prompt helper: live A1111 prompt from a scene, adjustable weight, copy over OSC 52."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Input, Static

from qbtui.registry import Registry, Training
from qbtui.tui.screens.prompt import PromptScreen
from tests.tui.waiting import workers_idle

STYLE = "illustration in the style of Quentin Blake, watercolor, whimsical"


async def _open(app, pilot) -> None:
    await workers_idle(pilot)
    app.action_prompt()
    await pilot.pause()
    assert isinstance(app.screen, PromptScreen)


def _registry_with_friends(registry_path: Path) -> Path:
    registry = Registry.load(registry_path)
    registry.add_friend("Peter")
    registry.add_friend("Maria")
    registry.record_training("peter", Training(date="2026-11-01", steps=1200, images=25, run_id="r1"))
    return registry_path


def _text(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def test_typing_a_scene_builds_the_prompt_live_and_copies_it(registry_path: Path, app_factory) -> None:
    app = app_factory(_registry_with_friends(registry_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press(*"Peter and Maria at a picnic")
        expected = f"<lora:qb_peter_lora:0.8>, <lora:qb_maria_lora:0.8>, qb_peter person and qb_maria person at a picnic, {STYLE}"
        assert _text(app, "#prompt-output") == expected
        assert _text(app, "#prompt-friends").startswith("friends: Peter (qb_peter), Maria (qb_maria)\n")
        assert "! Maria has no trained LoRA yet" in _text(app, "#prompt-friends")
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == expected
        assert any("copied" in notification.message for notification in app._notifications)


async def test_weight_is_adjustable_by_keys_and_by_typing(registry_path: Path, app_factory) -> None:
    app = app_factory(_registry_with_friends(registry_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press(*"Peter")
        await pilot.press("ctrl+up", "ctrl+up")
        assert _text(app, "#prompt-output").startswith("<lora:qb_peter_lora:0.9>, qb_peter person")
        weight = app.screen.query_one("#prompt-weight", Input)
        weight.value = "0.6"
        await pilot.pause()
        assert _text(app, "#prompt-output").startswith("<lora:qb_peter_lora:0.6>")
        weight.value = "7"
        await pilot.pause()
        assert "weight: use a weight above 0 and at most 2" in _text(app, "#prompt-friends")
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard == ""
        weight.value = "1"
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard.startswith("<lora:qb_peter_lora:1>")


async def test_empty_scene_copies_nothing_and_unknown_names_are_explained(registry_path: Path, app_factory) -> None:
    app = app_factory(_registry_with_friends(registry_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard == ""
        await pilot.press(*"a castle")
        assert _text(app, "#prompt-output") == f"a castle, {STYLE}"
        assert _text(app, "#prompt-friends").startswith("! the scene names no friend, so it gets no LoRA")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)


async def test_inside_tmux_the_first_copy_says_once_how_to_let_copies_out(registry_path: Path, app_factory, monkeypatch) -> None:
    """Issue 25 item 10: tmux's default set-clipboard (external) keeps OSC 52 copies to itself."""
    import sys

    import qbtui.tui.clipboard as clipboard

    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1234,0")
    monkeypatch.setattr(clipboard, "TMUX_CLIPBOARD_QUERY", (sys.executable, "-c", "print('external')"))
    app = app_factory(_registry_with_friends(registry_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press(*"Peter at a picnic", "ctrl+y")
        await pilot.pause()
        await pilot.press("ctrl+y")
        await pilot.pause()
        hints = [notice for notice in app.notices.items if "tmux set -g set-clipboard on" in notice.message]
        assert len(hints) == 1 and sum("copied" in notice.message for notice in app.notices.items) == 2


def test_the_hint_is_for_tmux_without_set_clipboard_on() -> None:
    import subprocess

    from qbtui.tui.clipboard import tmux_keeps_copies

    def answering(value: str):
        return lambda argv, **_: subprocess.CompletedProcess(argv, 0, stdout=f"{value}\n", stderr="")

    assert not tmux_keeps_copies({}, answering("external"))
    assert tmux_keeps_copies({"TMUX": "x"}, answering("external"))
    assert not tmux_keeps_copies({"TMUX": "x"}, answering("on"))
