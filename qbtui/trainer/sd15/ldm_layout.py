"""The single-file key layout A1111 keeps (`v1-5-pruned-emaonly.safetensors`), both ways.

`to_ldm` renames diffusers component state dicts into that layout; `infer_configs` reads the
component configs back from a single file's tensor shapes, so a checkpoint of any width (the
full-size SD1.5 one or a tiny test model) loads without a config download.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from qbtui.trainer.sd15 import configs

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer.text_model."

_UNET_RESNET = {
    "norm1.": "in_layers.0.",
    "conv1.": "in_layers.2.",
    "time_emb_proj.": "emb_layers.1.",
    "norm2.": "out_layers.0.",
    "conv2.": "out_layers.3.",
    "conv_shortcut.": "skip_connection.",
}
_VAE_RESNET = {"conv_shortcut.": "nin_shortcut."}
_VAE_ATTENTION = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}
_VAE_ATTENTION_PROJECTIONS = ("q.weight", "k.weight", "v.weight", "proj_out.weight")


def _unet_prefixes(config: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """diffusers module prefix -> (LDM prefix, renames of the module's own children)."""
    per_level = config["layers_per_block"] + 1
    levels = len(config["block_out_channels"])
    table = {
        "time_embedding.linear_1.": ("time_embed.0.", {}),
        "time_embedding.linear_2.": ("time_embed.2.", {}),
        "conv_in.": ("input_blocks.0.0.", {}),
        "conv_norm_out.": ("out.0.", {}),
        "conv_out.": ("out.2.", {}),
        "mid_block.resnets.0.": ("middle_block.0.", _UNET_RESNET),
        "mid_block.attentions.0.": ("middle_block.1.", {}),
        "mid_block.resnets.1.": ("middle_block.2.", _UNET_RESNET),
    }
    for level in range(levels):
        for j in range(config["layers_per_block"]):
            block = 1 + level * per_level + j
            table[f"down_blocks.{level}.resnets.{j}."] = (f"input_blocks.{block}.0.", _UNET_RESNET)
            table[f"down_blocks.{level}.attentions.{j}."] = (f"input_blocks.{block}.1.", {})
        for j in range(per_level):
            block = level * per_level + j
            table[f"up_blocks.{level}.resnets.{j}."] = (f"output_blocks.{block}.0.", _UNET_RESNET)
            table[f"up_blocks.{level}.attentions.{j}."] = (f"output_blocks.{block}.1.", {})
        if level < levels - 1:
            table[f"down_blocks.{level}.downsamplers.0.conv."] = (f"input_blocks.{(level + 1) * per_level}.0.op.", {})
            has_attention = config["up_block_types"][level].startswith("CrossAttn")
            last = level * per_level + per_level - 1
            table[f"up_blocks.{level}.upsamplers.0."] = (f"output_blocks.{last}.{2 if has_attention else 1}.", {})
    return table


def _vae_prefixes(config: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    levels = len(config["block_out_channels"])
    table: dict[str, tuple[str, dict[str, str]]] = {
        "encoder.conv_norm_out.": ("encoder.norm_out.", {}),
        "decoder.conv_norm_out.": ("decoder.norm_out.", {}),
    }
    for part in ("encoder", "decoder"):
        table[f"{part}.mid_block.attentions.0."] = (f"{part}.mid.attn_1.", _VAE_ATTENTION)
        for j in range(2):
            table[f"{part}.mid_block.resnets.{j}."] = (f"{part}.mid.block_{j + 1}.", _VAE_RESNET)
    for level in range(levels):
        for j in range(config["layers_per_block"]):
            table[f"encoder.down_blocks.{level}.resnets.{j}."] = (f"encoder.down.{level}.block.{j}.", _VAE_RESNET)
        table[f"encoder.down_blocks.{level}.downsamplers.0.conv."] = (f"encoder.down.{level}.downsample.conv.", {})
        ldm_level = levels - 1 - level
        for j in range(config["layers_per_block"] + 1):
            table[f"decoder.up_blocks.{level}.resnets.{j}."] = (f"decoder.up.{ldm_level}.block.{j}.", _VAE_RESNET)
        table[f"decoder.up_blocks.{level}.upsamplers.0.conv."] = (f"decoder.up.{ldm_level}.upsample.conv.", {})
    return table


def _rename(key: str, prefixes: Mapping[str, tuple[str, dict[str, str]]]) -> str:
    for prefix, (ldm_prefix, children) in prefixes.items():
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            for child, ldm_child in children.items():
                if rest.startswith(child):
                    rest = ldm_child + rest[len(child) :]
                    break
            return ldm_prefix + rest
    return key


def to_ldm(
    unet: Mapping, unet_config: Mapping[str, Any], vae: Mapping, vae_config: Mapping[str, Any], text_encoder: Mapping
) -> dict:
    """One state dict in the A1111 single-file layout from the three diffusers state dicts."""
    out = {}
    unet_table = _unet_prefixes(unet_config)
    for key, tensor in unet.items():
        out[UNET_PREFIX + _rename(key, unet_table)] = tensor
    vae_table = _vae_prefixes(vae_config)
    for key, tensor in vae.items():
        ldm_key = _rename(key, vae_table)
        is_conv_projection = ".mid.attn_1." in ldm_key and ldm_key.endswith(_VAE_ATTENTION_PROJECTIONS)
        out[VAE_PREFIX + ldm_key] = tensor.reshape(*tensor.shape, 1, 1) if is_conv_projection else tensor
    for key, tensor in text_encoder.items():
        out[TEXT_PREFIX + key.removeprefix("text_model.")] = tensor
    return out


def _indices(keys: list[str], pattern: str) -> set[int]:
    regex = re.compile(pattern)
    return {int(match.group(1)) for key in keys if (match := regex.match(key))}


def infer_configs(state_dict: Mapping) -> dict[str, dict]:
    """SD1.5 component configs (unet, vae, text_encoder, scheduler) with every width read from the weights."""
    keys = list(state_dict)

    def shape(key: str) -> tuple[int, ...]:
        return tuple(state_dict[key].shape)

    u = UNET_PREFIX
    levels = len(_indices(keys, re.escape(u) + r"input_blocks\.(\d+)\.0\.op\.weight")) + 1
    per_level = len(_indices(keys, re.escape(u) + r"input_blocks\.(\d+)\.")) // levels
    widths = [shape(f"{u}input_blocks.{1 + level * per_level}.0.out_layers.3.weight")[0] for level in range(levels)]
    down_types = [
        "CrossAttnDownBlock2D" if f"{u}input_blocks.{1 + level * per_level}.1.proj_in.weight" in state_dict else "DownBlock2D"
        for level in range(levels)
    ]
    up_types = [
        "CrossAttnUpBlock2D" if f"{u}output_blocks.{level * per_level}.1.proj_in.weight" in state_dict else "UpBlock2D"
        for level in range(levels)
    ]
    cross_key = next(key for key in keys if key.startswith(u) and key.endswith("attn2.to_k.weight"))
    proj_in = next(key for key in keys if key.startswith(u) and key.endswith("proj_in.weight"))
    unet = {
        "block_out_channels": widths,
        "layers_per_block": per_level - 1,
        "down_block_types": down_types,
        "up_block_types": up_types,
        "cross_attention_dim": shape(cross_key)[1],
        "use_linear_projection": len(shape(proj_in)) == 2,
        "in_channels": shape(f"{u}input_blocks.0.0.weight")[1],
        "out_channels": shape(f"{u}out.2.weight")[0],
    }

    v = VAE_PREFIX
    vae_levels = len(_indices(keys, re.escape(v) + r"encoder\.down\.(\d+)\."))
    vae = {
        "block_out_channels": [shape(f"{v}encoder.down.{level}.block.0.conv1.weight")[0] for level in range(vae_levels)],
        "layers_per_block": len(_indices(keys, re.escape(v) + r"encoder\.down\.0\.block\.(\d+)\.")),
        "latent_channels": shape(f"{v}post_quant_conv.weight")[0],
        "in_channels": shape(f"{v}encoder.conv_in.weight")[1],
        "out_channels": shape(f"{v}decoder.conv_out.weight")[0],
        "down_block_types": ["DownEncoderBlock2D"] * vae_levels,
        "up_block_types": ["UpDecoderBlock2D"] * vae_levels,
    }

    t = TEXT_PREFIX
    vocab_size, hidden = shape(f"{t}embeddings.token_embedding.weight")
    text_encoder = {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "projection_dim": hidden,
        "max_position_embeddings": shape(f"{t}embeddings.position_embedding.weight")[0],
        "num_hidden_layers": len(_indices(keys, re.escape(t) + r"encoder\.layers\.(\d+)\.")),
        "intermediate_size": shape(f"{t}encoder.layers.0.mlp.fc1.weight")[0],
        "num_attention_heads": configs.text_attention_heads(hidden),
    }
    return configs.configs_with(unet=unet, vae=vae, text_encoder=text_encoder)
