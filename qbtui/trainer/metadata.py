"""kohya's `ss_*` training metadata and `modelspec.*` keys, and the LoRA file writer."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from qbtui.atomicfile import write_bytes_atomic
from qbtui.trainer.config import TrainConfig


@dataclass(frozen=True)
class RunFacts:
    """What the metadata records beyond the config."""

    num_train_images: int
    tag_frequency: dict[str, dict[str, int]]
    dataset_dirs: dict[str, dict[str, int]]
    base_model_name: str
    base_model_hash: str
    started_at: float
    session_id: int
    mixed_precision: str
    processes: int = 1  # data-parallel processes, each with train_batch_size samples a step
    base_model_sha256: str = ""  # the full SHA-256 of the base model's weights file (kohya's ss_new_sd_model_hash)


def lora_metadata(config: TrainConfig, facts: RunFacts, *, steps: int, output_stem: str) -> dict[str, str]:
    """Every key as a string, as kohya's train_network.py writes them."""
    width, height = config.size
    te_lr = "" if config.network_train_unet_only else str(config.effective_text_encoder_lr)
    total_batch = config.train_batch_size * facts.processes
    metadata = {
        "ss_session_id": str(facts.session_id),
        "ss_training_started_at": str(facts.started_at),
        "ss_training_finished_at": str(time.time()),
        "ss_output_name": output_stem,
        "ss_steps": str(steps),
        "ss_max_train_steps": str(config.max_train_steps),
        "ss_num_train_images": str(facts.num_train_images),
        "ss_num_batches_per_epoch": str(-(-facts.num_train_images // total_batch)),
        "ss_batch_size_per_device": str(config.train_batch_size),
        "ss_total_batch_size": str(total_batch),
        "ss_resolution": f"({width}, {height})",
        "ss_network_module": config.network_module,
        "ss_network_dim": str(config.network_dim),
        "ss_network_alpha": str(float(config.network_alpha)),
        "ss_network_args": "null",
        "ss_learning_rate": str(config.learning_rate),
        "ss_unet_lr": str(config.learning_rate),
        "ss_text_encoder_lr": te_lr,
        "ss_optimizer": "torch.optim.adamw.AdamW",
        "ss_lr_scheduler": config.lr_scheduler,
        "ss_lr_warmup_steps": str(config.lr_warmup_steps),
        "ss_seed": str(config.seed),
        "ss_mixed_precision": facts.mixed_precision,
        "ss_gradient_checkpointing": str(config.gradient_checkpointing),
        "ss_cache_latents": str(config.cache_latents),
        "ss_caption_extension": config.caption_extension,
        "ss_tag_frequency": json.dumps(facts.tag_frequency),
        "ss_dataset_dirs": json.dumps(facts.dataset_dirs),
        "ss_sd_model_name": facts.base_model_name,
        "ss_sd_model_hash": facts.base_model_hash,
        "ss_new_sd_model_hash": facts.base_model_sha256,
        "ss_base_model_version": "sd_v1",
        "ss_v2": "False",
        "ss_clip_skip": "None",
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": "stable-diffusion-v1/lora",
        "modelspec.implementation": "https://github.com/kohya-ss/sd-scripts",
        "modelspec.title": output_stem,
        "modelspec.resolution": f"{width}x{height}",
        "modelspec.date": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(facts.started_at)),
        "modelspec.prediction_type": "epsilon",
    }
    if config.trigger:
        metadata["modelspec.trigger_phrase"] = config.trigger
    return metadata


def tensor_hashes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    """(sshs_model_hash, sshs_legacy_hash) as the AddNet/kohya tools compute them.

    Both are taken over the file as saved with only its `ss_*` metadata: the full hash
    is sha256 of the bytes after the header, the legacy one sha256 of 64 KiB at 1 MiB.
    """
    from safetensors.torch import save

    data = save(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
    header_length = int.from_bytes(data[:8], "little")
    model_hash = hashlib.sha256(data[8 + header_length :]).hexdigest()
    legacy_hash = hashlib.sha256(data[0x100000 : 0x100000 + 0x10000]).hexdigest()[:8]
    return model_hash, legacy_hash


def save_lora(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write a kohya LoRA file atomically (temp file, fsync, rename) with hashed metadata."""
    from safetensors.torch import save

    model_hash, legacy_hash = tensor_hashes(tensors, metadata)
    full = {**metadata, "sshs_model_hash": model_hash, "sshs_legacy_hash": legacy_hash}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, save(tensors, full))
    return path
