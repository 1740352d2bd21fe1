"""While the final file is scored, the choice made at `done` shows as standing on the dashboard, the
Training screen and the Runs screen (issue 23, deliver 4); once scored, the last samples are the
finishing phase, not a finished pass."""

from __future__ import annotations

from textual.widgets import DataTable, Label, Static

from qbtui.events import EventWriter
from qbtui.rundir import RunDir
from qbtui.runs.info import read_run
from tests.tui.test_likeness_live import scored
from tests.tui.test_training import open_training

RUN_ID = "20261125-034512-peter-a1b2"
STANDING = "chosen: step 40 · 0.8 · likeness 0.41, final step being scored"


def final_scoring(run: RunDir) -> None:
    """After checkpoints 20 and 40: `done`, the standing choice 40@0.8, the final file's first sample of 2."""
    with EventWriter(run.events) as events:
        events.write("done", status="completed", lora_path=str(run.path / "qb_peter_lora.safetensors"))
        events.write("eval", stage="chosen", key="40@0.8", label="40", step=40, weight=0.8, likeness=0.41, pending=2)
        events.write("eval", stage="plan", images=2, loras=["final"], weights=[0.8, 1.0])
        events.write("eval", stage="sample", done=1, total=2, lora="final", weight=0.8, faces=1)


async def test_every_screen_shows_the_standing_choice(demo_registry, app_factory, run_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=40)
    scored(run)
    final_scoring(run)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: (info := app.workspace.run(RUN_ID)) is not None and info.chosen is not None)
        await until(pilot, lambda: f"Likeness: {STANDING}" in str(app.screen.query_one("#friend-details").content))
        await open_training(app, pilot)
        artifacts = str(app.screen.query_one("#train-artifacts", Static).content)
        assert artifacts.splitlines()[:2] == [f"run {RUN_ID}", STANDING]
        await pilot.press("escape", "r")
        await until(pilot, lambda: app.screen.query(DataTable))
        assert str(app.screen.query_one("#runs-why", Label).render()) == f"{RUN_ID}: {STANDING}"


def test_after_the_final_scores_the_last_samples_are_the_finishing_phase(demo_registry, run_writer):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=40)
    final_scoring(run)
    assert read_run(run.path).progress_words.startswith("evaluating 1/2")
    with EventWriter(run.events) as events:
        events.write("eval", stage="sample", done=2, total=2, lora="final", weight=1.0, faces=1)
        events.write("eval", stage="chosen", key="40@0.8", label="40", step=40, weight=0.8, likeness=0.41, pending=0)
        events.write("eval", stage="result", run_id=RUN_ID, friend_id="peter", cells=[], chosen=None, reason="")
    info = read_run(run.path)
    assert info.phase == "finishing" and info.chosen is not None
    assert info.chosen.words == "chosen: step 40 · 0.8 · likeness 0.41"
    assert info.to_json()["chosen_words"] == "chosen: step 40 · 0.8 · likeness 0.41"
