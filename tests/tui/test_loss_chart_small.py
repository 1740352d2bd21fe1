"""The loss chart where the Training screen has no room for its plot rows: no broken frame."""

from __future__ import annotations

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
