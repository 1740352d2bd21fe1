"""Sampling with kohya LoRA weights: A1111's merge math, deterministic PNGs, weight 0 is the base."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from qbtui.errors import QbtuiError
from qbtui.trainer.lora import LoRANetwork
from qbtui.trainer.models import load_base_model
from qbtui.trainer.sampling import generate_samples, lora_deltas, merged_lora

PROMPT = "qb_peter person, illustration in the style of Quentin Blake"


@pytest.fixture(scope="module")
def base(tiny_model_dir):
    return load_base_model(tiny_model_dir)


def trained_looking_network(base, *, dim=4, alpha=2.0, seed=1) -> LoRANetwork:
    """A kohya-layout network on `base` (not hooked in) whose up weights are non-zero, as after training."""
    network = LoRANetwork(base.unet, base.text_encoder, dim, alpha)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lora in network.unet_loras + network.text_encoder_loras:
            lora.lora_up.weight.copy_(torch.randn(lora.lora_up.weight.shape, generator=generator) * 0.5)
    return network


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def unet_output(base):
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, 8, 8, generator=generator)
    context = torch.randn(1, 77, 32, generator=generator)
    with torch.no_grad():
        return base.unet(latents, torch.tensor([400]), context).sample


def test_every_kohya_module_is_adapted_and_the_base_restored(base):
    tensors = trained_looking_network(base).kohya_tensors()
    before = {k: v.clone() for k, v in base.unet.state_dict().items()}
    with merged_lora(base, tensors, 0.8) as adapted:
        assert adapted == 192 + 72
        changed = [k for k, v in base.unet.state_dict().items() if not torch.equal(v, before[k])]
        assert len(changed) == 192
    assert all(torch.equal(v, before[k]) for k, v in base.unet.state_dict().items())


def test_merged_weights_match_the_training_networks_forward(base):
    network = trained_looking_network(base)
    tensors = network.kohya_tensors()
    with merged_lora(base, tensors, 0.6):
        merged = unet_output(base)
    network.apply_to()
    try:
        network.set_multiplier(0.6)
        hooked = unet_output(base)
    finally:
        network.remove()
    assert not torch.allclose(merged, unet_output(base), atol=1e-3)
    torch.testing.assert_close(merged, hooked, atol=1e-4, rtol=1e-4)


def test_merged_weights_match_diffusers_load_lora_weights(base, tiny_model_dir):
    from diffusers import StableDiffusionPipeline

    tensors = trained_looking_network(base).kohya_tensors()
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir, local_files_only=True)
    pipe.load_lora_weights(dict(tensors), adapter_name="qb_peter")
    pipe.set_adapters(["qb_peter"], adapter_weights=[0.7])
    ids = base.tokenizer("qb_peter person", padding="max_length", max_length=77, return_tensors="pt").input_ids
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = pipe.unet(latents, 300, pipe.text_encoder(ids)[0]).sample
        with merged_lora(base, tensors, 0.7):
            merged = base.unet(latents, 300, base.text_encoder(ids)[0]).sample
        plain = base.unet(latents, 300, base.text_encoder(ids)[0]).sample
    assert not torch.allclose(plain, expected, atol=1e-3)
    torch.testing.assert_close(merged, expected, atol=1e-4, rtol=1e-4)


def test_missing_alpha_means_scale_one_as_in_a1111(base):
    tensors = trained_looking_network(base, dim=4, alpha=2.0).kohya_tensors()
    name = "lora_unet_mid_block_attentions_0_proj_in"
    from qbtui.trainer.sampling import kohya_module_names

    modules = kohya_module_names(base.unet, base.text_encoder)
    with_alpha = lora_deltas(tensors, modules)[name]
    without = lora_deltas({k: v for k, v in tensors.items() if not k.endswith(".alpha")}, modules)[name]
    torch.testing.assert_close(without * (2.0 / 4), with_alpha)
    assert with_alpha.shape == (128, 128, 1, 1)


def test_conv_lora_delta_equals_down_then_up():
    down = torch.randn(3, 8, 3, 3)
    up = torch.randn(5, 3, 1, 1)
    conv = torch.nn.Conv2d(8, 5, 3, padding=1)
    delta = lora_deltas(
        {"lora_unet_conv.lora_down.weight": down, "lora_unet_conv.lora_up.weight": up, "lora_unet_conv.alpha": torch.tensor(3.0)},
        {"lora_unet_conv": conv},
    )["lora_unet_conv"]
    x = torch.randn(1, 8, 6, 6)
    expected = torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, down, padding=1), up)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, delta, padding=1), expected, atol=1e-4, rtol=1e-4)


def test_samples_are_deterministic_named_and_weight_zero_is_the_base(base, tmp_path):
    tensors = trained_looking_network(base).kohya_tensors()
    options = {"seed": 7, "steps": 1}
    first = generate_samples(
        base, tensors, prompts=[PROMPT, "qb_peter person, man"], weights=(0.0, 0.6, 1.0), out_dir=tmp_path / "a", **options
    )
    again = generate_samples(base, tensors, prompts=[PROMPT], weights=(0.6,), out_dir=tmp_path / "b", **options)
    plain = generate_samples(base, None, prompts=[PROMPT], weights=(1.0,), out_dir=tmp_path / "base", **options)
    assert [s.path.name for s in first] == [
        "sample_00_w0.00_7.png",
        "sample_01_w0.00_8.png",
        "sample_00_w0.60_7.png",
        "sample_01_w0.60_8.png",
        "sample_00_w1.00_7.png",
        "sample_01_w1.00_8.png",
    ]
    assert [(s.prompt, s.weight) for s in first[:2]] == [(PROMPT, 0.0), ("qb_peter person, man", 0.0)]
    assert again[0].path.read_bytes() == first[2].path.read_bytes()
    assert Image.open(first[0].path).size == (64, 64)
    assert "Seed: 7" in Image.open(first[0].path).text["parameters"]
    assert (pixels(first[0].path) == pixels(plain[0].path)).all()
    assert np.abs(pixels(first[4].path) - pixels(plain[0].path)).mean() > 1
    assert np.abs(pixels(first[2].path) - pixels(first[4].path)).mean() > 0.5


def test_sampling_leaves_rng_modes_and_weights_alone(base, tmp_path):
    network = trained_looking_network(base)
    base.unet.train()
    rng = torch.get_rng_state()
    before = {k: v.clone() for k, v in base.text_encoder.state_dict().items()}
    generate_samples(base, network.kohya_tensors(), prompts=[PROMPT], weights=(1.0,), seed=0, out_dir=tmp_path, steps=1)
    assert torch.equal(torch.get_rng_state(), rng)
    assert base.unet.training and not base.vae.training
    assert all(torch.equal(v, before[k]) for k, v in base.text_encoder.state_dict().items())
    base.unet.eval()


def test_a_hooked_training_network_is_muted_and_restored(base, tmp_path):
    network = trained_looking_network(base)
    expected = generate_samples(
        base, network.kohya_tensors(), prompts=[PROMPT], weights=(0.8,), seed=3, out_dir=tmp_path / "file", steps=1
    )
    network.apply_to()
    try:
        during = generate_samples(
            base,
            network,
            prompts=[PROMPT],
            weights=(0.8,),
            seed=3,
            out_dir=tmp_path / "net",
            steps=1,
            stem="qb_peter_lora_000400",
        )
        assert all(lora.multiplier == 1.0 for lora in network.unet_loras)
    finally:
        network.remove()
    assert during[0].path.name == "qb_peter_lora_000400_00_w0.80_3.png"
    assert (pixels(during[0].path) == pixels(expected[0].path)).all()


def test_lora_file_path_is_read(base, tmp_path):
    lora_file = tmp_path / "qb_peter_lora.safetensors"
    save_file(trained_looking_network(base).kohya_tensors(), lora_file)
    samples = generate_samples(base, lora_file, prompts=[PROMPT], weights=(1.0,), seed=1, out_dir=tmp_path / "out", steps=1)
    assert samples[0].path.is_file()


def test_corrupt_lora_file_names_the_file(base, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00not json")
    with pytest.raises(QbtuiError, match="cannot read the LoRA file") as caught:
        generate_samples(base, broken, prompts=[PROMPT], seed=1, out_dir=tmp_path / "out", steps=1)
    assert caught.value.path == broken


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"unet.down_blocks.0.lora_A.weight": torch.zeros(4, 32)}, "not a kohya LoRA key"),
        (
            {
                "lora_unet_input_blocks_1_1_proj_in.lora_down.weight": torch.zeros(4, 32, 1, 1),
                "lora_unet_input_blocks_1_1_proj_in.lora_up.weight": torch.zeros(32, 4, 1, 1),
            },
            "matches nothing",
        ),
        (
            {
                "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 320, 1, 1),
                "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": torch.zeros(320, 4, 1, 1),
            },
            "has shape",
        ),
    ],
)
def test_loras_for_another_model_are_refused(base, tensors, message, tmp_path):
    with pytest.raises(QbtuiError, match=message) as caught:
        generate_samples(base, tensors, prompts=[PROMPT], seed=1, out_dir=tmp_path, steps=1)
    assert "Stable Diffusion 1.5" in caught.value.fix
