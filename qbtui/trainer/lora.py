"""A LoRA network in the layout of kohya's `networks.lora` for SD1.5.

Targets: every Linear and 1x1 Conv2d inside the UNet's `Transformer2DModel` blocks
(192 for SD1.5) and the text encoder's `CLIPAttention`/`CLIPMLP` projections (72).
Each target's forward becomes `original(x) + up(down(x)) * multiplier * alpha / dim`;
the original weights stay frozen. `state_dict()` keys are kohya's:
`lora_unet_<path>.lora_down.weight`, `.lora_up.weight`, `.alpha` (a 0-d tensor).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

UNET_PREFIX = "lora_unet"
TEXT_ENCODER_PREFIX = "lora_te"
UNET_TARGET_BLOCKS = ("Transformer2DModel",)
TEXT_ENCODER_TARGET_BLOCKS = ("CLIPAttention", "CLIPSdpaAttention", "CLIPMLP")


class LoRAModule(nn.Module):
    """One low-rank adapter wrapped around a frozen Linear or Conv2d."""

    def __init__(self, lora_name: str, original: nn.Linear | nn.Conv2d, dim: int, alpha: float):
        super().__init__()
        self.lora_name = lora_name
        self.lora_down: nn.Linear | nn.Conv2d
        self.lora_up: nn.Linear | nn.Conv2d
        if isinstance(original, nn.Conv2d):
            # Conv2d's attributes are typed wider (tuple[int, ...]) than its constructor takes; they are its own values.
            self.lora_down = nn.Conv2d(
                original.in_channels,
                dim,
                original.kernel_size,  # type: ignore[arg-type]
                original.stride,  # type: ignore[arg-type]
                original.padding,  # type: ignore[arg-type]
                bias=False,
            )
            self.lora_up = nn.Conv2d(dim, original.out_channels, 1, 1, bias=False)
        else:
            self.lora_down = nn.Linear(original.in_features, dim, bias=False)
            self.lora_up = nn.Linear(dim, original.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)
        self.register_buffer("alpha", torch.tensor(float(alpha)))
        self.scale = float(alpha) / dim
        self.multiplier = 1.0
        # Held in a tuple so the frozen original is not a submodule (its weights stay out of state_dict).
        self._original = (original,)
        self._original_forward = original.forward

    @property
    def original(self) -> nn.Linear | nn.Conv2d:
        return self._original[0]

    def apply_to(self) -> None:
        """Route the original module's calls through this adapter (kohya's way: the forward is replaced)."""
        self.original.forward = self.forward  # type: ignore[method-assign,assignment]

    def remove(self) -> None:
        """Give the original module back its own forward."""
        self.original.forward = self._original_forward  # type: ignore[method-assign]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = self.lora_up(self.lora_down(x.to(self.lora_down.weight.dtype)))
        return self._original_forward(x) + (delta * (self.multiplier * self.scale)).to(x.dtype)


def lora_targets(root: nn.Module, prefix: str, block_types: tuple[str, ...]) -> Iterator[tuple[str, nn.Linear | nn.Conv2d]]:
    """(kohya name, module) for every Linear and 1x1 Conv2d inside blocks of `block_types`."""
    for block_path, block in root.named_modules():
        if type(block).__name__ not in block_types:
            continue
        for child_path, child in block.named_modules():
            if isinstance(child, nn.Linear) or (isinstance(child, nn.Conv2d) and tuple(child.kernel_size) == (1, 1)):
                full_path = f"{block_path}.{child_path}" if block_path else child_path
                yield f"{prefix}_{full_path.replace('.', '_')}", child


class LoRANetwork(nn.Module):
    """All adapters of one UNet (and text encoder unless training the UNet only)."""

    def __init__(self, unet: nn.Module, text_encoder: nn.Module | None, dim: int, alpha: float):
        super().__init__()
        self.unet_loras = self._create(unet, UNET_PREFIX, UNET_TARGET_BLOCKS, dim, alpha)
        self.text_encoder_loras: list[LoRAModule] = []
        if text_encoder is not None:
            # kohya's names sit under `text_model.`, a level transformers 5 models no longer have.
            has_text_model = hasattr(text_encoder, "text_model")
            te_prefix = TEXT_ENCODER_PREFIX if has_text_model else f"{TEXT_ENCODER_PREFIX}_text_model"
            self.text_encoder_loras = self._create(text_encoder, te_prefix, TEXT_ENCODER_TARGET_BLOCKS, dim, alpha)
        for lora in self.unet_loras + self.text_encoder_loras:
            self.add_module(lora.lora_name, lora)

    @staticmethod
    def _create(root: nn.Module, prefix: str, blocks: tuple[str, ...], dim: int, alpha: float) -> list[LoRAModule]:
        loras = [LoRAModule(name, module, dim, alpha) for name, module in lora_targets(root, prefix, blocks)]
        names = [lora.lora_name for lora in loras]
        if len(set(names)) != len(names):
            raise ValueError(f"{prefix}: two modules map to the same LoRA name")
        return loras

    def apply_to(self) -> None:
        """Hook every adapter into its model; the models' own weights are untouched."""
        for lora in self.unet_loras + self.text_encoder_loras:
            lora.apply_to()

    def remove(self) -> None:
        """Unhook every adapter, giving back the base models' behaviour."""
        for lora in self.unet_loras + self.text_encoder_loras:
            lora.remove()

    def set_multiplier(self, multiplier: float) -> None:
        """The LoRA weight (A1111's `<lora:name:0.8>`): 0 gives the base model."""
        for lora in self.unet_loras + self.text_encoder_loras:
            lora.multiplier = multiplier

    def param_groups(self, unet_lr: float, text_encoder_lr: float) -> list[dict]:
        """AdamW parameter groups: UNet adapters at `unet_lr`, text-encoder adapters at theirs."""
        groups = [{"params": [p for lora in self.unet_loras for p in lora.parameters()], "lr": unet_lr}]
        if self.text_encoder_loras:
            te_params = [p for lora in self.text_encoder_loras for p in lora.parameters()]
            groups.append({"params": te_params, "lr": text_encoder_lr})
        return groups

    def kohya_tensors(self, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """The state dict as kohya saves it: CPU, contiguous, in `dtype`."""
        return {key: value.detach().to("cpu", dtype).contiguous() for key, value in self.state_dict().items()}
