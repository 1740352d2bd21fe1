"""What the listing of runs warns of (a run folder it skipped) reaches the TUI: one notice per
warning, and a line above the Runs screen's table that goes once the cause is gone."""

from __future__ import annotations

import os

from textual.widgets import Static

from qbtui.printable import printable
from qbtui.rundir import RunDir
from qbtui.tui.screens.runs import RunsScreen


def skipped_notices(app, run_toml) -> list:
    return [notice for notice in app.notices.items if printable(run_toml) in notice.message]


async def test_a_run_folder_with_a_fifo_run_toml_is_noticed_once_and_named_on_the_runs_screen(
    demo_registry, app_factory, run_writer, until
):
    # A friend folder whose name holds an escape sequence: the screen shows it escaped.
    fifo_run = RunDir(demo_registry.parent / "logs" / "gh\x1b[2Jost" / "20261125-030000-ghost-0bad")
    fifo_run.path.mkdir(parents=True)
    os.mkfifo(fifo_run.run_toml)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: skipped_notices(app, fifo_run.run_toml))
        # A listing after the first (it lists the new run) tells the same warning no second time.
        run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=3)
        await until(pilot, lambda: app.workspace.run("20261125-034512-peter-a1b2") is not None)
        await pilot.pause()
        [notice] = skipped_notices(app, fifo_run.run_toml)
        assert notice.severity == "warning" and "FIFO" in notice.message and "the run is skipped" in notice.message
        assert "fix:" in notice.message and "\x1b" not in notice.message

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        line = app.screen.query_one("#runs-warnings", Static)
        await until(pilot, lambda: line.display and printable(fifo_run.run_toml) in str(line.content))
        shown = str(line.content)
        assert "FIFO" in shown and "\x1b" not in shown and "\\x1b[2J" in shown

        os.unlink(fifo_run.run_toml)
        await until(pilot, lambda: not line.display)
        assert app.workspace.run_warnings() == ()
        assert len(skipped_notices(app, fifo_run.run_toml)) == 1
