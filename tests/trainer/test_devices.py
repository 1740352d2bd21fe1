"""The precision decision for every device, with torch's capabilities injected, and SDPA attention."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtui.trainer.devices import PrecisionChoice, TorchCapabilities, resolve_precision, torch_capabilities

OLD_TORCH = TorchCapabilities(torch_version=(2, 5), macos_version=(15, 1))
SCALER_TORCH = TorchCapabilities(torch_version=(2, 8), macos_version=(13, 6))
NEW_TORCH_OLD_MACOS = TorchCapabilities(torch_version=(2, 9), macos_version=(13, 6))
NEW_TORCH = TorchCapabilities(torch_version=(2, 8), macos_version=(15, 1))
AMPERE = TorchCapabilities(torch_version=(2, 8), cuda_bf16=True)
TURING = TorchCapabilities(torch_version=(2, 8), cuda_bf16=False)


@pytest.mark.parametrize("device", ["cpu", "cuda", "mps"])
def test_full_precision_is_kept_everywhere(device):
    choice = resolve_precision(device, "no", NEW_TORCH)
    assert choice == PrecisionChoice("no", "full precision (float32), as requested")


BF16_CPU = TorchCapabilities(torch_version=(2, 8), cpu_bf16=True)


def test_cpu_fp16_falls_back_to_full_precision_without_native_bf16():
    fp16 = resolve_precision("cpu", "fp16", NEW_TORCH)
    assert (fp16.precision, fp16.changed) == ("no", True) and "fp16" in fp16.reason and "(no)" in fp16.reason
    bf16 = resolve_precision("cpu", "bf16", NEW_TORCH)
    assert (bf16.precision, bf16.changed) == ("bf16", False) and "emulates" in bf16.reason


def test_cpu_fp16_becomes_bf16_where_the_cpu_computes_bf16():
    fp16 = resolve_precision("cpu", "fp16", BF16_CPU)
    assert (fp16.precision, fp16.changed) == ("bf16", True) and "AMX" in fp16.reason
    bf16 = resolve_precision("cpu", "bf16", BF16_CPU)
    assert bf16 == PrecisionChoice("bf16", "bf16 autocast on the CPU (native bf16), as requested")


def test_cuda_fp16_uses_a_scaler_and_bf16_needs_ampere():
    assert resolve_precision("cuda", "fp16", TURING).precision == "fp16"
    assert resolve_precision("cuda", "bf16", AMPERE) == PrecisionChoice("bf16", "bf16 autocast on the CUDA GPU, as requested")
    old_gpu = resolve_precision("cuda", "bf16", TURING)
    assert (old_gpu.precision, old_gpu.changed) == ("fp16", True) and "Ampere" in old_gpu.reason


def test_mps_bf16_where_torch_and_macos_support_it():
    assert resolve_precision("mps", "bf16", NEW_TORCH) == PrecisionChoice(
        "bf16", "bf16 autocast on MPS (torch 2.8), as requested"
    )


def test_mps_bf16_on_old_macos_falls_back_to_scaled_fp16_naming_why():
    choice = resolve_precision("mps", "bf16", NEW_TORCH_OLD_MACOS)
    assert (choice.precision, choice.changed) == ("fp16", True)
    assert "macOS 14" in choice.reason and "macOS 13.6" in choice.reason and "gradient scaler" in choice.reason


def test_mps_bf16_on_old_torch_falls_back_to_full_precision_naming_why():
    choice = resolve_precision("mps", "bf16", OLD_TORCH)
    assert (choice.precision, choice.changed) == ("no", True)
    assert "torch 2.6" in choice.reason and "torch 2.5" in choice.reason


def test_mps_fp16_only_with_a_gradient_scaler_that_works_there():
    scaled = resolve_precision("mps", "fp16", SCALER_TORCH)
    assert (scaled.precision, scaled.changed) == ("fp16", False) and "gradient scaler" in scaled.reason
    unscaled = resolve_precision("mps", "fp16", OLD_TORCH)
    assert (unscaled.precision, unscaled.changed) == ("no", True)
    assert "gradient scaler" in unscaled.reason and "torch 2.8" in unscaled.reason and "torch 2.5" in unscaled.reason


def test_capabilities_of_this_torch():
    import torch

    capabilities = torch_capabilities("cpu")
    assert capabilities.torch_version == tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    assert capabilities.cuda_bf16 is False
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    if flags:  # Linux: torch's probe agrees with the kernel's CPU flags
        assert capabilities.cpu_bf16 == bool(flags & {"avx512_bf16", "amx_tile"})


def test_the_tiny_unet_attends_through_sdpa(tiny_model_dir):
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    from qbtui.trainer.attention import use_sdpa
    from qbtui.trainer.models import load_base_model

    unet = load_base_model(tiny_model_dir).unet
    unet.set_attn_processor(AttnProcessor())
    assert use_sdpa(unet) == "AttnProcessor2_0"
    assert unet.attn_processors and all(isinstance(p, AttnProcessor2_0) for p in unet.attn_processors.values())


def test_an_attention_processor_that_will_not_change_is_refused(tiny_model_dir):
    from diffusers.models.attention_processor import AttnProcessor

    from qbtui.trainer.attention import use_sdpa
    from qbtui.trainer.models import load_base_model

    unet = load_base_model(tiny_model_dir).unet
    unet.set_attn_processor(AttnProcessor())
    unet.set_attn_processor = lambda processor: None
    with pytest.raises(AssertionError, match="AttnProcessor"):
        use_sdpa(unet)


def test_only_the_cpu_encodes_channels_last():
    import torch

    from qbtui.trainer.devices import encode_memory_format

    assert encode_memory_format("cpu") == torch.channels_last
    assert encode_memory_format("cuda") == encode_memory_format("mps") == torch.contiguous_format
