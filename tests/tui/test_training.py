"""Training screen: watch a run's loss and progress move, start and stop a real run,
and find it again after the app was closed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Footer, Log, ProgressBar, Sparkline, Static

from qbtui.tui.screens.training import TrainingScreen
from tests.tui.waiting import workers_idle

RUN_ID = "20261125-034512-peter-a1b2"


def loss_points(app) -> int:
    return len(app.screen.query_one("#loss-raw", Sparkline).data)


def progress(app) -> tuple[float | None, float]:
    bar = app.screen.query_one(ProgressBar)
    return bar.total, bar.progress


async def open_training(app, pilot, friend_row: int = 0) -> TrainingScreen:
    await pilot.press(*["down"] * friend_row, "t")
    await pilot.pause()
    assert isinstance(app.screen, TrainingScreen)
    return app.screen


async def test_loss_sparkline_progress_and_log_follow_the_run(demo_registry, app_factory, run_writer, step_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=5)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        assert loss_points(app) == 5 and progress(app) == (60, 5)
        assert app.screen.query_one("#loss-avg", Sparkline).summary_function.__name__ == "fmean"
        step_writer(run, range(6, 21))
        await until(pilot, lambda: progress(app) == (60, 20))
        assert loss_points(app) == 20
        line = str(app.screen.query_one("#run-line").content)
        assert (
            "step 20/60" in line
            and "2.00 it/s" in line
            and "ETA 20s" in line
            and "elapsed 2m00s" in line
            and "lr 1.0e-04" in line
        )
        log = app.screen.query_one(Log)
        assert log.line_count == 20 and log.lines[-1] == "step 20/60 loss 0.1200"


async def test_checkpoints_and_samples_appear_as_they_are_written(demo_registry, app_factory, run_writer, until):
    from PIL import Image

    from qbtui.runs.events import EventWriter
    from qbtui.tui.widgets.preview import ImagePreview

    run = run_writer(demo_registry, "peter", RUN_ID, steps=3)
    sample = run.path / "samples" / "step3.png"
    sample.parent.mkdir()
    Image.new("RGB", (64, 64), (200, 80, 40)).save(sample)
    app = app_factory(demo_registry)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        with EventWriter(run.events) as events:
            events.write("checkpoint", step=3, path="/loras/qb_peter_lora-000003.safetensors")
            events.write("sample", step=3, path=str(sample), prompt="qb_peter person", weight=0.8)
        artifacts = lambda: str(app.screen.query_one("#train-artifacts", Static).content)  # noqa: E731
        await until(pilot, lambda: "step3.png" in artifacts())
        assert "checkpoints (1)" in artifacts() and "qb_peter_lora-000003" in artifacts()
        preview = app.screen.query_one("#train-sample", ImagePreview)
        assert preview.path == sample and preview.display


async def test_reopening_the_app_reattaches_to_the_live_run(demo_registry, app_factory, run_writer, step_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=5)
    first = app_factory(demo_registry)
    async with first.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: first.workspace.run(RUN_ID) is not None)
    step_writer(run, range(6, 13))
    second = app_factory(demo_registry)
    async with second.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: second.workspace.run(RUN_ID) is not None)
        await open_training(second, pilot)
        assert progress(second) == (60, 12) and loss_points(second) == 12
        assert str(second.screen.query_one("#run-line").content).startswith("running: step 12/60")


def footer_keys(app) -> list[object]:
    return list(app.screen.query_one(Footer).children)


async def test_footer_is_rebuilt_only_when_its_keys_change(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_training(app, pilot)
        await pilot.pause()
        keys = footer_keys(app)
        assert any(getattr(key, "description", "") == "Start" for key in keys)
        for press in ("tab", "tab", "shift+tab"):
            focused = app.focused
            await pilot.press(press)
            await pilot.pause()
            assert app.focused is not focused
        assert footer_keys(app) == keys
        app.set_keymap({"training.start": "ctrl+g"})
        await pilot.pause()
        start = [key for key in footer_keys(app) if getattr(key, "description", "") == "Start"]
        assert footer_keys(app) != keys and [key.key for key in start] == ["ctrl+g"]


async def test_stop_and_resume_are_refused_without_a_suitable_run(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_training(app, pilot, friend_row=2)
        await pilot.press("x", "u")
        messages = [str(note.message) for note in app._notifications]
        assert "no running training to stop" in messages
        assert any(message.startswith("nothing to resume") for message in messages)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's tiny SD1.5-shaped model, built by a subprocess (this process never imports torch)."""
    folder = tmp_path_factory.mktemp("tiny-model")
    subprocess.run([sys.executable, "-m", "qbtui.trainer.tiny", str(folder)], check=True, capture_output=True)
    return folder


async def test_start_a_real_run_watch_it_move_stop_and_resume_it(demo_registry, tiny_model, app_factory, until):
    pytest.importorskip("qbtui.runs.manager", reason="the runs manager (start_run/stop_run) has not landed")
    text = demo_registry.read_text().replace('base_model = "models/base"', f'base_model = "{tiny_model}"')
    text = text.replace("max_train_steps = 60", 'max_train_steps = 400\nsave_every_n_steps = 100\nresolution = "64,64"')
    demo_registry.write_text(text)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_training(app, pilot)
        await until(pilot, lambda: "qbtui.trainer" in str(screen.query_one("#train-command", Static).content))
        await pilot.press("s")
        await until(pilot, lambda: progress(app)[1] >= 3 and loss_points(app) >= 3, timeout=120)
        moved_from = progress(app)[1]
        await until(pilot, lambda: progress(app)[1] > moved_from, timeout=60)
        await pilot.press("x")
        await until(pilot, lambda: (run := screen.current_run()) is not None and run.state == "stopped", timeout=60)
        run_id, stopped_at = screen.current_run().run_id, progress(app)[1]
        await pilot.press("u")
        await until(pilot, lambda: progress(app)[1] > stopped_at, timeout=120)
        assert screen.current_run().run_id == run_id
        await pilot.press("x")
        await until(pilot, lambda: screen.current_run().state == "stopped", timeout=60)
    reopened = app_factory(demo_registry)
    async with reopened.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: reopened.workspace.run(run_id) is not None)
        assert reopened.workspace.run(run_id).state == "stopped"


async def test_unready_dataset_is_refused_with_its_problems_unless_forced(demo_registry, app_factory, until):
    (demo_registry.parent / "models" / "base").mkdir(parents=True)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_training(app, pilot, friend_row=1)
        await pilot.press("s")
        await workers_idle(pilot)
        messages = [str(note.message) for note in app._notifications]
        assert any("not ready" in message and "fix:" in message for message in messages), messages
        assert app.workspace.runs_for("anna") == []
        await pilot.press("f")
        await workers_idle(pilot)
        await until(pilot, lambda: app.workspace.runs_for("anna") != [])
        run = app.workspace.runs_for("anna")[0]
        app.stop_run(run.run_id)
        await workers_idle(pilot)
        await until(pilot, lambda: not app.workspace.run(run.run_id).live, timeout=60)


async def test_steps_written_while_help_was_open_show_on_return(demo_registry, app_factory, run_writer, step_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=5)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        await pilot.press("f1")
        step_writer(run, range(6, 9))
        await until(pilot, lambda: app.workspace.run(RUN_ID).step == 8)
        await until(pilot, lambda: app.workspace.trace(RUN_ID).step_events == 8)
        await pilot.pause(0.6)
        await pilot.press("escape")
        await pilot.pause()
        assert progress(app) == (60, 8)
