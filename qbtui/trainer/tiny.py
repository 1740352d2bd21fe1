"""A tiny, randomly initialised SD1.5-shaped model for the demo and the tests, built offline.

It keeps SD1.5's module names (the 192 UNet and 72 text-encoder LoRA targets, the same
single-file key set) at widths a CPU trains in a fraction of a second.

    python -m qbtui.trainer.tiny DIR [--layout diffusers|single-file] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qbtui.atomicfile import write_bytes_atomic
from qbtui.modelenv import prepare_model_environment
from qbtui.trainer.sd15 import configs

LAYOUTS = ("diffusers", "single-file")
SINGLE_FILE_NAME = "tiny-sd15.safetensors"
TOKENIZER_DIR = "tokenizer"

TINY_WIDTHS = [32, 64, 128, 128]
TINY_TEXT_WIDTH = 32
TINY_IMAGE_SIZE = 64

# Merges that give the demo's words a few multi-byte tokens; order is merge priority.
_MERGES = [("q", "b</w>"), ("p", "e"), ("e", "r</w>"), ("pe", "t"), ("pet", "er</w>"), ("o", "n</w>"), ("a", "n</w>")]
_SPECIAL = ["<|startoftext|>", "<|endoftext|>"]


def _byte_symbols() -> list[str]:
    """The printable stand-in of each byte 0..255 that byte-level BPE (GPT-2, CLIP) uses."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = []
    unprintable = 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + unprintable))
            unprintable += 1
    return symbols


def tiny_vocab() -> dict[str, int]:
    """Byte tokens, their end-of-word forms, the merges, then the two special tokens (CLIP's order)."""
    symbols = _byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + [a + b for a, b in _MERGES] + _SPECIAL
    return {token: index for index, token in enumerate(tokens)}


def write_tiny_tokenizer(folder: Path) -> Path:
    """Write vocab.json, merges.txt and tokenizer_config.json that `CLIPTokenizer` loads offline."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(tiny_vocab(), ensure_ascii=False), encoding="utf-8")
    merges = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in _MERGES)
    (folder / "merges.txt").write_text(merges, encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(configs.TOKENIZER, indent=2), encoding="utf-8")
    return folder


def tiny_configs() -> dict[str, dict]:
    """The SD1.5 configs at tiny widths (unet, vae, text_encoder, scheduler)."""
    text_width = TINY_TEXT_WIDTH
    return configs.configs_with(
        unet={"block_out_channels": TINY_WIDTHS, "cross_attention_dim": text_width, "sample_size": TINY_IMAGE_SIZE // 8},
        vae={"block_out_channels": TINY_WIDTHS, "sample_size": TINY_IMAGE_SIZE},
        text_encoder={
            "hidden_size": text_width,
            "projection_dim": text_width,
            "intermediate_size": 37,
            "num_attention_heads": configs.text_attention_heads(text_width),
            "vocab_size": len(tiny_vocab()),
        },
    )


def _model_args(config: dict) -> dict:
    return {key: value for key, value in config.items() if not key.startswith("_")}


def build_components(seed: int = 0):
    """Randomly initialised (unet, vae, text_encoder, scheduler) at tiny widths, reproducible per seed."""
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tiny = tiny_configs()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**_model_args(tiny["unet"]))
    vae = AutoencoderKL(**_model_args(tiny["vae"]))
    text_config = {k: v for k, v in tiny["text_encoder"].items() if k not in ("architectures", "model_type")}
    text_encoder = CLIPTextModel(CLIPTextConfig(**text_config))
    scheduler = DDPMScheduler(**_model_args(tiny["scheduler"]))
    return unet, vae, text_encoder, scheduler


def build_tiny_sd15(out_dir: Path | str, *, layout: str = "diffusers", seed: int = 0) -> Path:
    """Write a tiny SD1.5 model into `out_dir`; returns the folder (diffusers) or the .safetensors file.

    The single-file layout puts its CLIP tokenizer in `out_dir/tokenizer/`, where the base-model
    loader looks for one next to a checkpoint.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    prepare_model_environment()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unet, vae, text_encoder, scheduler = build_components(seed)
    if layout == "diffusers":
        return _save_diffusers(out_dir, unet, vae, text_encoder, scheduler)
    return _save_single_file(out_dir, unet, vae, text_encoder)


def _save_diffusers(out_dir: Path, unet, vae, text_encoder, scheduler) -> Path:
    unet.save_pretrained(out_dir / "unet")
    vae.save_pretrained(out_dir / "vae")
    text_encoder.save_pretrained(out_dir / "text_encoder")
    scheduler.save_pretrained(out_dir / "scheduler")
    write_tiny_tokenizer(out_dir / TOKENIZER_DIR)
    # Written last: a folder with model_index.json is complete even if an earlier run was killed.
    (out_dir / "model_index.json").write_text(json.dumps(configs.MODEL_INDEX, indent=2), encoding="utf-8")
    return out_dir


def _save_single_file(out_dir: Path, unet, vae, text_encoder) -> Path:
    from safetensors.torch import save

    from qbtui.trainer.sd15.ldm_layout import to_ldm

    state_dict = to_ldm(unet.state_dict(), unet.config, vae.state_dict(), vae.config, text_encoder.state_dict())
    path = out_dir / SINGLE_FILE_NAME
    write_bytes_atomic(path, save({key: tensor.contiguous() for key, tensor in state_dict.items()}))
    write_tiny_tokenizer(out_dir / TOKENIZER_DIR)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qbtui.trainer.tiny", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="folder to write the model into")
    parser.add_argument("--layout", choices=LAYOUTS, default="diffusers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        written = build_tiny_sd15(args.dir, layout=args.layout, seed=args.seed)
    except OSError as error:
        print(f"{args.dir}: cannot write the tiny model: {error}", file=sys.stderr)
        return 2
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
