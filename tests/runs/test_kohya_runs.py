"""kohya runs through the supervisor, with a stand-in `accelerate` printing sd-scripts' output."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios

import pytest

from qbtui.cards import card_path, preview_path
from qbtui.errors import QbtuiError
from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.rundir import RunDir, read_run_toml
from qbtui.runs import manager
from qbtui.runs.info import list_runs, read_run

FINAL = ("completed", "stopped", "failed", "crashed")
CHECKPOINT_BYTES = 10 * 4096  # the stand-in's tensor data, after its safetensors header


def test_kohya_run_turns_output_into_events_and_is_recorded(workspace, wait_for_state):
    info = manager.start_run(workspace, "peter", backend="kohya")
    done = wait_for_state(info.path, FINAL)
    assert done.state == "completed" and (done.step, done.max_steps) == (8, 8)
    assert done.lora_path == workspace.settings.lora_dir / "qb_peter_lora.safetensors"
    events = read_events(RunDir(info.path).events)
    steps = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 9)) and steps[-1]["it_s"] == 1.5
    assert [e["path"].rsplit("/", 1)[1] for e in events if e["type"] == "checkpoint"] == [
        "qb_peter_lora-step00000004.safetensors",
        "qb_peter_lora.safetensors",
    ]
    start = next(e for e in events if e["type"] == "start")
    assert (start["backend"], start["max_steps"], start["images"]) == ("kohya", 8, 20)
    run = read_run_toml(RunDir(info.path))["run"]
    assert run["command"][:2] == [str(workspace.settings.kohya_accelerate), "launch"]
    assert run["env"] == {"PYTORCH_ENABLE_MPS_FALLBACK": "1", "PYTHONUNBUFFERED": "1"}
    (training,) = Registry.load(workspace.path).friend("peter").trainings
    assert (training.backend, training.steps, training.lora_file) == ("kohya", 8, "qb_peter_lora.safetensors")


def test_kohya_crash_gives_the_traceback_as_an_error(workspace, monkeypatch, wait_for_state):
    monkeypatch.setenv("STANDIN_MODE", "crash")
    info = manager.start_run(workspace, "peter", backend="kohya")
    done = wait_for_state(info.path, FINAL)
    assert done.state == "failed" and "out of memory" in done.error and "train_batch_size" in done.error
    errors = [e for e in read_events(RunDir(info.path).events) if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["log_tail"][-1] == "RuntimeError: MPS backend out of memory"


@pytest.mark.parametrize("backend", ["kohya", "builtin"])
def test_a_backend_ending_well_without_its_lora_file_fails_the_run(workspace, monkeypatch, wait_for_state, backend):
    monkeypatch.setenv("STANDIN_MODE", "no-lora")
    info = manager.start_run(workspace, "peter", backend=backend)
    done = wait_for_state(info.path, FINAL)
    assert done.state == "failed" and done.lora_path is None
    assert "finished without writing its LoRA file" in done.error and "free space" in done.error
    assert Registry.load(workspace.path).friend("peter").trainings == ()


@pytest.mark.parametrize(("backend", "mode"), [("kohya", "no-lora"), ("builtin", "stale-lora")])
def test_an_older_lora_of_the_same_name_does_not_complete_a_run_that_wrote_nothing(
    workspace, monkeypatch, wait_for_state, backend, mode
):
    older = workspace.settings.lora_dir / "qb_peter_lora.safetensors"
    older.parent.mkdir(parents=True)
    older.write_bytes(b"an older training")
    os.utime(older, (1_700_000_000, 1_700_000_000))
    monkeypatch.setenv("STANDIN_MODE", mode)
    info = manager.start_run(workspace, "peter", backend=backend)
    done = wait_for_state(info.path, FINAL)
    assert done.state == "failed" and done.lora_path is None
    assert f"finished without writing its LoRA file: {older} is an older LoRA" in done.error
    assert "output.log says why" in done.error
    assert Registry.load(workspace.path).friend("peter").trainings == ()
    assert older.read_bytes() == b"an older training" and older.stat().st_mtime == 1_700_000_000
    assert not card_path(older).exists() and not preview_path(older).exists()


def test_stop_during_a_checkpoint_write_leaves_no_half_written_file(workspace, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_MODE", "slow-save")
    # Steps slow enough that the supervisor reads the step after the save before the final save begins.
    monkeypatch.setenv("STANDIN_STEP_S", "0.3")
    info = manager.start_run(workspace, "peter", backend="kohya")
    checkpoint = workspace.settings.lora_dir / "qb_peter_lora-step00000004.safetensors"
    wait_for(checkpoint.exists, what="the checkpoint write to begin")
    assert checkpoint.stat().st_size < CHECKPOINT_BYTES, "the stop must arrive mid-write for this test to mean anything"
    stopped = manager.stop_run(workspace.settings, info.run_id)
    assert stopped.state == "stopped"
    header = int.from_bytes(checkpoint.read_bytes()[:8], "little")
    assert checkpoint.stat().st_size == 8 + header + CHECKPOINT_BYTES
    assert stopped.lora_path == checkpoint
    assert not (workspace.settings.lora_dir / "qb_peter_lora.safetensors").exists()


def test_kohya_resume_passes_the_state_folder(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.2")
    info = manager.start_run(workspace, "peter", backend="kohya")
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    manager.stop_run(workspace.settings, info.run_id)
    with pytest.raises(QbtuiError, match="save_state"):
        manager.resume_run(workspace, info.run_id)
    state = workspace.settings.lora_dir / "qb_peter_lora-step00000004-state"
    state.mkdir(parents=True)
    monkeypatch.setenv("STANDIN_STEP_S", "0.01")
    manager.resume_run(workspace, info.run_id)
    assert wait_for_state(info.path, FINAL).state == "completed"
    assert f"--sdpa --resume {state}" in RunDir(info.path).output_log.read_text()


def test_missing_sd_scripts_fails_before_anything_starts(workspace):
    (workspace.settings.kohya_scripts / "train_network.py").unlink()
    with pytest.raises(QbtuiError, match="sd-scripts is not installed"):
        manager.start_run(workspace, "peter", backend="kohya")
    assert not workspace.settings.logs_dir.exists() or not any(workspace.settings.logs_dir.glob("peter/2*"))


def test_kohya_steps_override_reaches_the_command(workspace):
    plan = manager.plan_run(workspace, "peter", run_id=manager.new_run_id("peter"), backend="kohya", steps=3)
    assert plan.command[plan.command.index("--max_train_steps") + 1] == "3" and plan.max_steps == 3
    assert plan.train["max_train_steps"] == 3


def terminal_session() -> None:
    """In the child before exec: a controlling terminal and SIGHUP as a login shell has it."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_closing_the_terminal_of_train_wait_leaves_the_run_going(workspace, monkeypatch, tmp_path, wait_for, wait_for_state):
    hold = tmp_path / "hold"
    monkeypatch.setenv("STANDIN_HOLD", str(hold))  # the run waits after step 2 until the hang-up is done
    master, terminal = pty.openpty()
    cli = subprocess.Popen(
        [sys.executable, "-m", "qbtui", "--registry", str(workspace.path), "train", "peter", "--backend", "kohya", "--wait"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        # The test forks from its main thread; the hook makes the pty the controlling terminal and
        # gives the command a login shell's SIGHUP (default, unblocked), whatever pytest inherited.
        preexec_fn=terminal_session,  # noqa: PLW1509
    )
    os.close(terminal)
    run = wait_for(lambda: next((i for i in list_runs(workspace.settings) if i.step >= 1), None), what="the run's first step")
    os.close(master)
    assert cli.wait(timeout=120) == -signal.SIGHUP, "the hang-up ends the command that was following the run"
    assert read_run(run.path).state == "running"
    hold.touch()
    assert wait_for_state(run.path, FINAL).state == "completed"


def test_a_completed_kohya_run_starts_its_likeness_evaluation(workspace, wait_for, wait_for_state):
    workspace.path.write_text(workspace.path.read_text().replace("eval_after_training = false", "eval_after_training = true"))
    info = manager.start_run(Registry.load(workspace.path), "peter", backend="kohya")
    assert wait_for_state(info.path, FINAL).state == "completed"
    (started,) = wait_for(
        lambda: [e for e in read_events(RunDir(info.path).events) if e["type"] == "eval"], what="the kohya run's eval event"
    )
    assert started["stage"] == "started"
    evaluation = RunDir(workspace.settings.logs_dir / "peter" / started["run_id"])
    try:
        table = read_run_toml(evaluation)
        assert table["run"]["backend"] == "eval" and table["train"]["run_dir"] == str(info.path)
        assert [lora["label"] for lora in table["train"]["loras"]] == ["4", "final"]
        assert table["train"]["base_model"] == str(workspace.settings.base_model)
    finally:
        # the stand-in's LoRA files are not real ones: the pass ends (failed) on its own
        wait_for_state(evaluation.path, FINAL, timeout=600)
