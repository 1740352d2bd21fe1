"""The compare view (`v`) of a run that is still training or being scored: it says what scores the
run, follows that run's progress from the workspace's snapshots, and offers no `e` that would fail."""

from __future__ import annotations

from qbtui.events import EventWriter
from qbtui.rundir import RunDir
from qbtui.tui.screens.compare import CompareCell, CompareScreen
from tests.tui.test_compare_screen import RUN_ID, evaluated_run
from tests.tui.test_evaluating_phase import evaluating
from tests.tui.waiting import wait_until, workers_idle


def summary(screen: CompareScreen) -> str:
    return str(screen.query_one("#compare-summary").render())


async def open_compare(app, pilot) -> CompareScreen:
    await wait_until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
    await pilot.press("r")
    await pilot.pause()
    await pilot.press("v")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
    await workers_idle(pilot)
    return app.screen


async def test_a_training_run_says_its_checkpoints_are_scored_as_they_come(demo_registry, app_factory, run_writer, step_writer):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=12)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await wait_until(pilot, lambda: "is training (step 12/60)" in summary(screen))
        assert "its likeness is scored at each checkpoint" in summary(screen)
        assert "press e" not in summary(screen) and "no likeness evaluation yet" not in summary(screen)
        assert screen.check_action("evaluate", ()) is False
        await pilot.press("e")
        await workers_idle(pilot)
        assert not app._notifications, [str(note.message) for note in app._notifications]
        step_writer(run, range(13, 21))
        await wait_until(pilot, lambda: "is training (step 20/60)" in summary(screen))


async def test_the_running_pass_is_followed_live_and_goes_away_when_it_ends(demo_registry, app_factory, run_writer):
    run_path = evaluated_run(demo_registry, lambda *args, **kwargs: run_writer(*args, **kwargs | {"live": True, "status": None}))
    run = RunDir(run_path)
    evaluating(run)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await wait_until(pilot, lambda: len(screen.query(CompareCell)) == 10)
        await wait_until(pilot, lambda: "is running: evaluating 7/41" in summary(screen))
        assert screen.check_action("evaluate", ()) is False
        with EventWriter(run.events) as events:
            events.write("eval", stage="sample", done=12, total=41, lora="final", weight=0.8, faces=1)
        await wait_until(pilot, lambda: "is running: evaluating 12/41" in summary(screen))
        with EventWriter(run.events) as events:
            events.write("supervisor", state="backend-exited", pid=1, detail="exit code 0")
        await wait_until(pilot, lambda: app.workspace.run(RUN_ID).state == "completed")
        await wait_until(pilot, lambda: "is running" not in summary(screen) and "evaluating" not in summary(screen))
        assert screen.check_action("evaluate", ()) is True
