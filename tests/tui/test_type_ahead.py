"""Issue 25 item 5: keys typed while a dialog opens reach its first field (one burst, no pauses)."""

from __future__ import annotations

from textual.widgets import Input

from qbtui.tui.screens.add_friend import AddFriendScreen
from qbtui.tui.widgets.tag_editor import TagEditorScreen
from tests.tui.waiting import wait_until, workers_idle


async def burst(pilot, *keys: str) -> None:
    """Post every key at once, as a laggy SSH link delivers them, then let the app catch up."""
    from textual import events

    for key in keys:
        pilot.app.post_message(events.Key(key, key if len(key) == 1 else None))
    await workers_idle(pilot)


async def test_a_then_zoe_lands_in_the_add_dialogs_name(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await burst(pilot, "a", "Z", "o", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, AddFriendScreen))
        name = app.screen.query_one("#add-name", Input)
        await wait_until(pilot, lambda: name.value == "Zoe")
        assert app.focused is name


async def test_b_then_typing_lands_in_the_tag_field(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.action_open_dataset("anna")
        await workers_idle(pilot)
        await burst(pilot, "b", "h", "a", "t")
        await wait_until(pilot, lambda: isinstance(app.screen, TagEditorScreen))
        tag = app.screen.query_one("#tag-name", Input)
        await wait_until(pilot, lambda: tag.value == "hat")
        assert app.focused is tag
        assert len(app.screen_stack) == 4  # nothing else opened underneath (h, a, t are no dataset keys here)


async def test_p_then_a_scene_lands_in_the_prompt_helpers_scene(demo_registry, app_factory, settle):
    """A full screen too: `p` and the scene in one burst."""
    from qbtui.tui.screens.prompt import PromptScreen

    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await burst(pilot, "p", *"Anna")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        scene = app.screen.query_one("#prompt-scene", Input)
        await wait_until(pilot, lambda: scene.value == "Anna")
