"""Which device and precision a run uses: CUDA, else MPS, else CPU, unless the config says.

The precision is a decision of (device, requested precision, what the installed torch can do):
`resolve_precision` is pure so that every branch, Apple's and NVIDIA's included, is tested on
any machine; `torch_capabilities` probes the real torch once for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qbtui.errors import QbtuiError

# fp16 on MPS needs a working GradScaler("mps"): it came in torch 2.5 but needed float64, which MPS lacks
# (pytorch/pytorch#142397); 2.8 is the first release reported working. bf16 autocast on MPS: torch 2.6 (accelerate).
MPS_FP16_TORCH = (2, 8)
MPS_BF16_TORCH = (2, 6)
MPS_BF16_MACOS = (14, 0)


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


@dataclass(frozen=True)
class TorchCapabilities:
    """What the installed torch offers for mixed precision on the device a run uses."""

    torch_version: tuple[int, int]
    cuda_bf16: bool = False  # the CUDA GPU computes in bf16 (Ampere or newer)
    cpu_bf16: bool = False  # the CPU computes in bf16 natively (x86 AVX512-BF16 or AMX), not emulated
    macos_version: tuple[int, int] | None = None  # None off macOS

    @property
    def mps_grad_scaler(self) -> bool:
        """GradScaler("mps") exists, so fp16 on MPS can scale its loss (no silent underflow)."""
        return self.torch_version >= MPS_FP16_TORCH

    @property
    def mps_bf16(self) -> bool:
        """bf16 autocast on MPS: torch 2.6 or newer on macOS 14 or newer."""
        return self.torch_version >= MPS_BF16_TORCH and self.macos_version is not None and self.macos_version >= MPS_BF16_MACOS

    @property
    def torch_text(self) -> str:
        return ".".join(map(str, self.torch_version))


@dataclass(frozen=True)
class PrecisionChoice:
    """The mixed precision a run uses and why; `changed` when it is not the one asked for."""

    precision: str  # "no" | "fp16" | "bf16"
    reason: str
    changed: bool = False


def torch_capabilities(device: str) -> TorchCapabilities:
    """The installed torch's capabilities for `device` (probed only for the device used)."""
    import platform

    cuda_bf16 = device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    mac = platform.mac_ver()[0]
    return TorchCapabilities(
        torch_version=_major_minor(torch.__version__.split("+")[0]),
        cuda_bf16=cuda_bf16,
        cpu_bf16=device == "cpu" and _cpu_computes_bf16(),
        macos_version=_major_minor(mac) if mac else None,
    )


def _cpu_computes_bf16() -> bool:
    """The CPU has bf16 instructions torch uses (AVX512-BF16 or AMX tiles); torch's own probes, private, so looked up."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def _major_minor(version: str) -> tuple[int, int]:
    """(2, 8) for "2.8.0" (or "2.8.0a0"); a missing minor is 0."""
    parts = [int("".join(c for c in part if c.isdigit()) or 0) for part in version.split(".")[:2]]
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def resolve_precision(device: str, requested: str, capabilities: TorchCapabilities) -> PrecisionChoice:
    """The mixed precision for `requested` on `device`, falling back (and saying why) when it cannot work."""
    if requested == "no":
        return PrecisionChoice("no", "full precision (float32), as requested")
    if device == "cpu":
        return _cpu_precision(requested, capabilities)
    if device == "cuda":
        return _cuda_precision(requested, capabilities)
    return _mps_precision(requested, capabilities)


def _cpu_precision(requested: str, capabilities: TorchCapabilities) -> PrecisionChoice:
    if requested == "bf16":
        if capabilities.cpu_bf16:
            return PrecisionChoice("bf16", "bf16 autocast on the CPU (native bf16), as requested")
        return PrecisionChoice("bf16", "bf16 autocast on the CPU, as requested (this CPU emulates bf16: no may well be faster)")
    if capabilities.cpu_bf16:
        return PrecisionChoice(
            "bf16",
            "fp16 does not run on the CPU; this CPU computes bf16 natively (AMX or AVX512-BF16): training in bf16 instead",
            changed=True,
        )
    return PrecisionChoice(
        "no",
        "fp16 does not run on the CPU, and this CPU has no native bf16 (AMX or AVX512-BF16): "
        "training in full precision (no), faster here than emulated half precision",
        changed=True,
    )


def _cuda_precision(requested: str, capabilities: TorchCapabilities) -> PrecisionChoice:
    if requested == "fp16":
        return PrecisionChoice("fp16", "fp16 autocast with a gradient scaler on the CUDA GPU, as requested")
    if capabilities.cuda_bf16:
        return PrecisionChoice("bf16", "bf16 autocast on the CUDA GPU, as requested")
    return PrecisionChoice(
        "fp16",
        "this CUDA GPU has no bf16 (it needs Ampere or newer); fp16 autocast with a gradient scaler instead",
        changed=True,
    )


def _mps_precision(requested: str, capabilities: TorchCapabilities) -> PrecisionChoice:
    torch_text = capabilities.torch_text
    if requested == "bf16":
        if capabilities.mps_bf16:
            return PrecisionChoice("bf16", f"bf16 autocast on MPS (torch {torch_text}), as requested")
        why = (
            f"bf16 on MPS needs torch {'.'.join(map(str, MPS_BF16_TORCH))} or newer and macOS 14 or newer "
            f"(installed: torch {torch_text}, macOS {_macos_text(capabilities)})"
        )
        if capabilities.mps_grad_scaler:
            return PrecisionChoice("fp16", f"{why}; fp16 autocast with MPS's gradient scaler instead", changed=True)
        return PrecisionChoice("no", f"{why}; training in full precision (no) instead", changed=True)
    if capabilities.mps_grad_scaler:
        return PrecisionChoice("fp16", f"fp16 autocast with MPS's gradient scaler (torch {torch_text}), as requested")
    return PrecisionChoice(
        "no",
        f"fp16 on MPS needs a gradient scaler that works there, which torch {'.'.join(map(str, MPS_FP16_TORCH))} "
        f"or newer has (installed: torch {torch_text}); training in full precision (no) instead",
        changed=True,
    )


def _macos_text(capabilities: TorchCapabilities) -> str:
    return ".".join(map(str, capabilities.macos_version)) if capabilities.macos_version else "none"


def weight_dtype(precision: str) -> torch.dtype:
    """The dtype of the frozen base model: half types under mixed precision, else float32."""
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)


def encode_memory_format(device: str) -> torch.memory_format:
    """The memory format the VAE encodes photos in: channels_last on the CPU, where oneDNN's convolutions
    run faster in it (`benchmarks/encode_speed.py`: 1.66x in bf16, 1.03x in float32); contiguous elsewhere."""
    return torch.channels_last if device == "cpu" else torch.contiguous_format
