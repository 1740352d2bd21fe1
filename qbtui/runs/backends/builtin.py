"""The builtin backend: `python -m qbtui.trainer RUN_DIR [--resume]`, which writes its own events.

With `num_processes` above 1 the trainer runs data-parallel under torchrun, one process per
device, meeting on a free port of 127.0.0.1 (rank 0 writes the events and files).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.registry import Friend, Preset, Settings
from qbtui.rundir import RunDir
from qbtui.trainer.config import TrainConfig


def builtin_command(run_path: Path | str, processes: int = 1) -> list[str]:
    """The trainer invocation the supervisor runs for a builtin run of `processes` processes."""
    trainer = ["-m", "qbtui.trainer", str(run_path)]
    if processes == 1:
        return [sys.executable, *trainer]
    return [sys.executable, "-m", "torch.distributed.run", *torchrun_options(processes), *trainer]


def torchrun_options(processes: int) -> list[str]:
    """One node, `processes` workers, rendezvous on 127.0.0.1 at a port the OS picks (no clash between runs)."""
    return [
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(processes),
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        "127.0.0.1:0",
        "--local-addr",
        "127.0.0.1",
        "--max-restarts",
        "0",
    ]


def builtin_config(
    settings: Settings,
    friend: Friend,
    preset: Preset,
    *,
    run_id: str,
    state_dir: Path,
    steps: int | None = None,
    stop_early: bool | None = None,
) -> TrainConfig:
    """The run's TrainConfig: the preset's flags, the settings' paths, the run's id and state folder;
    `stop_early` (`train --stop-early`) overrides the setting."""
    overrides: dict[str, Any] = {"run_id": run_id, "state_dir": state_dir}
    if steps is not None:
        overrides["max_train_steps"] = steps
    if stop_early is not None:
        overrides["stop_early"] = stop_early
    return TrainConfig.from_preset(preset, settings, friend, **overrides)


def builtin_resume_args(run_path: Path) -> list[str]:
    """`--resume`, once the trainer has saved state in `RUN_DIR/state/`."""
    state = RunDir(run_path).state_dir
    if not state.is_dir() or not any(state.iterdir()):
        raise QbtuiError(
            "this run saved no state to resume from",
            path=state,
            fix="start a new run with `qbtui train NAME` (state is saved when a run is stopped or checkpoints)",
        )
    return ["--resume"]
