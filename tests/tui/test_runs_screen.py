"""Runs and queue screen: every run with its state; queued runs move and cancel; stopped runs resume."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from textual.widgets import DataTable

from qbtui.registry import Registry
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.queue import enqueue, list_queue
from qbtui.runs.rundir import RunDir, write_run_toml
from qbtui.tui.screens.runs import RunsScreen
from tests.tui.waiting import workers_idle


def queue_run(registry_path, friend_id: str, run_id: str) -> RunDir:
    run = RunDir(registry_path.parent / "logs" / friend_id / run_id)
    run.path.mkdir(parents=True)
    write_run_toml(
        run,
        {"run_id": run_id, "friend": friend_id, "backend": "builtin", "preset": "demo", "created_at": time.time()},
        {"max_train_steps": 60},
    )
    enqueue(Registry.load(registry_path).settings, run)
    return run


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

    monkeypatch.setattr("qbtui.runs.manager.launch_supervisor", launch)
    yield resumed
    for process in processes:
        process.kill()
        process.wait()


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
        await workers_idle(pilot)
        assert list_queue(settings) == [second.run_id, first.run_id]
        await pilot.press("u")
        await workers_idle(pilot)
        assert list_queue(settings) == [first.run_id, second.run_id]
        await pilot.press("c")
        await workers_idle(pilot)
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


def run_state(app, run_id: str) -> str:
    table = app.screen.query_one(DataTable)
    return str(table.get_row_at(table_ids(app).index(run_id))[1])


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
        assert any("only a stopped, failed or crashed run" in str(note.message) for note in app._notifications)
        assert stand_in_supervisor == []
        table.move_cursor(row=table_ids(app).index(stopped.run_id))
        assert run_state(app, stopped.run_id) == "stopped"
        await pilot.press("r")
        await workers_idle(pilot)
        assert stand_in_supervisor == [(stopped.run_id, True)]
        await until(pilot, lambda: run_state(app, stopped.run_id) in ("running", "queued"))
        assert app.workspace.run(stopped.run_id).state in ("running", "queued")
