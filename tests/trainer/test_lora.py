"""The LoRA network: kohya's math, names and shapes, and loading in diffusers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from qbtui.trainer.lora import LoRAModule, LoRANetwork
from qbtui.trainer.metadata import save_lora


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on a shared, loaded CPU, OpenMP spinning makes two threads ~30x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def components():
    from qbtui.trainer.tiny import build_components

    unet, _, text_encoder, _ = build_components(seed=0)
    return unet, text_encoder


def randomize_up(network: LoRANetwork, seed: int = 1) -> None:
    """Give the (zero-initialised) up weights values so the adapters change outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            if "lora_up" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)


def test_linear_output_is_base_plus_scaled_low_rank_update():
    torch.manual_seed(0)
    linear = nn.Linear(6, 5)
    lora = LoRAModule("lora_unet_x", linear, dim=4, alpha=2.0)
    nn.init.normal_(lora.lora_up.weight)
    lora.apply_to()
    x = torch.randn(3, 6)
    expected = x @ linear.weight.T + linear.bias + (2.0 / 4) * (x @ lora.lora_down.weight.T @ lora.lora_up.weight.T)
    torch.testing.assert_close(linear(x), expected)
    lora.multiplier = 0.5
    expected_half = x @ linear.weight.T + linear.bias + 0.5 * (2.0 / 4) * (x @ lora.lora_down.weight.T @ lora.lora_up.weight.T)
    torch.testing.assert_close(linear(x), expected_half)


def test_pointwise_conv_output_and_4d_weights():
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 5, 1)
    lora = LoRAModule("lora_unet_proj_in", conv, dim=3, alpha=1.5)
    nn.init.normal_(lora.lora_up.weight)
    base = conv(x := torch.randn(2, 6, 4, 4))
    lora.apply_to()
    down = lora.lora_down.weight[:, :, 0, 0]
    up = lora.lora_up.weight[:, :, 0, 0]
    delta = torch.einsum("oc,bchw->bohw", up @ down, x) * (1.5 / 3)
    torch.testing.assert_close(conv(x), base + delta)
    assert lora.lora_down.weight.ndim == 4 and lora.lora_up.weight.ndim == 4


def test_initialisation_is_kohyas_and_leaves_outputs_unchanged():
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    base = linear(x := torch.randn(2, 64))
    lora = LoRAModule("n", linear, dim=8, alpha=4)
    lora.apply_to()
    torch.testing.assert_close(linear(x), base)
    assert torch.count_nonzero(lora.lora_up.weight) == 0
    bound = 1 / math.sqrt(64)  # kaiming_uniform_(a=sqrt(5)) on fan_in 64
    assert lora.lora_down.weight.abs().max() <= bound
    assert lora.lora_down.weight.std() > bound / 4


def test_original_weights_stay_frozen_and_out_of_the_state_dict():
    linear = nn.Linear(4, 4).requires_grad_(False)
    lora = LoRAModule("n", linear, dim=2, alpha=1)
    assert set(lora.state_dict()) == {"alpha", "lora_down.weight", "lora_up.weight"}
    lora.apply_to()
    linear(torch.randn(1, 4)).sum().backward()
    assert linear.weight.grad is None and lora.lora_down.weight.grad is not None


def test_kohya_names_and_counts_on_an_sd15_shaped_model(components):
    unet, text_encoder = components
    network = LoRANetwork(unet, text_encoder, dim=4, alpha=2)
    assert len(network.unet_loras) == 192
    assert len(network.text_encoder_loras) == 72
    tensors = network.kohya_tensors()
    assert len(tensors) == 3 * (192 + 72)
    for key in (
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight",
        "lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0.lora_up.weight",
        "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj.alpha",
        "lora_unet_down_blocks_1_attentions_1_proj_out.lora_up.weight",
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight",
        "lora_te_text_model_encoder_layers_11_mlp_fc2.alpha",
    ):
        assert key in tensors, key
    assert tensors["lora_te_text_model_encoder_layers_11_mlp_fc2.alpha"].shape == ()
    assert tensors["lora_te_text_model_encoder_layers_11_mlp_fc2.alpha"].item() == 2.0
    assert tensors["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"].ndim == 4
    assert tensors["lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"].ndim == 4
    assert all(key.startswith(("lora_unet_", "lora_te_")) for key in tensors)


def test_unet_only_has_no_text_encoder_keys(components):
    unet, _ = components
    network = LoRANetwork(unet, None, dim=4, alpha=2)
    assert not any(key.startswith("lora_te") for key in network.kohya_tensors())


def test_remove_restores_the_base_forward():
    linear = nn.Linear(4, 4)
    lora = LoRAModule("n", linear, dim=2, alpha=1)
    nn.init.normal_(lora.lora_up.weight)
    base = linear(x := torch.randn(1, 4))
    lora.apply_to()
    assert not torch.allclose(linear(x), base)
    lora.remove()
    torch.testing.assert_close(linear(x), base)


def count_peft_layers(model: nn.Module) -> int:
    from peft.tuners.lora import LoraLayer

    return sum(isinstance(module, LoraLayer) for module in model.modules())


def test_saved_file_loads_in_diffusers_with_every_module_adapted(tiny_model_dir, tmp_path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir, safety_checker=None, requires_safety_checker=False)
    sample = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    tokens = pipe.tokenizer(
        ["qb_peter person"], padding="max_length", max_length=pipe.tokenizer.model_max_length, return_tensors="pt"
    ).input_ids

    def outputs():
        with torch.no_grad():
            hidden = pipe.text_encoder(tokens)[0]
            return hidden, pipe.unet(sample, 500, hidden).sample

    base_hidden, base_out = outputs()
    network = LoRANetwork(pipe.unet, pipe.text_encoder, dim=4, alpha=2)
    randomize_up(network)
    network.apply_to()
    ours_hidden, ours_out = outputs()
    network.remove()
    path = save_lora(tmp_path / "qb_peter_lora.safetensors", network.kohya_tensors(), {"ss_network_dim": "4"})

    pipe.load_lora_weights(str(path), adapter_name="friend")
    assert count_peft_layers(pipe.unet) == 192
    assert count_peft_layers(pipe.text_encoder) == 72
    loaded_hidden, loaded_out = outputs()
    assert not torch.allclose(loaded_out, base_out)
    torch.testing.assert_close(loaded_hidden, ours_hidden, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(loaded_out, ours_out, atol=1e-4, rtol=1e-4)

    pipe.set_adapters(["friend"], adapter_weights=[0.0])
    zero_hidden, zero_out = outputs()
    torch.testing.assert_close(zero_hidden, base_hidden, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(zero_out, base_out, atol=1e-5, rtol=1e-5)
