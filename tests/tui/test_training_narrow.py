"""The Training screen in little room: no broken loss chart frame, preview errors in full."""

from __future__ import annotations

import os

from tests.tui.test_training import RUN_ID, open_training


async def test_a_plot_too_low_for_data_rows_is_not_drawn(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", RUN_ID, steps=30)
    app = app_factory(demo_registry)
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        await pilot.pause()
        plot = app.screen.query_one("#loss-plot")
        assert plot.size.height < 6
        assert shown(plot).strip() == ""  # no frame without data rows
        assert "running avg" in str(app.screen.query_one("#loss-summary").content)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: plot.size.height >= 6 and "┌" in shown(plot))


def shown(plot) -> str:
    return "\n".join(strip.text for strip in plot.render_lines(plot.region.reset_offset))


async def test_a_sample_that_cannot_be_previewed_says_which_and_why_in_full(demo_registry, app_factory, run_writer, until):
    from textual.widgets import Static

    from qbtui.events import EventWriter

    run = run_writer(demo_registry, "peter", RUN_ID, steps=3)
    sample = run.path / "samples" / "qb_peter_step3_w0.8_s42.png"
    sample.parent.mkdir()
    os.mkfifo(sample)
    with EventWriter(run.events) as events:
        events.write("sample", step=3, path=str(sample), prompt="qb_peter person", weight=0.8)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        art = app.screen.query_one("#train-sample #preview-art", Static)
        await until(pilot, lambda: str(art.content).startswith("cannot preview"))
        await pilot.pause()
        shown = "".join("".join(strip.text.split()) for strip in art.render_lines(art.region.reset_offset))
        assert f"cannotpreview{sample.name}:" in shown and "FIFO" in shown, shown
