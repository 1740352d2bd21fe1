"""Stable Diffusion 1.5 component configs as data, and the tiny variant built from them.

The full-size values are those of the `stable-diffusion-v1-5` diffusers repository; diffusers
ships none of them, so a single-file checkpoint is loaded offline against these.
"""

from __future__ import annotations

import copy

UNET = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "use_linear_projection": False,
}

VAE = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

TEXT_ENCODER = {
    "architectures": ["CLIPTextModel"],
    "model_type": "clip_text_model",
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
    "vocab_size": 49408,
}

# The training objective's schedule (kohya's, and the guide's): DDPM, scaled-linear betas.
SCHEDULER = {
    "_class_name": "DDPMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "steps_offset": 1,
}

TOKENIZER = {
    "tokenizer_class": "CLIPTokenizer",
    "model_max_length": 77,
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "unk_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
    "do_lower_case": True,
}

MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "feature_extractor": [None, None],
    "image_encoder": [None, None],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "DDPMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}

# Width of one CLIP ViT-L attention head; narrower encoders get a single head.
CLIP_HEAD_WIDTH = 64


def text_attention_heads(hidden_size: int) -> int:
    """Heads of a CLIP text encoder of this width (12 for SD1.5's 768), which weights cannot show."""
    return max(1, hidden_size // CLIP_HEAD_WIDTH)


def configs_with(*, unet: dict | None = None, vae: dict | None = None, text_encoder: dict | None = None) -> dict[str, dict]:
    """Deep copies of the SD1.5 configs with fields replaced; keys: unet, vae, text_encoder, scheduler."""
    return {
        "unet": {**copy.deepcopy(UNET), **(unet or {})},
        "vae": {**copy.deepcopy(VAE), **(vae or {})},
        "text_encoder": {**copy.deepcopy(TEXT_ENCODER), **(text_encoder or {})},
        "scheduler": copy.deepcopy(SCHEDULER),
    }
