"""The UNet's attention runs through torch's scaled_dot_product_attention (SDPA) on every device.

SDPA picks the fused flash or memory-efficient kernel where the device has one (CUDA) and a
math kernel elsewhere (MPS, CPU); it is the fastest, least memory-hungry choice everywhere,
so the trainer sets it and refuses to train with anything else.
"""

from __future__ import annotations

from typing import Any

SDPA_PROCESSOR = "AttnProcessor2_0"


def use_sdpa(unet: Any) -> str:
    """Give every attention layer of `unet` the SDPA processor and check it took; its class name."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    unet.set_attn_processor(AttnProcessor2_0())
    others = sorted({type(p).__name__ for p in unet.attn_processors.values()} - {SDPA_PROCESSOR})
    if others or not unet.attn_processors:
        raise AssertionError(f"the UNet's attention is not SDPA everywhere: {others or 'no attention layers'}")
    return SDPA_PROCESSOR
