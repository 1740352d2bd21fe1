"""Fixtures for run tests: a workspace with a ready dataset, stand-in backends, polling."""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from qbtui.registry import Registry
from qbtui.runs import launch, manager
from qbtui.runs.info import read_run

STANDINS = Path(__file__).parent / "standins"

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
backend = "builtin"
preset = "quick"
kohya_scripts = "sd-scripts"
kohya_accelerate = "kohya-venv/bin/accelerate"
kohya_sdpa = true
# the stand-in backends write no real LoRA to score (tests that want the pass turn it on)
eval_after_training = false

[presets.quick]
# a short run for the stand-in backends
max_train_steps = 8
save_every_n_steps = 4
network_dim = 4
network_alpha = 2
mixed_precision = "no"
save_model_as = "safetensors"

[friends.peter]
name = "Peter"
token = "qb_peter"
repeats = 30
describe = "man, curly hair"
notes = "hand-written note"

[friends.maria]
name = "Maria"
token = "qb_maria"
repeats = 30
"""


def draw_dataset(folder: Path, token: str, count: int = 20) -> None:
    """`count` distinct 512x512 JPEGs with captions starting with the token."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(token)
    for index in range(count):
        image = Image.new("RGB", (16, 16))
        image.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(256)])
        image.resize((512, 512), Image.NEAREST).save(folder / f"photo{index:02d}.jpg", quality=85)
        (folder / f"photo{index:02d}.txt").write_text(f"{token} person, photo {index}\n")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry with two friends with ready datasets and stand-in trainers for both backends."""
    (tmp_path / "registry.toml").write_text(REGISTRY)
    for friend in ("peter", "maria"):
        draw_dataset(tmp_path / "datasets" / friend / f"30_{friend}", f"qb_{friend}")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "base").write_bytes(b"stand-in checkpoint")
    scripts = tmp_path / "sd-scripts"
    scripts.mkdir()
    (scripts / "train_network.py").write_text("# stand-in: the accelerate stand-in never runs it\n")
    accelerate = tmp_path / "kohya-venv" / "bin" / "accelerate"
    accelerate.parent.mkdir(parents=True)
    accelerate.write_text(f"#!{sys.executable}\n" + (STANDINS / "accelerate.py").read_text())
    accelerate.chmod(0o755)
    monkeypatch.setattr(
        manager, "builtin_command", lambda run_path, processes=1: [sys.executable, str(STANDINS / "trainer.py"), str(run_path)]
    )
    monkeypatch.setenv("STANDIN_STEP_S", "0.02")
    monkeypatch.delenv("STANDIN_MODE", raising=False)
    return Registry.load(tmp_path / "registry.toml")


def poll_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def poll_state(run_path: Path, states: tuple[str, ...], timeout: float = 30.0):
    """The run's info once its state is one of `states`."""
    return poll_until(lambda: (info := read_run(run_path)).state in states and info, timeout, f"state in {states}")


@pytest.fixture
def wait_for():
    """`wait_for(condition, timeout=30, what=...)`: poll until truthy, fail on timeout."""
    return poll_until


@pytest.fixture
def wait_for_state():
    """`wait_for_state(run_path, states, timeout=30)`: the RunInfo once in one of `states`."""
    return poll_state


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Kill any supervisor or backend a failed test left behind (by the pids it recorded)."""
    started: list[int] = []
    original = launch.launch_supervisor

    def tracking(run, **kwargs):
        record = original(run, **kwargs)
        if record is not None:
            started.append(record.pid)
        return record

    launch.launch_supervisor = tracking
    yield
    launch.launch_supervisor = original
    for pid in started:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, 9)
