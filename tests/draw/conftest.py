"""A drawing workspace: the tiny SD1.5 model, Ada's and Ben's LoRAs with random weights in kohya's format, Cleo untrained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qbtui.registry import Registry

os.environ["HF_HUB_OFFLINE"] = "1"

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/tiny"
preset = "standard"
lora_weight = 0.8
draw_steps = 4
draw_sampler = "Euler"

[presets.standard]
max_train_steps = 10

[friends.ada]
name = "Ada"
token = "qb_ada"

[[friends.ada.trainings]]
date = "2026-11-30"
steps = 60
images = 24
lora_file = "qb_ada_lora.safetensors"

[friends.ben]
name = "Ben"
token = "qb_ben"

[[friends.ben.trainings]]
date = "2026-11-30"
steps = 60
images = 20
lora_file = "qb_ben_lora.safetensors"

[friends.cleo]
name = "Cleo"
token = "qb_cleo"
"""


def write_random_lora(path: Path, base, seed: int) -> Path:
    """A kohya-format LoRA for `base` whose up weights are random, as after training."""
    import torch

    from qbtui.trainer.lora import LoRANetwork
    from qbtui.trainer.metadata import save_lora

    network = LoRANetwork(base.unet, base.text_encoder, dim=4, alpha=4)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lora in network.unet_loras + network.text_encoder_loras:
            lora.lora_up.weight.copy_(torch.randn(lora.lora_up.weight.shape, generator=generator) * 0.5)
    return save_lora(path, network.kohya_tensors(), {"ss_output_name": path.stem, "ss_network_dim": "4"})


@pytest.fixture(scope="session")
def draw_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qbtui.trainer.models import load_base_model
    from qbtui.trainer.tiny import build_tiny_sd15

    root = tmp_path_factory.mktemp("draw")
    model = build_tiny_sd15(root / "models" / "tiny", layout="diffusers", seed=0)
    base = load_base_model(model)
    write_random_lora(root / "loras" / "qb_ada_lora.safetensors", base, seed=1)
    write_random_lora(root / "loras" / "qb_ben_lora.safetensors", base, seed=2)
    (root / "registry.toml").write_text(REGISTRY, encoding="utf-8")
    return root


@pytest.fixture
def draw_registry(draw_root: Path, tmp_path: Path) -> Registry:
    """The session's drawing workspace with drawings going to a fresh folder for each test."""
    path = tmp_path / "registry.toml"
    text = REGISTRY.replace('"models/tiny"', f'"{draw_root / "models" / "tiny"}"').replace('"loras"', f'"{draw_root / "loras"}"')
    path.write_text(text + "", encoding="utf-8")
    registry = Registry.load(path)
    registry.set_setting("drawings_dir", str(tmp_path / "drawings"))
    return Registry.load(path)
