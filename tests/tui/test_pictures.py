"""Issue 25 item 7, pictures where people look: the dashboard's panel shows the running training and
thumbnails of the latest samples (sized to its room, one line where none fits); the Training screen
captions its sample with step, weight and seed and pages through the run's samples with `[` and `]`;
the loss chart's legend is a line above the plot, never drawn over the data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Footer, Static

from qbtui.events import EventWriter
from qbtui.tui.screens.training import TrainingScreen
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.sample_strip import MAX_TILES, SampleStrip, plan_tiles
from qbtui.workspace.samples import RunSample, sample_of

RUN_ID = "20261125-034512-peter-a1b2"
WEIGHTS = (0.6, 0.8, 1.0)


def write_samples(run, step: int, weights=WEIGHTS) -> list[Path]:
    """Sample PNGs named as the builtin trainer names them, and their `sample` events."""
    from PIL import Image

    folder = run.path / "sample"
    folder.mkdir(exist_ok=True)
    paths = []
    with EventWriter(run.events) as events:
        for index, weight in enumerate(weights):
            path = folder / f"qb_peter_lora_{step:06d}_00_w{weight:.2f}_42.png"
            Image.new("RGB", (64, 64), (40 + index * 80, 120, 200 - index * 60)).save(path)
            events.write("sample", step=step, path=str(path), prompt="qb_peter person", weight=weight)
            paths.append(path)
    return paths


def panel_text(app) -> str:
    return str(app.screen.query_one("#friend-details", Static).content)


def test_a_sample_event_gives_step_weight_and_the_seed_of_its_file_name():
    event = {"type": "sample", "step": 800, "path": "/x/qb_ada_lora_000800_00_w0.80_1234.png", "weight": 0.8}
    assert sample_of(event) == RunSample(path=event["path"], step=800, weight=0.8, seed=1234)
    assert sample_of(event).caption == "step 800 · weight 0.8 · seed 1234"
    assert sample_of({"type": "sample", "path": "/x/other.png"}).caption == "other"


@pytest.mark.parametrize(
    ("width", "height", "samples", "tiles"),
    [(42, 25, 3, 3), (42, 25, 12, 6), (31, 15, 3, 2), (90, 40, 12, MAX_TILES), (58, 1, 3, 0), (10, 30, 3, 0), (40, 20, 0, 0)],
)
def test_the_strip_shows_as_many_thumbnails_as_its_room_holds(width, height, samples, tiles):
    plan = plan_tiles(width, height, samples)
    assert plan.tiles == tiles
    if tiles:
        assert plan.columns * (plan.width + 1) - 1 <= width
        assert -(-tiles // plan.columns) * plan.height + 1 <= height


@pytest.mark.parametrize("size", [(120, 40), (80, 24), (200, 50)])
async def test_the_panel_shows_the_running_training_and_thumbnails_not_paths(demo_registry, app_factory, run_writer, until, size):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=20)
    paths = write_samples(run, 20)
    app = app_factory(demo_registry)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: "step 20/60" in panel_text(app))
        text = panel_text(app)
        assert "running here · step 20/60 · ETA 0:20" in text and "none yet" not in text, text
        assert not any(str(path) in text or path.name in text for path in paths), text
        strip = app.screen.query_one(SampleStrip)
        wanted = 2 if size != (80, 24) else 1
        await until(
            pilot,
            lambda: (
                strip.plan.tiles >= wanted
                and [Path(s.path) for s in strip.shown] == paths[::-1][: strip.plan.tiles]
                and len(strip.query(ImagePreview)) == strip.plan.tiles
            ),
        )
        await until(pilot, lambda: all(preview.shown is not None for preview in strip.query(ImagePreview)))
        previews = list(strip.query(ImagePreview))
        # Drawn as half-blocks, captioned with step and weight; no file path on the screen.
        art = previews[0].query_one("#preview-art", Static)
        assert "\u2580" in "".join(line.text for line in art.render_lines(art.region.reset_offset))
        captions = [str(label.content) for label in strip.query("SampleTile > Label")]
        assert captions[:2] == ["step 20 w1", "step 20 w0.8"][: len(captions)]
        assert str(paths[0].parent) not in app.export_screenshot()
        table = app.screen.query_one("#friends")
        assert "20/60" in "".join(str(cell) for cell in table.get_row("peter"))


async def test_a_sample_file_swapped_on_disk_is_read_again(demo_registry, app_factory, run_writer, step_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=20)
    paths = write_samples(run, 20)
    app = app_factory(demo_registry)
    async with app.run_test(size=(120, 40)) as pilot:
        strip = app.screen.query_one(SampleStrip)
        await until(pilot, lambda: strip.query(ImagePreview) and all(p.shown is not None for p in strip.query(ImagePreview)))
        newest = strip.query(ImagePreview).first()
        assert newest.path == paths[-1]
        paths[-1].unlink()
        os.mkfifo(paths[-1])
        step_writer(run, range(21, 23))  # the dashboard shows the run again
        art = newest.query_one("#preview-art", Static)
        await until(pilot, lambda: newest.shown is None and "FIFO" in str(art.content))


async def test_a_short_panel_says_the_latest_sample_in_one_line(demo_registry, app_factory, run_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=20)
    write_samples(run, 20)
    app = app_factory(demo_registry)
    async with app.run_test(size=(60, 20)) as pilot:
        strip = app.screen.query_one(SampleStrip)
        title = strip.query_one("#strip-title", Static)
        await until(pilot, lambda: str(title.content) == "Latest sample: step 20 · weight 1 · seed 42 (+2)")
        assert strip.plan.tiles == 0 and not strip.query(ImagePreview)
        assert "running here · step 20/60" in panel_text(app)


def caption(app) -> str:
    return str(app.screen.query_one("#train-sample-caption").content)


async def test_the_training_screen_pages_through_the_samples_with_their_captions(demo_registry, app_factory, run_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=20)
    paths = write_samples(run, 10, weights=(0.8,)) + write_samples(run, 20, weights=(0.6, 1.0))
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        preview = app.screen.query_one("#train-sample", ImagePreview)
        await until(pilot, lambda: preview.path == paths[2])
        assert caption(app) == "3/3 · step 20 · weight 1 · seed 42"
        await pilot.press("left_square_bracket")
        assert preview.path == paths[1] and caption(app) == "2/3 · step 20 · weight 0.6 · seed 42"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert preview.path == paths[0] and caption(app) == "1/3 · step 10 · weight 0.8 · seed 42"
        await pilot.press("right_square_bracket")
        assert preview.path == paths[1]
        # The footer shows the keys at 80 columns, left of the palette key, Back and Help whole.
        footer = app.screen.query_one(Footer)
        palette = footer.query_one(".-command-palette").region.x
        labels = {str(label.content): label.region.right for label in footer.query("FooterLabel")}
        assert "Samples" in labels and labels["Samples"] <= palette
        keys = {key.description: key.region.right for key in footer.query("FooterKey").exclude(".-command-palette")}
        assert {"Back", "Help"} <= set(keys) and max(keys.values()) <= palette, keys


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_the_loss_legend_is_above_the_plot_never_over_the_data(demo_registry, app_factory, run_writer, until, size):
    run_writer(demo_registry, "peter", RUN_ID, steps=30)
    app = app_factory(demo_registry)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        await pilot.pause()
        plot = app.screen.query_one("#loss-plot")
        rows = [strip.text for strip in plot.render_lines(plot.region.reset_offset)]
        assert not any("running avg" in row or "⢕⢕ loss" in row for row in rows), "\n".join(rows)
        summary = str(app.screen.query_one("#loss-summary").content)
        assert summary.startswith("⣿ loss ") and "⣿ running avg " in summary
        assert app.screen.query_one("#loss-summary").region.bottom <= plot.region.y


async def test_a_new_run_shows_no_sample_of_the_run_before(demo_registry, app_factory, run_writer, until):
    first = run_writer(demo_registry, "peter", RUN_ID, steps=60, live=False, status="completed")
    write_samples(first, 60)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        await until(pilot, lambda: caption(app) == "3/3 · step 60 · weight 1 · seed 42")
        run_writer(demo_registry, "peter", "20261125-044512-peter-c3d4", steps=2, started_at=1_795_000_100.0)
        await until(pilot, lambda: caption(app) == "no samples yet")
        assert app.screen.query_one("#train-sample", ImagePreview).path is None


async def test_the_panel_says_where_a_stopped_run_stands(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", RUN_ID, steps=8, live=False, status="stopped")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "stopped at 8/60" in panel_text(app))
        assert "none yet" not in panel_text(app) and "▶" not in panel_text(app)
