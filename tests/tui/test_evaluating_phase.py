"""A likeness pass after the last step is a visible phase: `evaluating 7/41 · ETA 5:40` on the
Training screen, the dashboard and the Runs screen, never `60/60 · ETA 0:00`; a queued run says
it waits for that pass (issue 23, deliver 7)."""

from __future__ import annotations

from textual.widgets import DataTable, Label, ProgressBar

from qbtui.events import EventWriter
from qbtui.rundir import RunDir
from tests.tui.conftest import FIXED_NOW, queue_run
from tests.tui.test_dashboard import row as friend_row
from tests.tui.test_training import open_training

RUN_ID = "20261125-034512-peter-a1b2"


def evaluating(run: RunDir) -> None:
    """The trainer's `done` after step 60, then a pass of 41 images, 7 drawn at 10 s each."""
    start = FIXED_NOW - 100
    with EventWriter(run.events) as events:
        events.write("done", t=start, status="completed", lora_path=str(run.path / "qb_peter_lora.safetensors"))
        events.write("eval", t=start, stage="plan", images=41, loras=["final"], weights=[0.8])
        for done in range(1, 8):
            events.write("eval", t=start + 10 * done, stage="sample", done=done, total=41, lora="final", weight=0.8, faces=1)


async def test_the_dashboard_training_screen_and_runs_screen_show_the_pass(demo_registry, app_factory, run_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=60)
    evaluating(run)
    queue_run(demo_registry, "anna", "20261125-040000-anna-e5f6")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: (info := app.workspace.run(RUN_ID)) is not None and info.evaluating)
        await until(pilot, lambda: friend_row(app, "peter")[6].startswith("▶ evaluating 7/41"))
        await open_training(app, pilot)
        line = str(app.screen.query_one("#run-line").content)
        assert "evaluating 7/41 · ETA 5:40" in line and "60/60" not in line and "ETA 0:00" not in line
        bar = app.screen.query_one(ProgressBar)
        assert (bar.total, bar.progress) == (41, 7)
        await pilot.press("escape")
        await pilot.press("r")
        await until(pilot, lambda: app.screen.query(DataTable))
        table = app.screen.query_one(DataTable)
        cells = [str(cell) for cell in table.get_row(RUN_ID)]
        assert cells[3:6] == ["evaluating 7/41", "here", "60/60"] and cells[7] == "5:40"
        why = app.screen.query_one("#runs-why", Label)
        assert str(why.render()) == "20261125-040000-anna-e5f6: waits (peter's likeness pass, about 6 min)"


def test_after_done_the_last_samples_are_the_finishing_phase_not_a_finished_eta(demo_registry, run_writer):
    from qbtui.runs.info import read_run

    run = run_writer(demo_registry, "peter", RUN_ID, steps=60)
    with EventWriter(run.events) as events:
        events.write("done", status="completed", lora_path=str(run.path / "qb_peter_lora.safetensors"))
    info = read_run(run.path)
    assert (info.state, info.phase, info.activity) == ("running", "finishing", "finishing")
    assert (
        info.remaining_s is None
        and info.progress_words == "finishing: step 60/60 done, saving the LoRA and drawing the last samples"
    )
    with EventWriter(run.events) as events:
        events.write("eval", stage="plan", images=3, loras=["final"], weights=[0.8])
    assert read_run(run.path).progress_words == "evaluating 0/3 · ETA -"
