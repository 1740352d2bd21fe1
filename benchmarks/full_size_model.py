"""A full-size SD1.5 single file with random weights and a real-layout CLIP tokenizer folder, built once.

    .venv/bin/python benchmarks/full_size_model.py [--out .cache/full-size]

The UNet, VAE and CLIP text encoder are diffusers' and transformers' modules at SD1.5's own
sizes (`qbtui.trainer.sd15.configs`), randomly initialised, renamed into the A1111 layout by
the project's converter (`sd15.ldm_layout.to_ldm`) and saved in half precision, as
`v1-5-pruned-emaonly-fp16.safetensors` is (about 2 GB). Its `tokenizer/` folder has CLIP's
layout and sizes (49,408 tokens, byte-level BPE merges, the two special tokens last), but its
merges are synthetic: no real CLIP vocabulary is on this machine or in any installed package.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

MODEL_NAME = "sd15-random-fp16.safetensors"
CLIP_VOCAB_SIZE = 49408
MERGE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def synthetic_merges(count: int) -> list[tuple[str, str]]:
    """`count` valid byte-level BPE merges: letter and digit pairs (inside and at the end of a word), then triples."""
    pairs = [(a, b) for a, b in itertools.product(MERGE_ALPHABET, repeat=2)]
    merges = [
        *pairs,
        *((a, b + "</w>") for a, b in pairs),
        *((a + b, c) for (a, b), c in itertools.product(pairs, MERGE_ALPHABET)),
    ]
    if len(merges) < count:
        raise ValueError(f"only {len(merges)} synthetic merges, {count} wanted")
    return merges[:count]


def write_clip_tokenizer(folder: Path) -> Path:
    """vocab.json, merges.txt and tokenizer_config.json in CLIP's layout, 49,408 tokens."""
    from qbtui.atomicfile import write_text_atomic
    from qbtui.trainer.sd15 import configs
    from qbtui.trainer.tiny import _SPECIAL, _byte_symbols

    symbols = _byte_symbols()
    base = [*symbols, *(s + "</w>" for s in symbols)]
    merges = synthetic_merges(CLIP_VOCAB_SIZE - len(base) - len(_SPECIAL))
    tokens = [*base, *(a + b for a, b in merges), *_SPECIAL]
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "vocab.json", json.dumps({token: i for i, token in enumerate(tokens)}, ensure_ascii=False))
    write_text_atomic(folder / "merges.txt", "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    write_text_atomic(folder / "tokenizer_config.json", json.dumps(configs.TOKENIZER, indent=2))
    return folder


def build_full_size(out: Path, seed: int = 0) -> Path:
    """`out/MODEL_NAME` (skipped when it exists) and `out/tokenizer/`; returns the checkpoint's path."""
    path = out / MODEL_NAME
    write_clip_tokenizer(out / "tokenizer")
    if path.is_file():
        return path
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    from qbtui.trainer.sd15 import configs
    from qbtui.trainer.sd15.ldm_layout import to_ldm

    def args(config: dict) -> dict:
        return {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures", "model_type")}

    torch.manual_seed(seed)
    full = configs.configs_with()
    unet = UNet2DConditionModel(**args(full["unet"])).half()
    vae = AutoencoderKL(**args(full["vae"])).half()
    text_encoder = CLIPTextModel(CLIPTextConfig(**args(full["text_encoder"]))).half()
    state_dict = to_ldm(unet.state_dict(), unet.config, vae.state_dict(), vae.config, text_encoder.state_dict())
    temporary = path.with_name(f".{path.name}.partial")
    out.mkdir(parents=True, exist_ok=True)
    save_file({key: tensor.contiguous() for key, tensor in state_dict.items()}, str(temporary))
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/full-size"))
    path = build_full_size(parser.parse_args().out)
    print(f"{path} ({path.stat().st_size / 2**30:.2f} GiB)")


if __name__ == "__main__":
    main()
