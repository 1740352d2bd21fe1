"""The environment of every process that loads torch or a Hugging Face library.

Offline (nothing downloads model weights at run time), no progress bars, and MPS's CPU
fallback. Each such subprocess calls `prepare_model_environment()` first thing, before
torch, diffusers or transformers are imported (they read these variables at import).
"""

from __future__ import annotations

import os

# Ops MPS lacks run on the CPU instead of failing (kohya's processes get this too).
MPS_FALLBACK = {"PYTORCH_ENABLE_MPS_FALLBACK": "1"}
MODEL_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", **MPS_FALLBACK}


def prepare_model_environment() -> None:
    """Set each variable the user has not set already."""
    for name, value in MODEL_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
