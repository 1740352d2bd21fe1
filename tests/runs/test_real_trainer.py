"""One end-to-end run with the real builtin trainer on a tiny SD1.5-shaped model."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.backends.builtin import builtin_command

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
