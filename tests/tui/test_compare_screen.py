"""The likeness compare view: the grid of samples with scores, the choice marked, a new pick recorded."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from qbtui.likeness.report import Evaluation, write_evaluation
from qbtui.likeness.scoring import CellScore, SampleScore
from qbtui.registry import Registry, Training
from qbtui.tui.screens.compare import CompareCell, CompareScreen
from tests.tui.waiting import wait_until, workers_idle

RUN_ID = "20261124-100000-peter-0000"
WEIGHTS = (0.6, 0.8, 1.0)


def evaluated_run(registry_path: Path, run_writer) -> Path:
    """A completed run of Peter with an eval.json (samples drawn in flat colours) and its training row."""
    run = run_writer(registry_path, "peter", RUN_ID, steps=60, live=False, status="completed")
    folder = run.path / "eval"
    folder.mkdir()
    cells = []
    for row, (label, step) in enumerate((("base", None), ("20", 20), ("40", 40), ("final", 60))):
        for weight in (0.0,) if label == "base" else WEIGHTS:
            samples = []
            for seed in (1000, 1001):
                path = folder / f"{label}_w{weight:.2f}_s{seed}.png"
                Image.new("RGB", (64, 64), (40 * row, int(200 * weight), seed - 950)).save(path)
                samples.append(SampleScore(str(path), "a photo of qb_peter person", "identity", seed, 1, 0.3 + row / 10))
            lora = "" if label == "base" else f"qb_peter_lora-{label}.safetensors"
            cells.append(CellScore(label, step, lora, weight, 1.0, None, 0.3 + row / 10 + weight / 100, 1.0, 0.1, tuple(samples)))
    chosen = next(cell for cell in cells if cell.key == "20@0.6")
    write_evaluation(
        run.path / "eval.json", Evaluation(RUN_ID, "peter", tuple(cells), chosen, "best likeness 0.406", references=20, photos=24)
    )
    Registry.load(registry_path).record_training("peter", Training(date="2026-11-24", steps=60, images=24, run_id=RUN_ID))
    return run.path


async def open_compare(app, pilot) -> CompareScreen:
    await wait_until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
    await pilot.press("r")
    await pilot.pause()
    await pilot.press("v")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and len(app.screen.query(CompareCell)) == 10)
    await workers_idle(pilot)
    return app.screen


async def test_the_grid_shows_every_cell_with_its_score_and_the_choice(demo_registry, app_factory, run_writer):
    evaluated_run(demo_registry, run_writer)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        cells = list(screen.query(CompareCell))
        assert [cell.cell.key for cell in cells if cell.chosen] == ["20@0.6"]
        selected = [cell for cell in cells if cell.has_class("-selected")]
        assert [cell.cell.key for cell in selected] == ["20@0.6"]
        await wait_until(pilot, lambda: all(cell.query_one("ImagePreview").shown is not None for cell in cells))
        assert "choice: 20 at weight 0.6" in str(screen.query_one("#compare-choice").render())


async def test_moving_and_picking_records_another_choice(demo_registry, app_factory, run_writer):
    run_path = evaluated_run(demo_registry, run_writer)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("down", "right", "right")
        selected = [cell.cell.key for cell in screen.query(CompareCell) if cell.has_class("-selected")]
        assert selected == ["40@1"]
        await pilot.press("n")
        assert all(cell.query_one("ImagePreview").path.name.endswith("_s1001.png") for cell in screen.query(CompareCell))
        await pilot.press("enter")
        await workers_idle(pilot)
        peter = Registry.load(demo_registry).friends["peter"]
        assert (peter.chosen_weight, peter.lora_name) == (1.0, "qb_peter_lora-40")
        assert Evaluation.from_json(__import__("json").loads((run_path / "eval.json").read_text()))
        await wait_until(pilot, lambda: [c.cell.key for c in screen.query(CompareCell) if c.chosen] == ["40@1"])


async def test_the_base_model_cannot_be_chosen(demo_registry, app_factory, run_writer):
    evaluated_run(demo_registry, run_writer)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("up", "enter")
        await workers_idle(pilot)
        assert any("base model" in str(note.message) for note in app._notifications)
        assert Registry.load(demo_registry).friends["peter"].chosen_weight is None


async def test_a_run_without_an_evaluation_says_how_to_get_one(demo_registry, app_factory, run_writer):
    run_writer(demo_registry, "peter", RUN_ID, steps=60, live=False, status="completed")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await workers_idle(pilot)
        assert "no likeness evaluation yet" in str(app.screen.query_one("#compare-summary").render())


async def test_a_new_evaluation_rebuilds_the_grid(demo_registry, app_factory, run_writer):
    run_path = evaluated_run(demo_registry, run_writer)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        evaluation = Evaluation.from_json(__import__("json").loads((run_path / "eval.json").read_text()))
        fewer = tuple(cell for cell in evaluation.cells if cell.weight in (0.0, 0.8))
        write_evaluation(run_path / "eval.json", Evaluation(RUN_ID, "peter", fewer, None, "no faces in the samples"))
        screen.load()
        await wait_until(pilot, lambda: len(screen.query(CompareCell)) == 4)
        await workers_idle(pilot)
        assert not any(cell.chosen for cell in screen.query(CompareCell))
        assert "choice: none (no faces in the samples)" in str(screen.query_one("#compare-choice").render())


async def test_an_evaluation_stopped_before_any_sample_says_so(demo_registry, app_factory, run_writer):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=60, live=False, status="completed")
    stopped = "the evaluation was stopped before every sample was drawn"
    write_evaluation(run.path / "eval.json", Evaluation(RUN_ID, "peter", (), None, stopped, warnings=(stopped,)))
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await workers_idle(pilot)
        screen = app.screen
        await wait_until(pilot, lambda: "drew no samples" in str(screen.query_one("#compare-summary").render()))
        assert f"choice: none ({stopped})" in str(screen.query_one("#compare-choice").render())
        await pilot.press("down", "enter")
        assert app.screen is screen
