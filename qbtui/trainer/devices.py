"""Which device and precision a run uses: CUDA, else MPS, else CPU, unless the config says."""

from __future__ import annotations

import torch

from qbtui.errors import QbtuiError


def pick_device(requested: str) -> str:
    """ "cuda", "mps" or "cpu" for `requested` ("auto" picks the fastest available)."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if requested == "auto":
        return next(name for name in ("cuda", "mps", "cpu") if available[name])
    if not available.get(requested, False):
        raise QbtuiError(
            f"device {requested!r} is not available on this machine",
            fix='set device = "auto" in the settings (or the run) to use what is there',
        )
    return requested


def resolve_precision(device: str, requested: str) -> tuple[str, str | None]:
    """The mixed precision to use and a warning when it differs from the request.

    fp16 needs a GPU: on the CPU it falls back to full precision ("no"), which is
    exact, is usually faster than emulated half precision there, and is the guide's
    own fix for NaN losses.
    """
    if device == "cpu" and requested == "fp16":
        return "no", "mixed_precision fp16 is not usable on the CPU; training in full precision (no) instead"
    return requested, None


def weight_dtype(precision: str) -> torch.dtype:
    """The dtype of the frozen base model: half types under mixed precision, else float32."""
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
