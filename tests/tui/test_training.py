"""Training screen: watch a run's loss and progress move, start and stop a real run,
and find it again after the app was closed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Footer, ProgressBar, RichLog, Select, Static

from qbtui.runs.format import format_event
from qbtui.tui.screens.training import TrainingScreen
from qbtui.tui.widgets.dataset_confirm import ConfirmScreen
from qbtui.tui.widgets.loss_chart import LossChart
from tests.tui.waiting import workers_idle

RUN_ID = "20261125-034512-peter-a1b2"


def loss_points(app) -> int:
    return app.screen.query_one(LossChart).points


def log_text(app) -> str:
    """The log pane's lines as shown (wrapped lines joined back with spaces)."""
    return " ".join(strip.text.strip() for strip in app.screen.query_one("#train-log", RichLog).lines)


def progress(app) -> tuple[float | None, float]:
    bar = app.screen.query_one(ProgressBar)
    return bar.total, bar.progress


async def open_training(app, pilot, friend_row: int = 0) -> TrainingScreen:
    await pilot.press(*["down"] * friend_row, "t")
    await pilot.pause()
    assert isinstance(app.screen, TrainingScreen)
    return app.screen


async def test_loss_chart_progress_and_log_follow_the_run(demo_registry, app_factory, run_writer, step_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=5)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        assert loss_points(app) == 5 and progress(app) == (60, 5)
        step_writer(run, range(6, 21))
        await until(pilot, lambda: progress(app) == (60, 20))
        assert loss_points(app) == 20
        line = str(app.screen.query_one("#run-line").content)
        assert (
            "step 20/60" in line
            and "2.00 it/s" in line
            and "ETA 0:20" in line
            and "elapsed 2:00" in line
            and "lr 1.0e-04" in line
        )
        events = [json.loads(line) for line in run.events.read_text().splitlines()]
        step_line = format_event([event for event in events if event.get("step") == 20][-1])
        assert step_line.endswith("step 20/60  loss 0.1200  avg 0.1140  2.00 it/s  ETA 0:20")
        await until(pilot, lambda: step_line.split("  ", 1)[1] in log_text(app).replace("   ", "  "))


