"""Snapshots of the core screens at 80x24 (fixed clock, fixed paths, no blinking cursors).

Update after an intended change with `pytest tests/tui/test_snapshots_core.py --snapshot-update`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.tui.fixed_path import workspace_at
from tests.tui.waiting import workers_idle

SNAPSHOT_ROOT = Path("/tmp/qbtui-snapshot-workspace")
RUN_ID = "20261125-034512-peter-a1b2"


@pytest.fixture
def snapshot_app(demo_template, app_factory, run_writer, monkeypatch):
    """The demo-like workspace at a fixed path with one live run, so every frame is reproducible."""
    with workspace_at(SNAPSHOT_ROOT, demo_template.parent):
        registry = SNAPSHOT_ROOT / "registry.toml"
        run_writer(registry, "peter", RUN_ID, steps=24)
        run_writer(registry, "sam", "20261124-100000-sam-0000", steps=60, status="completed", started_at=1_794_900_000.0)
        monkeypatch.setattr(sys, "executable", "python")
        # The log shows event times in local time: one zone for every machine.
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        app = app_factory(registry)
        app.sub_title = "user@host"
        yield app
        monkeypatch.undo()
        time.tzset()


def settled(*keys: str, ready=lambda app: True):
    """run_before: wait for the scan and the first run listing, press keys, wait for `ready`."""

    async def run_before(pilot) -> None:
        app = pilot.app
        app.sub_title = "user@host"
        await workers_idle(pilot)
        while app.workspace.run(RUN_ID) is None or app.workspace.status("sam") is None:
            await pilot.pause(0.05)
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        while not ready(app):
            await pilot.pause(0.05)
        await workers_idle(pilot)
        await pilot.pause()

    return run_before


def test_dashboard_snapshot(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=settled())


def test_training_snapshot(snap_compare, snapshot_app):
    def command_shown(app) -> bool:
        return "qbtui.trainer" in str(app.screen.query_one("#train-command").content)

    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=settled("t", ready=command_shown))


def test_runs_snapshot(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=settled("r"))


def test_help_snapshot(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=settled("f1"))
