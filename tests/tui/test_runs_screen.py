"""Runs and queue screen: every run with its state; queued runs move and cancel; stopped runs resume."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.widgets import DataTable, Label

from qbtui.registry import Registry
from qbtui.rundir import RunDir
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.queue import list_queue
from qbtui.tui.screens.runs import RunsScreen
from tests.tui.conftest import queue_run
from tests.tui.waiting import workers_idle


@pytest.fixture
def stand_in_supervisor(monkeypatch: pytest.MonkeyPatch):
    """Replaces the supervisor launch with a sleeping process (no trainer, no torch); yields the resumed runs."""
    resumed: list[tuple[str, bool]] = []
    processes: list[subprocess.Popen] = []

    def launch(run: RunDir, *, resume: bool = False) -> ProcessRecord | None:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        processes.append(process)
        record = ProcessRecord.of(process.pid)
        write_pid_file(run.supervisor_pid, record)
        resumed.append((run.run_id, resume))
        return record

    monkeypatch.setattr("qbtui.runs.launch.launch_supervisor", launch)
    yield resumed
    for process in processes:
        process.kill()
        process.wait()


def table_ids(app) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


def cells(app, run_id: str) -> list[str]:
    """A row's cells as text: place, friend, run (elided at its start where the room is short), state,
    where, step, loss (the running average), ETA, backend."""
    table = app.screen.query_one(DataTable)
    return [str(cell) for cell in table.get_row(run_id)]


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
        place, friend, run, state = cells(app, "20261125-040000-anna-e5f6")[:4]
        assert (place, friend, state) == ("1", "Anna", "queued") and run.startswith(
            "11-25 04:00"
        )  # its start; Friend names the friend
        assert cells(app, "20261125-034512-peter-a1b2")[3:6] == ["running", "here", "12/60"]
        assert cells(app, "20261124-100000-sam-0000")[0:4:3] == ["", "completed"]
        assert cells(app, "20261124-100000-sam-0000")[-1] == "builtin/demo"  # Backend uncut at 80 columns
        assert table_ids(app) == ["20261125-040000-anna-e5f6", "20261125-034512-peter-a1b2", "20261124-100000-sam-0000"]


async def test_the_selected_queued_run_says_why_it_waits(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=12)
    queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    queue_run(demo_registry, "sam", "20261125-040100-sam-a7b8", target="gpu9")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 3)
        why = app.screen.query_one("#runs-why", Label)
        assert str(why.render()) == "20261125-040000-anna-e5f6: waits (here runs 1 of 1)"
        await pilot.press("down")
        assert str(why.render()) == "20261125-040100-sam-a7b8: waits (host gpu9 is not in the registry)"
        await pilot.press("down")
        assert str(why.render()) == ""  # the running run


async def test_a_queued_run_with_a_free_place_says_it_starts_next(demo_registry, app_factory, until):
    queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        why = str(app.screen.query_one("#runs-why", Label).render())
        assert why == "20261125-040000-anna-e5f6: a place is free: it starts next"


async def test_the_where_column_names_the_host_and_a_queued_runs_target(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=12, host="gpu1")
    queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6", target="anywhere")
    queue_run(demo_registry, "sam", "20261125-040100-sam-a7b8", target="gpu1")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 3)
        assert cells(app, "20261125-034512-peter-a1b2")[3:5] == ["running", "gpu1"]
        assert cells(app, "20261125-040000-anna-e5f6")[3:5] == ["queued", "anywhere"]
        assert cells(app, "20261125-040100-sam-a7b8")[3:5] == ["queued", "gpu1"]


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
        await workers_idle(pilot)
        assert list_queue(settings) == [second.run_id, first.run_id]
        await pilot.press("u")
        await workers_idle(pilot)
        assert list_queue(settings) == [first.run_id, second.run_id]
        await pilot.press("c", "y")
        await workers_idle(pilot)
        assert list_queue(settings) == [second.run_id]
        await until(pilot, lambda: first.run_id not in [run.run_id for run in app.workspace.runs() if run.state == "queued"])


async def test_u_and_d_move_the_row_on_screen_with_its_place(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=12)
    first = queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    second = queue_run(demo_registry, "sam", "20261125-040100-sam-a7b8")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 3)
        assert table_ids(app) == [first.run_id, second.run_id, "20261125-034512-peter-a1b2"]
        assert [cells(app, run_id)[0] for run_id in table_ids(app)] == ["1", "2", ""]
        await pilot.press("d")
        await until(pilot, lambda: table_ids(app)[:2] == [second.run_id, first.run_id])
        assert cells(app, first.run_id)[0] == "2" and cells(app, second.run_id)[0] == "1"
        assert app.screen.selected_run_id == first.run_id
        await until(pilot, lambda: any("moved to place 2 of 2" in str(note.message) for note in app._notifications))
        await pilot.press("u")
        await until(pilot, lambda: table_ids(app)[:2] == [first.run_id, second.run_id])
        assert app.screen.selected_run_id == first.run_id


async def test_cancel_asks_first_and_no_keeps_the_run(demo_registry, app_factory, until):
    from qbtui.tui.widgets.dataset_confirm import ConfirmScreen

    queued = queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    settings = Registry.load(demo_registry).settings
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await workers_idle(pilot)
        assert isinstance(app.screen, RunsScreen) and list_queue(settings) == [queued.run_id]


async def test_esc_from_an_opened_run_returns_to_the_runs_screen(demo_registry, app_factory, run_writer, until):
    from qbtui.tui.screens.dashboard import DashboardScreen
    from qbtui.tui.screens.training import TrainingScreen

    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=3)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen) and app.screen.friend_id == "peter"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_moving_a_run_that_is_not_queued_is_refused(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=3)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        await pilot.press("c")
        await pilot.pause()
        assert any("only a queued run" in notice.message for notice in app.notices.items)
        assert table_ids(app) == ["20261125-034512-peter-a1b2"]


def run_state(app, run_id: str) -> str:
    return cells(app, run_id)[3]


async def test_a_stopped_run_resumes_from_the_runs_screen(demo_registry, app_factory, run_writer, until, stand_in_supervisor):
    stopped = run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=20, live=False, status="stopped")
    (stopped.path / "state").mkdir()
    (stopped.path / "state" / "optimizer.pt").write_bytes(b"saved state")
    run_writer(demo_registry, "sam", "20261124-100000-sam-0000", steps=60, live=False, status="completed")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 2)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table_ids(app).index("20261124-100000-sam-0000"))
        await pilot.press("r")
        await workers_idle(pilot)
        assert any("only a stopped, failed or crashed run" in notice.message for notice in app.notices.items)
        assert stand_in_supervisor == []
        table.move_cursor(row=table_ids(app).index(stopped.run_id))
        assert run_state(app, stopped.run_id) == "stopped"
        await pilot.press("r")
        await workers_idle(pilot)
        assert stand_in_supervisor == [(stopped.run_id, True)]
        await until(pilot, lambda: run_state(app, stopped.run_id) in ("running", "queued"))
        assert app.workspace.run(stopped.run_id).state in ("running", "queued")


def test_loss_is_the_running_average_on_the_runs_screen_as_in_qbtui_runs() -> None:
    """Issue 25 item 6: one meaning for the Loss column in both places (the running average)."""
    from pathlib import Path

    from qbtui.cli.runs import runs_table
    from qbtui.runs import RunInfo
    from qbtui.tui.screens.runs import run_cells

    run = RunInfo("r1", "peter", Path("r1"), "builtin", "demo", "running", 10, 60, 0.5, 0.4, 2.0, 25.0, None, None, None, ())
    colors = {"accent": "blue", "foreground": "white"}
    assert run_cells(run, None, colors)[6] == "0.400"
    header, row = runs_table([run]).splitlines()
    assert float(row.split()[header.split().index("AVG_LOSS")]) == 0.4
