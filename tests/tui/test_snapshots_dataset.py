"""Snapshots at 80x24 of the dataset screen, its tag editor, the add-friend modal and the prompt helper.

Update after an intended change with `pytest tests/tui/test_snapshots_dataset.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from textual.widgets import TextArea

from tests.tui.fixed_path import workspace_at
from tests.tui.waiting import workers_idle

SNAPSHOT_ROOT = Path("/tmp/qbtui-snapshot-dataset")


@pytest.fixture
def snapshot_app(demo_template, app_factory):
    """The demo-like workspace at a fixed path (paths show on screen) plus one PNG to prepare."""
    with workspace_at(SNAPSHOT_ROOT, demo_template.parent):
        image = Image.new("RGB", (700, 500), (250, 240, 200))
        image.paste((30, 60, 140), (250, 100, 450, 400))
        image.save(SNAPSHOT_ROOT / "datasets" / "anna" / "30_anna" / "beach.png")
        app = app_factory(SNAPSHOT_ROOT / "registry.toml")
        app.sub_title = "user@host"
        yield app


def opened(action, *keys: str):
    """run_before: wait for the first scan, run an app action, press keys, wait for workers.

    Text areas stop blinking so the caret is drawn whatever the timing.
    """

    async def run_before(pilot) -> None:
        await workers_idle(pilot)
        action(pilot.app)
        await workers_idle(pilot)
        for text_area in pilot.app.screen.query(TextArea):
            text_area.cursor_blink = False
        if keys:
            await pilot.press(*keys)
        await workers_idle(pilot)

    return run_before


def test_dataset_snapshot(snap_compare, snapshot_app):
    run_before = opened(lambda app: app.action_open_dataset("anna"))
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=run_before)


def test_dataset_editing_snapshot(snap_compare, snapshot_app):
    run_before = opened(lambda app: app.action_open_dataset("anna"), "n", "n", "e", "ctrl+t")
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=run_before)


def test_tag_editor_snapshot(snap_compare, snapshot_app):
    run_before = opened(lambda app: app.action_open_dataset("anna"), "b")
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=run_before)


def test_add_friend_snapshot(snap_compare, snapshot_app):
    run_before = opened(lambda app: app.action_add_friend(), *"Maria", "tab", "tab", "tab")
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=run_before)


def test_prompt_snapshot(snap_compare, snapshot_app):
    run_before = opened(lambda app: app.action_prompt(), *"Peter and Anna flying a kite")
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=run_before)
