"""Runs and queue screen: every run with its state; queued runs move and cancel."""

from __future__ import annotations

import time

from textual.widgets import DataTable

from qbtui.registry import Registry
from qbtui.runs.queue import enqueue, list_queue
from qbtui.runs.rundir import RunDir, write_run_toml
from qbtui.tui.screens.runs import RunsScreen


def queue_run(registry_path, friend_id: str, run_id: str) -> RunDir:
    run = RunDir(registry_path.parent / "logs" / friend_id / run_id)
    run.path.mkdir(parents=True)
    write_run_toml(run, {"run_id": run_id, "friend": friend_id, "backend": "builtin", "preset": "demo",
                         "created_at": time.time()}, {"max_train_steps": 60})
    enqueue(Registry.load(registry_path).settings, run)
    return run


def table_ids(app) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(index)[0]) for index in range(table.row_count)]


async def open_runs(app, pilot, until, count: int) -> None:
    await until(pilot, lambda: len(app.workspace.runs()) == count)
    await pilot.press("r")
    await pilot.pause()
    assert isinstance(app.screen, RunsScreen)


async def test_every_run_is_listed_with_its_state(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=12)
    run_writer(demo_registry, "sam", "20261124-100000-sam-0000", steps=60, status="completed")
    queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 3)
        table = app.screen.query_one(DataTable)
        rows = {str(table.get_row_at(i)[0]): [str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows["20261125-040000-anna-e5f6"][1] == "queued"
        assert rows["20261125-034512-peter-a1b2"][1:3] == ["running", "12/60"]
        assert rows["20261124-100000-sam-0000"][1] == "completed"
        assert table_ids(app)[0] == "20261125-040000-anna-e5f6"


async def test_queued_runs_move_down_up_and_cancel(demo_registry, app_factory, until):
    first = queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    second = queue_run(demo_registry, "sam", "20261125-040100-sam-a7b8")
    settings = Registry.load(demo_registry).settings
    assert list_queue(settings) == [first.run_id, second.run_id]
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 2)
        app.screen.query_one(DataTable).move_cursor(row=table_ids(app).index(first.run_id))
        await pilot.press("d")
        await app.workers.wait_for_complete()
        assert list_queue(settings) == [second.run_id, first.run_id]
        await pilot.press("u")
        await app.workers.wait_for_complete()
        assert list_queue(settings) == [first.run_id, second.run_id]
        await pilot.press("c")
        await app.workers.wait_for_complete()
        assert list_queue(settings) == [second.run_id]
        await until(pilot, lambda: first.run_id not in [run.run_id for run in app.workspace.runs() if run.state == "queued"])


async def test_moving_a_run_that_is_not_queued_is_refused(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=3)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        await pilot.press("c")
        await pilot.pause()
        assert any("only a queued run" in str(note.message) for note in app._notifications)
        assert table_ids(app) == ["20261125-034512-peter-a1b2"]
