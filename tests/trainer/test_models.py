"""Base-model loading: both layouts and .ckpt offline, equal weights, tokenizer lookup, hashes, errors."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from qbtui.errors import QbtuiError
from qbtui.trainer import tokenizer_places
from qbtui.trainer.models import (
    TENSOR_ALIGNMENT,
    file_sha256,
    legacy_model_hash,
    load_base_model,
    read_checkpoint,
    realign_tensors,
)
from qbtui.trainer.tiny import tiny_vocab


@pytest.fixture(scope="module")
def folder_model(tiny_model_dir):
    return load_base_model(tiny_model_dir)


@pytest.fixture
def no_hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, so only settings and a tokenizer/ folder can supply one."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def lone_checkpoint(tiny_single_file, tmp_path, no_hf_cache):
    """The tiny single file copied into a folder with no tokenizer beside it."""
    alone = tmp_path / "models" / tiny_single_file.name
    alone.parent.mkdir()
    shutil.copy(tiny_single_file, alone)
    return alone


def assert_same_weights(a, b):
    for component in ("unet", "vae", "text_encoder"):
        first, second = getattr(a, component).state_dict(), getattr(b, component).state_dict()
        assert first.keys() == second.keys(), component
        assert all(torch.equal(first[key], second[key]) for key in first), component


def unet_output(base):
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, 8, 8, generator=generator)
    ids = base.tokenizer("qb_peter person", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        context = base.text_encoder(ids)[0]
        return base.unet(latents, torch.tensor([500]), context).sample


def test_diffusers_folder_loads_frozen_with_the_training_schedule(folder_model, tiny_model_dir):
    assert folder_model.name == tiny_model_dir.name
    assert folder_model.vae_scale_factor == 0.18215
    assert not any(
        p.requires_grad for part in (folder_model.unet, folder_model.vae, folder_model.text_encoder) for p in part.parameters()
    )
    scheduler = folder_model.noise_scheduler.config
    assert (scheduler.num_train_timesteps, scheduler.beta_start, scheduler.beta_end) == (1000, 0.00085, 0.012)
    assert (scheduler.beta_schedule, scheduler.prediction_type, scheduler.clip_sample) == ("scaled_linear", "epsilon", False)
    assert len(folder_model.model_hash) == 8


def test_single_file_loads_offline_and_equals_the_folder(folder_model, tiny_single_file):
    single = load_base_model(tiny_single_file)
    assert single.name == "tiny-sd15.safetensors"
    assert_same_weights(folder_model, single)
    assert torch.equal(unet_output(folder_model), unet_output(single))


def test_ckpt_with_state_dict_loads_like_the_safetensors(folder_model, tiny_single_file, tmp_path):
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": load_file(tiny_single_file), "global_step": 1}, ckpt)
    shutil.copytree(tiny_single_file.parent / "tokenizer", tmp_path / "tokenizer")
    assert_same_weights(folder_model, load_base_model(ckpt))


def test_half_precision_checkpoint_loads_in_the_requested_dtype(tiny_single_file, tmp_path):
    half = tmp_path / "model-fp16.safetensors"
    save_file({k: v.half() for k, v in load_file(tiny_single_file).items()}, half)
    shutil.copytree(tiny_single_file.parent / "tokenizer", tmp_path / "tokenizer")
    base = load_base_model(half)
    parts = (base.unet, base.vae, base.text_encoder)
    assert {p.dtype for part in parts for p in part.parameters()} == {torch.float32}
    assert {p.dtype for p in load_base_model(half, dtype=torch.bfloat16).unet.parameters()} == {torch.bfloat16}


def test_original_style_ckpt_with_lightning_callback_and_numpy_step_loads(tiny_single_file, tmp_path, monkeypatch):
    import sys
    import types

    import numpy

    lightning = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")

    class ModelCheckpoint:
        def __init__(self):
            self.best_model_path = "logs/last.ckpt"

    ModelCheckpoint.__module__ = lightning.__name__
    ModelCheckpoint.__qualname__ = "ModelCheckpoint"
    lightning.ModelCheckpoint = ModelCheckpoint
    for package in ("pytorch_lightning", "pytorch_lightning.callbacks"):
        monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
    monkeypatch.setitem(sys.modules, lightning.__name__, lightning)
    ckpt = tmp_path / "sd-v1-4.ckpt"
    torch.save(
        {
            "state_dict": load_file(tiny_single_file),
            "global_step": numpy.int64(470000),
            "epoch": numpy.float64(6.0),
            "callbacks": {ModelCheckpoint: ModelCheckpoint()},
        },
        ckpt,
    )
    for package in ("pytorch_lightning", "pytorch_lightning.callbacks", lightning.__name__):
        monkeypatch.delitem(sys.modules, package)
    shutil.copytree(tiny_single_file.parent / "tokenizer", tmp_path / "tokenizer")
    assert len(load_base_model(ckpt).unet.state_dict()) == 686


def test_ckpt_with_pickled_code_is_refused(tmp_path):
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hook": print}, ckpt)
    with pytest.raises(QbtuiError, match="cannot read the checkpoint") as caught:
        load_base_model(ckpt)
    assert caught.value.path == ckpt


def test_tokenizer_from_settings_folder(lone_checkpoint, tiny_model_dir):
    base = load_base_model(lone_checkpoint, tokenizer_dir=tiny_model_dir / "tokenizer")
    assert base.tokenizer("qb_peter").input_ids[0] == base.tokenizer.bos_token_id


def test_tokenizer_from_the_hugging_face_cache(lone_checkpoint, tiny_model_dir, no_hf_cache):
    snapshot = no_hf_cache / "models--openai--clip-vit-large-patch14" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir / "tokenizer", snapshot)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0123abcd")
    assert tokenizer_places.find_tokenizer(lone_checkpoint) == snapshot
    assert load_base_model(lone_checkpoint).tokenizer.get_vocab() == tiny_vocab()


def test_no_tokenizer_anywhere_names_the_checkpoint_and_the_fix(lone_checkpoint):
    with pytest.raises(QbtuiError, match="no CLIP tokenizer") as caught:
        load_base_model(lone_checkpoint)
    assert caught.value.path == lone_checkpoint
    assert 'tokenizer = "' in caught.value.fix and "clip-vit-large-patch14" in caught.value.fix


def test_settings_tokenizer_folder_without_files_is_reported(lone_checkpoint, tmp_path):
    empty = tmp_path / "empty-tokenizer"
    empty.mkdir()
    with pytest.raises(QbtuiError, match=r"lacks vocab\.json") as caught:
        load_base_model(lone_checkpoint, tokenizer_dir=empty)
    assert caught.value.path == empty


def test_missing_base_model(tmp_path):
    with pytest.raises(QbtuiError, match="base model not found") as caught:
        load_base_model(tmp_path / "v1-5-pruned-emaonly.safetensors")
    assert caught.value.path == tmp_path / "v1-5-pruned-emaonly.safetensors"
    assert "base_model" in caught.value.fix


def test_folder_without_model_index(tmp_path):
    with pytest.raises(QbtuiError, match=r"model_index\.json"):
        load_base_model(tmp_path)


def test_unsupported_file_type(tmp_path):
    notes = tmp_path / "model.txt"
    notes.write_text("not a model")
    with pytest.raises(QbtuiError, match=r"unsupported base model type \.txt"):
        load_base_model(notes)


@pytest.mark.parametrize("kept_bytes", [None, 100, 4], ids=["in the weights", "in the header", "in the header size"])
def test_truncated_safetensors(tiny_single_file, tmp_path, kept_bytes):
    truncated = tmp_path / "cut.safetensors"
    data = tiny_single_file.read_bytes()
    truncated.write_bytes(data[: kept_bytes or len(data) // 2])
    with pytest.raises(QbtuiError, match="truncated") as caught:
        load_base_model(truncated)
    assert caught.value.path == truncated
    assert "download the checkpoint again" in caught.value.fix


def test_diffusers_folder_with_broken_weights(tiny_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(QbtuiError, match="cannot load the diffusers model") as caught:
        load_base_model(broken)
    assert caught.value.path == broken


def test_checkpoint_with_missing_text_encoder_tensor(tiny_single_file, tmp_path):
    state_dict = load_file(tiny_single_file)
    del state_dict["cond_stage_model.transformer.text_model.final_layer_norm.bias"]
    partial = tmp_path / "partial.safetensors"
    save_file(state_dict, partial)
    shutil.copytree(tiny_single_file.parent / "tokenizer", tmp_path / "tokenizer")
    with pytest.raises(QbtuiError, match=r"incomplete or mis-shaped.*final_layer_norm\.bias"):
        load_base_model(partial)


def test_safetensors_with_unknown_dtype_is_reported(tmp_path):
    odd = tmp_path / "odd.safetensors"
    save_file({"model.diffusion_model.conv_in.weight": torch.zeros(2)}, odd)
    odd.write_bytes(odd.read_bytes().replace(b'"F32"', b'"Q99"'))
    with pytest.raises(QbtuiError, match="unknown dtype 'Q99'") as caught:
        load_base_model(odd)
    assert caught.value.path == odd


def misaligned_module():
    """A module whose `kept` weight starts on an allocation boundary and `moved` weight 4 bytes past one."""
    storage = torch.arange(40, dtype=torch.float32)
    module = torch.nn.Module()
    module.kept = torch.nn.Parameter(storage[:16].view(4, 4), requires_grad=False)
    module.moved = torch.nn.Parameter(storage[17:33].view(4, 4), requires_grad=False)
    return module


def test_realign_moves_only_misaligned_tensors():
    module = misaligned_module()
    kept_address, moved_values = module.kept.data_ptr(), module.moved.detach().clone()
    assert realign_tensors(module) == 1
    assert module.kept.data_ptr() == kept_address
    assert module.moved.data_ptr() % TENSOR_ALIGNMENT == 0
    assert torch.equal(module.moved, moved_values)


def test_realign_reads_a_misaligned_tensor_again_from_its_file(tmp_path):
    weights = tmp_path / "model.safetensors"
    stored = torch.full((4, 4), 7.0)
    save_file({"moved": stored, "kept": torch.zeros(4, 4)}, weights)
    module = misaligned_module()
    module.other = torch.nn.Parameter(torch.arange(41.0)[1:].view(5, 8), requires_grad=False)
    assert realign_tensors(module, weights) == 2
    assert torch.equal(module.moved, stored)
    assert torch.equal(module.other, torch.arange(1.0, 41.0).view(5, 8))
    assert module.other.data_ptr() % TENSOR_ALIGNMENT == 0


def test_single_file_tensors_are_read_into_aligned_memory(tiny_single_file):
    read = read_checkpoint(tiny_single_file)
    mapped = load_file(tiny_single_file)
    assert read.keys() == mapped.keys()
    assert all(torch.equal(read[key], mapped[key]) and read[key].dtype == mapped[key].dtype for key in mapped)
    assert all(tensor.data_ptr() % TENSOR_ALIGNMENT == 0 for tensor in read.values())


def test_loaded_weights_are_all_aligned(folder_model, tiny_single_file):
    for base in (folder_model, load_base_model(tiny_single_file)):
        parts = (base.unet, base.vae, base.text_encoder)
        assert all(t.data_ptr() % TENSOR_ALIGNMENT == 0 for part in parts for t in [*part.parameters(), *part.buffers()])


def test_sdxl_checkpoint_is_refused(tmp_path):
    sdxl = tmp_path / "sd_xl_base_1.0.safetensors"
    save_file(
        {
            "model.diffusion_model.label_emb.0.0.weight": torch.zeros(2, 2),
            "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": torch.zeros(2, 2),
        },
        sdxl,
    )
    with pytest.raises(QbtuiError, match="SDXL") as caught:
        load_base_model(sdxl)
    assert caught.value.path == sdxl


def test_sd2_checkpoint_is_refused(tmp_path):
    sd2 = tmp_path / "v2-1_768.safetensors"
    save_file({"cond_stage_model.model.token_embedding.weight": torch.zeros(2, 2)}, sd2)
    with pytest.raises(QbtuiError, match=r"2\.x"):
        load_base_model(sd2)


def test_lora_file_given_as_base_model(tmp_path):
    lora = tmp_path / "qb_peter_lora.safetensors"
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 32, 1, 1)}, lora)
    with pytest.raises(QbtuiError, match="no UNet, VAE, CLIP text encoder weights"):
        load_base_model(lora)


def test_checkpoint_with_missing_unet_tensors(tiny_single_file, tmp_path):
    state_dict = load_file(tiny_single_file)
    del state_dict["model.diffusion_model.middle_block.1.proj_in.weight"]
    partial = tmp_path / "partial.safetensors"
    save_file(state_dict, partial)
    shutil.copytree(tiny_single_file.parent / "tokenizer", tmp_path / "tokenizer")
    with pytest.raises(QbtuiError, match="incomplete or mis-shaped") as caught:
        load_base_model(partial)
    assert caught.value.path == partial


def test_inpainting_checkpoint_is_refused(tiny_single_file, tmp_path):
    state_dict = load_file(tiny_single_file)
    state_dict["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(32, 9, 3, 3)
    inpainting = tmp_path / "inpainting.safetensors"
    save_file(state_dict, inpainting)
    with pytest.raises(QbtuiError, match="9 input channels"):
        load_base_model(inpainting)


def test_legacy_hash_is_kohyas(tiny_single_file):
    data = tiny_single_file.read_bytes()
    assert legacy_model_hash(tiny_single_file) == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]


def test_full_hash_is_cached_until_the_file_changes(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"first version")
    cache = tmp_path / "hashes.json"
    assert file_sha256(weights, cache) == hashlib.sha256(b"first version").hexdigest()
    entries = json.loads(cache.read_text())
    entries[str(weights.resolve())]["sha256"] = "remembered"
    cache.write_text(json.dumps(entries))
    assert file_sha256(weights, cache) == "remembered"
    weights.write_bytes(b"second version, longer")
    assert file_sha256(weights, cache) == hashlib.sha256(b"second version, longer").hexdigest()


def test_base_model_sha256_uses_the_config_folder_cache(tiny_single_file, isolated_user_dirs):
    base = load_base_model(tiny_single_file)
    assert base.sha256() == hashlib.sha256(tiny_single_file.read_bytes()).hexdigest()
    assert (isolated_user_dirs / "model-hashes.json").is_file()
