"""Likeness watched live (issue 23, deliver 3): the Training screen charts it beside the loss (one line
per weight, base level and threshold), shows the best cell so far and its sample; the dashboard and
the Runs screen name the best so far."""

from __future__ import annotations

from PIL import Image
from textual.widgets import DataTable, Label

from qbtui.events import EventWriter
from qbtui.rundir import RunDir
from qbtui.tui.widgets.likeness_chart import LikenessChart
from tests.tui.test_training import open_training

RUN_ID = "20261125-034512-peter-a1b2"


def scored(run: RunDir) -> None:
    """The base model, then checkpoints 20 and 40 at two weights; the best is 40@0.8."""
    sample = run.path / "eval" / "40_w0.80_p00_s1000.png"
    sample.parent.mkdir()
    Image.new("RGB", (64, 64), (200, 150, 120)).save(sample)
    with EventWriter(run.events) as events:
        events.write("likeness", step=0, weight=0.0, likeness=0.78, face_rate=1.0, match_rate=0.0, samples=[])
        for step, values in ((20, (0.55, 0.5)), (40, (0.41, 0.47))):
            for weight, value in zip((0.8, 1.0), values, strict=True):
                best = ("20@1", 0.5) if step == 20 else ("40@0.8", 0.41)
                events.write(
                    "likeness",
                    step=step,
                    weight=weight,
                    likeness=value,
                    face_rate=1.0,
                    match_rate=1.0,
                    samples=[str(sample)],
                    best=best[0],
                    best_likeness=best[1],
                    best_sample=str(sample),
                )
            events.write("eval", stage="checkpoint", step=step, scores=[[0.8, values[0]], [1.0, values[1]]], base=0.78)


async def test_the_training_screen_charts_likeness_and_shows_the_best(demo_registry, app_factory, run_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=40)
    scored(run)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: (info := app.workspace.run(RUN_ID)) is not None and info.best_cell == "40@0.8")
        best = "Likeness: best likeness 0.41 (40@0.8) so far"
        await until(pilot, lambda: best in str(app.screen.query_one("#friend-details").content))
        await open_training(app, pilot)
        chart = app.screen.query_one(LikenessChart)
        await until(pilot, lambda: chart.display and chart.lines == 2)
        summary = str(app.screen.query_one("#likeness-summary", Label).content)
        assert summary == "likeness: best 0.41 (40@0.8) · base 0.78 · same person < 0.6"
        caption = str(app.screen.query_one("#train-sample-caption", Label).content)
        assert caption == "best 0.41 (40@0.8)"
        assert app.screen.query_one("#train-sample").path.name == "40_w0.80_p00_s1000.png"
        log = " ".join(strip.text.strip() for strip in app.screen.query_one("#train-log").lines)
        assert "likeness @40: 0.8 0.41 · 1.0 0.47 (base 0.78)" in log
        await pilot.press("escape", "r")
        await until(pilot, lambda: app.screen.query(DataTable))
        why = str(app.screen.query_one("#runs-why", Label).render())
        assert why == f"{RUN_ID}: best likeness 0.41 (40@0.8)"


async def test_no_likeness_chart_before_any_score(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", RUN_ID, steps=5)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        await pilot.pause()
        assert not app.screen.query_one(LikenessChart).display
