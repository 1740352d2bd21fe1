"""Resumable training state in `RUN_DIR/state/`: one file, written atomically.

It holds the LoRA weights, optimizer, LR scheduler, loss scaler, the step reached, the
losses of the running average, the RNG states of python, numpy, torch and the noise
generator, and the settings a resume must share (the data order is a function of the
seed and the step).
"""

from __future__ import annotations

import io
import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qbtui.atomicfile import write_bytes_atomic
from qbtui.errors import QbtuiError
from qbtui.safefile import open_regular
from qbtui.trainer.config import TrainConfig

STATE_FILE = "train_state.pt"
# Changing any of these makes the saved optimizer and schedule meaningless.
MUST_MATCH = (
    "network_dim",
    "network_alpha",
    "network_train_unet_only",
    "max_train_steps",
    "train_batch_size",
    "lr_scheduler",
    "lr_warmup_steps",
    "seed",
)
# The number of processes sets the effective batch, so the data order; states from before it was saved had 1.
PROCESSES = "processes"


@dataclass
class TrainingState:
    step: int
    network: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    lr_scheduler: dict[str, Any]
    scaler: dict[str, Any] | None
    noise_generator: torch.Tensor
    rng: dict[str, Any]
    settings: dict[str, Any]
    started_at: float  # the run's first start, kept for ss_training_started_at
    session_id: int
    # The losses the running average is taken over, so that it goes on across a resume
    # (states saved before it was kept have none: the average starts again there).
    recent_losses: list[float] = field(default_factory=list)


def capture_rng() -> dict[str, Any]:
    """The global RNG states of python, numpy and torch (CUDA too when present)."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def resume_settings(config: TrainConfig, *, processes: int = 1) -> dict[str, Any]:
    return {**{name: getattr(config, name) for name in MUST_MATCH}, PROCESSES: processes}


def save_state(state_dir: Path, state: TrainingState) -> Path:
    """Write the state file atomically; a crash leaves the previous state intact."""
    state_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state.__dict__, buffer)
    path = state_dir / STATE_FILE
    write_bytes_atomic(path, buffer.getvalue())
    return path


def load_state(state_dir: Path, config: TrainConfig, *, processes: int = 1) -> TrainingState:
    """The saved state, checked against this run's settings."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        raise QbtuiError(
            "there is no saved state to resume from",
            path=path,
            fix="start the run again without --resume (a state is saved when a run is stopped)",
        )
    try:
        with open_regular(path) as handle:
            raw = torch.load(handle, map_location="cpu", weights_only=False)
        state = TrainingState(**raw)
    except (OSError, EOFError, RuntimeError, TypeError, ValueError, AttributeError, pickle.UnpicklingError) as error:
        raise QbtuiError(
            f"the saved state cannot be read: {error}", path=path, fix="start the run again without --resume"
        ) from None
    expected = resume_settings(config, processes=processes)
    saved = {PROCESSES: 1, **state.settings}
    changed = [name for name, value in expected.items() if saved.get(name) != value]
    if changed:
        raise QbtuiError(
            f"the run's settings changed since the state was saved: {', '.join(changed)}",
            path=path,
            fix="resume with the settings the run started with, or start a new run",
        )
    return state