async def test_the_loss_chart_has_axes_at_80x24(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", RUN_ID, steps=30)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        await pilot.pause()
        chart = app.screen.query_one("#loss-plot")
        assert chart.size.height >= 6 and chart.size.width >= 40
        shown = "\n".join(strip.text for strip in chart.render_lines(chart.region.reset_offset))
        assert "step" in shown and "loss" in shown
        assert any("\u2801" <= char <= "\u28ff" for char in shown), shown  # braille: the lines are drawn
        # The legend is the summary line above the plot (tests/tui/test_pictures.py).
        assert "running avg" in str(app.screen.query_one("#loss-summary").content)


async def test_log_lines_are_wrapped_never_cut(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", RUN_ID, steps=3)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        await until(pilot, lambda: "step 3/60" in log_text(app))
        log = app.screen.query_one("#train-log", RichLog)
        assert log.size.width < 60 and max(len(strip.text.rstrip()) for strip in log.lines) <= log.size.width
        for word in ("step 3/60", "loss 0.2308", "avg 0.2193", "2.00 it/s", "ETA 0:28"):
            assert word in log_text(app)


async def test_checkpoints_and_samples_appear_as_they_are_written(demo_registry, app_factory, run_writer, until):
    from PIL import Image

    from qbtui.events import EventWriter
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
        await until(pilot, lambda: "checkpoints by step (1)" in artifacts())
        assert "     3  qb_peter_lora-000003" in artifacts()
        preview = app.screen.query_one("#train-sample", ImagePreview)
        await until(pilot, lambda: preview.path == sample)
        assert preview.display and str(app.screen.query_one("#train-sample-caption").content) == "1/1 · step 3 · weight 0.8"


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
        await pilot.press("s", "y")
        await until(pilot, lambda: progress(app)[1] >= 3 and loss_points(app) >= 3, timeout=120)
        moved_from = progress(app)[1]
        await until(pilot, lambda: progress(app)[1] > moved_from, timeout=60)
        await pilot.press("x", "y")
        await until(pilot, lambda: (run := screen.current_run()) is not None and run.state == "stopped", timeout=60)
        run_id, stopped_at = screen.current_run().run_id, progress(app)[1]
        await pilot.press("u")
        await until(pilot, lambda: progress(app)[1] > stopped_at, timeout=120)
        assert screen.current_run().run_id == run_id
        await pilot.press("x", "y")
        await until(pilot, lambda: screen.current_run().state == "stopped", timeout=60)
    reopened = app_factory(demo_registry)
    async with reopened.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: reopened.workspace.run(run_id) is not None)
        assert reopened.workspace.run(run_id).state == "stopped"


async def test_unready_dataset_is_refused_with_its_problems_unless_forced(demo_registry, app_factory, until, settle):
    (demo_registry.parent / "models" / "base").mkdir(parents=True)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_training(app, pilot, friend_row=1)
        assert "blocked: 12 photos, needs 20" in str(screen.query_one("#train-readiness", Static).content)
        await pilot.press("s")
        await workers_idle(pilot)
        messages = [str(note.message) for note in app._notifications]
        assert any("blocked: 12 photos, needs 20" in message and "press f" in message for message in messages), messages
        assert not any("--force" in message for message in messages)
        assert app.workspace.runs_for("anna") == []
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
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


async def test_tab_tab_enter_never_starts_a_run_and_s_asks_first(demo_registry, app_factory, settle):
    (demo_registry.parent / "models" / "base").mkdir(parents=True)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_training(app, pilot)
        screen = app.screen
        for presses in (2, 3, 4):
            await pilot.press(*["tab"] * presses, "enter")
            await workers_idle(pilot)
            assert app.screen is screen and app.workspace.runs_for("peter") == []
            for select in screen.query(Select):
                if select.expanded:
                    await pilot.press("escape")
            await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.title_text == "Start training"
        await pilot.press("n")
        await workers_idle(pilot)
        assert app.workspace.runs_for("peter") == []


async def test_a_busy_device_offers_to_queue_and_queues(demo_registry, app_factory, run_writer, until, settle):
    from qbtui.registry import Registry
    from qbtui.runs.queue import list_queue

    (demo_registry.parent / "models" / "base").mkdir(parents=True)
    run_writer(demo_registry, "sam", "20261125-030000-sam-0000", steps=4)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: app.workspace.run("20261125-030000-sam-0000") is not None)
        screen = await open_training(app, pilot)
        readiness = str(screen.query_one("#train-readiness", Static).content)
        assert "device busy: sam is training" in readiness and "queues" in readiness
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.title_text == "Queue training"
        await pilot.press("y")
        await workers_idle(pilot)
        queued = list_queue(Registry.load(demo_registry).settings)
        assert len(queued) == 1 and "-peter-" in queued[0]
        await until(pilot, lambda: screen.current_run() is not None and screen.current_run().state == "queued")
        messages = [str(note.message) for note in app._notifications]
        assert any(message.endswith("queued") for message in messages) and not any("--queue" in m for m in messages)


async def test_a_stopped_run_says_u_resumes_and_shows_its_own_command(demo_registry, app_factory, run_writer, until):
    """Issue 25 item 6: after a stop, `stopped at 8/60 · u resumes`, and the command line has the run id."""
    from qbtui.rundir import read_run_toml, write_run_toml

    run = run_writer(demo_registry, "peter", RUN_ID, steps=8, live=False, status="stopped")
    table = read_run_toml(run)
    command = [sys.executable, "-m", "qbtui.trainer", "--run-dir", str(run.path)]
    write_run_toml(run, {**table["run"], "command": command, "env": {}}, table["train"])
    app = app_factory(demo_registry)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        readiness = lambda: str(app.screen.query_one("#train-readiness", Static).content)  # noqa: E731
        await until(pilot, lambda: readiness().startswith("stopped at 8/60 · u resumes"))
        shown = lambda: str(app.screen.query_one("#train-command", Static).content)  # noqa: E731
        await until(pilot, lambda: RUN_ID in shown())
        assert "<run id>" not in shown()


async def test_the_phase_after_the_last_step_is_shown(demo_registry, app_factory, run_writer, until):
    """Issue 25 item 6: after the last step, before `done`, the LoRA is saved and samples drawn (no events)."""
    run_writer(demo_registry, "peter", RUN_ID, steps=60, max_steps=60)
    app = app_factory(demo_registry)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.workspace.run(RUN_ID) is not None)
        await open_training(app, pilot)
        line = lambda: str(app.screen.query_one("#run-line").content)  # noqa: E731
        await until(pilot, lambda: line().startswith("finishing: step 60/60 done, saving the LoRA"))
        assert "ETA" not in line()
