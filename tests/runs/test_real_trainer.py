"""One end-to-end run with the real builtin trainer on a tiny SD1.5-shaped model."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.backends.builtin import builtin_command
from qbtui.runs.info import read_run
from qbtui.runs.liveness import read_pid_file

TINY_PRESET = """
[presets.tiny]
resolution = "64,64"
network_dim = 4
network_alpha = 2
learning_rate = 1e-3
max_train_steps = 2
save_every_n_steps = 1
mixed_precision = "no"
"""

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("qbtui.trainer.tiny") is None,
    reason="qbtui.trainer.tiny (the tiny model builder) is not in this tree",
)


def test_real_builtin_trainer_run_completes_and_is_recorded(workspace, monkeypatch, tmp_path, wait_for_state):
    monkeypatch.setattr(manager, "builtin_command", builtin_command)
    model = tmp_path / "models" / "tiny-sd15"
    subprocess.run([sys.executable, "-m", "qbtui.trainer.tiny", str(model)], check=True, capture_output=True, timeout=300)
    workspace.path.write_text(workspace.path.read_text() + TINY_PRESET)
    workspace.set_setting("base_model", "models/tiny-sd15")
    registry = Registry.load(workspace.path)
    info = manager.start_run(registry, "peter", preset="tiny")
    done = wait_for_state(info.path, ("completed", "stopped", "failed", "crashed"), timeout=600)
    assert done.state == "completed", done.error or RunDir(info.path).output_log.read_text()[-2000:]
    assert done.step == 2 and done.lora_path.is_file() and done.lora_path.name == "qb_peter_lora.safetensors"
    kinds = {event["type"] for event in read_events(RunDir(info.path).events)}
    assert {"start", "step", "checkpoint", "done"} <= kinds
    (training,) = Registry.load(workspace.path).friend("peter").trainings
    assert (training.run_id, training.steps, training.backend, training.preset) == (info.run_id, 2, "builtin", "tiny")


def test_real_trainer_saves_and_resumes_after_its_supervisor_is_killed(
    workspace, monkeypatch, tmp_path, wait_for, wait_for_state
):
    """Issue 10 item 5: `kill -9` of the supervisor mid-run; the trainer saves its state and LoRA, output.log has its lines."""
    monkeypatch.setattr(manager, "builtin_command", builtin_command)
    model = tmp_path / "models" / "tiny-sd15"
    subprocess.run([sys.executable, "-m", "qbtui.trainer.tiny", str(model)], check=True, capture_output=True, timeout=300)
    preset = TINY_PRESET.replace("max_train_steps = 2", "max_train_steps = 400").replace("save_every_n_steps = 1", "")
    workspace.path.write_text(workspace.path.read_text() + preset)
    workspace.set_setting("base_model", "models/tiny-sd15")
    registry = Registry.load(workspace.path)
    info = manager.start_run(registry, "peter", preset="tiny")
    run = RunDir(info.path)
    wait_for(lambda: read_run(info.path).step >= 2, timeout=300, what="step 2")
    backend = read_pid_file(run.backend_pid)
    os.kill(read_pid_file(run.supervisor_pid).pid, signal.SIGKILL)
    wait_for(lambda: not backend.is_alive(), timeout=120, what="the trainer to save and end")
    stopped = read_run(info.path)
    assert stopped.state == "stopped", stopped.error
    assert stopped.lora_path.is_file() and any(run.state_dir.iterdir())
    assert "finishing this step, then saving state" in run.output_log.read_text()
    manager.resume_run(registry, info.run_id)
    wait_for(lambda: read_run(info.path).step > stopped.step, timeout=300, what="the resumed run to move on")
    assert manager.stop_run(registry.settings, info.run_id).state == "stopped"


def test_a_two_process_run_under_the_supervisor_stops_and_resumes(workspace, monkeypatch, tmp_path, wait_for):
    """Issue 16 item 6: the supervisor runs torchrun (two CPU processes, gloo); its stop reaches every rank."""
    monkeypatch.setattr(manager, "builtin_command", builtin_command)
    model = tmp_path / "models" / "tiny-sd15"
    subprocess.run([sys.executable, "-m", "qbtui.trainer.tiny", str(model)], check=True, capture_output=True, timeout=300)
    preset = TINY_PRESET.replace("max_train_steps = 2", "max_train_steps = 100000").replace("save_every_n_steps = 1", "")
    workspace.path.write_text(workspace.path.read_text() + preset + "num_processes = 2\n")
    workspace.set_setting("base_model", "models/tiny-sd15")
    registry = Registry.load(workspace.path)
    info = manager.start_run(registry, "peter", preset="tiny")
    run = RunDir(info.path)
    assert "torch.distributed.run" in (run.path / "run.toml").read_text()
    wait_for(lambda: read_run(info.path).step >= 1, timeout=600, what="step 1")
    stopped = manager.stop_run(registry.settings, info.run_id)
    assert stopped.state == "stopped", stopped.error or run.output_log.read_text()[-2000:]
    manager.resume_run(registry, info.run_id)
    wait_for(lambda: read_run(info.path).step > stopped.step, timeout=600, what="the resumed run to move on")
    assert manager.stop_run(registry.settings, info.run_id).state == "stopped"
    events = read_events(run.events)
    starts = [e for e in events if e["type"] == "start"]
    assert [(e["step"], e["processes"], e["effective_batch"]) for e in starts] == [(0, 2, 2), (stopped.step, 2, 2)]
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == list(range(1, steps[-1] + 1))  # rank 0 alone logs: no step twice
