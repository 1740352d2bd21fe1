"""The tiny SD1.5 model: offline build in both layouts, SD1.5's names, an exact single-file round trip."""

from __future__ import annotations

import json

import pytest
import torch

from qbtui.trainer import tiny
from qbtui.trainer.sd15 import configs
from qbtui.trainer.sd15.ldm_layout import infer_configs, to_ldm

# Keys of v1-5-pruned-emaonly.safetensors that only a correct renaming produces.
SD15_SINGLE_FILE_KEYS = [
    "model.diffusion_model.time_embed.2.weight",
    "model.diffusion_model.input_blocks.3.0.op.weight",
    "model.diffusion_model.input_blocks.4.0.skip_connection.weight",
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    "model.diffusion_model.middle_block.1.proj_in.weight",
    "model.diffusion_model.middle_block.2.emb_layers.1.weight",
    "model.diffusion_model.output_blocks.2.1.conv.weight",
    "model.diffusion_model.output_blocks.5.2.conv.weight",
    "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.ff.net.2.weight",
    "model.diffusion_model.out.2.weight",
    "first_stage_model.encoder.mid.attn_1.q.weight",
    "first_stage_model.encoder.down.0.downsample.conv.weight",
    "first_stage_model.decoder.up.3.upsample.conv.weight",
    "first_stage_model.decoder.up.1.block.0.nin_shortcut.weight",
    "first_stage_model.post_quant_conv.weight",
    "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.weight",
    "cond_stage_model.transformer.text_model.final_layer_norm.weight",
]


def kohya_unet_targets(unet) -> list[str]:
    """Module paths kohya's networks.lora adapts in a UNet: Linear and 1x1 Conv2d inside Transformer2DModel."""
    names = []
    for name, module in unet.named_modules():
        if type(module).__name__ != "Transformer2DModel":
            continue
        for child_name, child in module.named_modules():
            is_1x1 = isinstance(child, torch.nn.Conv2d) and child.kernel_size == (1, 1)
            if isinstance(child, torch.nn.Linear) or is_1x1:
                names.append(f"{name}.{child_name}")
    return names


def test_tokenizer_loads_offline_and_tokenises_a_caption(tiny_model_dir):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(tiny_model_dir / "tokenizer", local_files_only=True)
    ids = tokenizer("qb_peter person, man", padding="max_length", max_length=77, truncation=True).input_ids
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == 77
    assert tokens[0] == "<|startoftext|>"
    assert "peter</w>" in tokens
    assert tokenizer.unk_token_id not in ids[1 : tokens.index("<|endoftext|>")]


def test_diffusers_folder_loads_as_a_pipeline_and_keeps_sd15_names(tiny_model_dir):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir, local_files_only=True)
    targets = kohya_unet_targets(pipe.unet)
    assert len(targets) == 192
    assert "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q" in targets
    assert "up_blocks.3.attentions.2.proj_out" in targets
    assert pipe.unet.get_submodule("mid_block.attentions.0.proj_in").kernel_size == (1, 1)
    text_targets = [
        n for n, m in pipe.text_encoder.named_modules() if n.endswith(("_proj", "fc1", "fc2")) and isinstance(m, torch.nn.Linear)
    ]
    assert len(text_targets) == 72
    assert pipe.vae.config.scaling_factor == 0.18215
    assert pipe.scheduler.config.beta_schedule == "scaled_linear"
    image = pipe("qb_peter person", num_inference_steps=2, output_type="np", generator=torch.Generator().manual_seed(0)).images
    assert image.shape == (1, 64, 64, 3)


def test_single_file_loads_through_diffusers_and_equals_the_folder(tiny_model_dir, tiny_single_file):
    from diffusers import StableDiffusionPipeline

    folder = StableDiffusionPipeline.from_pretrained(tiny_model_dir, local_files_only=True)
    single = StableDiffusionPipeline.from_single_file(tiny_single_file, config=str(tiny_model_dir), local_files_only=True)
    for component in ("unet", "vae", "text_encoder"):
        expected = getattr(folder, component).state_dict()
        loaded = getattr(single, component).state_dict()
        assert expected.keys() == loaded.keys()
        assert all(torch.equal(expected[key], loaded[key]) for key in expected), component
    run = {"prompt": "qb_peter person", "num_inference_steps": 2, "output_type": "np"}
    a = folder(**run, generator=torch.Generator().manual_seed(3)).images
    b = single(**run, generator=torch.Generator().manual_seed(3)).images
    assert (a == b).all()


def test_single_file_has_the_sd15_key_layout(tiny_single_file):
    from safetensors import safe_open

    with safe_open(str(tiny_single_file), framework="pt") as handle:
        keys = set(handle.keys())
    assert set(SD15_SINGLE_FILE_KEYS) <= keys
    assert all(
        key.startswith(("model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer.text_model."))
        for key in keys
    )
    assert (tiny_single_file.parent / "tokenizer" / "vocab.json").is_file()


def test_full_size_sd15_weights_infer_the_real_sd15_configs():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    def args(config):
        return {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures", "model_type")}

    with torch.device("meta"):
        unet = UNet2DConditionModel(**args(configs.UNET))
        vae = AutoencoderKL(**args(configs.VAE))
        text = CLIPTextModel(CLIPTextConfig(**args(configs.TEXT_ENCODER)))
    state_dict = to_ldm(unet.state_dict(), unet.config, vae.state_dict(), vae.config, text.state_dict())
    assert set(SD15_SINGLE_FILE_KEYS) <= set(state_dict)
    assert infer_configs(state_dict) == configs.configs_with()


def test_inferred_configs_rebuild_the_tiny_model(tiny_single_file):
    from safetensors.torch import load_file

    inferred = infer_configs(load_file(tiny_single_file))
    expected = tiny.tiny_configs()
    for component in ("unet", "vae"):
        inferred[component].pop("sample_size")
        expected[component].pop("sample_size")
    assert inferred == expected


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    from safetensors.torch import load_file

    first = load_file(tiny.build_tiny_sd15(tmp_path / "a", layout="single-file", seed=1))
    again = load_file(tiny.build_tiny_sd15(tmp_path / "b", layout="single-file", seed=1))
    other = load_file(tiny.build_tiny_sd15(tmp_path / "c", layout="single-file", seed=2))
    key = "model.diffusion_model.input_blocks.1.1.proj_in.weight"
    assert torch.equal(first[key], again[key])
    assert not torch.equal(first[key], other[key])


def test_command_line_writes_the_requested_layout(tmp_path, capsys):
    assert tiny.main([str(tmp_path / "model"), "--layout", "diffusers"]) == 0
    index = json.loads((tmp_path / "model" / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert str(tmp_path / "model") in capsys.readouterr().out


def test_command_line_reports_an_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    assert tiny.main([str(blocker / "model")]) == 2
    assert "cannot write the tiny model" in capsys.readouterr().err


def test_unknown_layout_is_refused(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        tiny.build_tiny_sd15(tmp_path, layout="ckpt")
