"""The GPU proof's last two parts: a LoRA trained on the GPU loads in diffusers, and qbtui draws with it.

    python benchmarks/gpu_proof.py --model CKPT --lora-dir DIR [--steps 20] [--size 512x512]

`--model` is the full-size single file `full_size_model.py` built (its `tokenizer/` beside it);
`--lora-dir` holds the `qb_bench_lora.safetensors` that `full_size.py --keep-lora DIR` kept.

1. Loader check (as `tests/trainer/test_lora.py` does on the tiny model): every LoRA module in the
   file becomes a peft LoRA layer in diffusers' `load_lora_weights`, and the UNet's output changes.
2. One drawing through `qbtui.draw.draw` (the worker process picks the device and dtype, as
   `qbtui draw` does): time to the image, seconds per step, the device it drew on.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FRIEND = "bench"
LORA_NAME = "qb_bench_lora.safetensors"
REGISTRY = """\
[settings]
datasets_dir = "{work}/datasets"
lora_dir = "{loras}"
logs_dir = "{work}/logs"
base_model = "{model}"
draw_steps = {steps}

[presets.standard]
max_train_steps = 10

[friends.bench]
name = "Bench"
token = "qb_bench"

[[friends.bench.trainings]]
date = "2026-12-06"
steps = 6
images = 4
lora_file = "{lora}"
"""


def lora_modules(path: Path) -> dict[str, int]:
    """How many LoRA modules the kohya file holds, by part (unet, text encoder)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        downs = [key for key in handle.keys() if key.endswith(".lora_down.weight")]  # noqa: SIM118
    return {
        "unet": sum(key.startswith("lora_unet_") for key in downs),
        "text_encoder": sum(key.startswith("lora_te") for key in downs),
    }


def loader_check(model: Path, lora: Path) -> bool:
    """Load the LoRA into a diffusers pipeline on the GPU; True when every module is adapted and it acts."""
    import torch
    from diffusers import StableDiffusionPipeline
    from peft.tuners.lora import LoraLayer

    from qbtui.trainer.models import load_base_model

    device = "cuda" if torch.cuda.is_available() else "cpu"
    base = load_base_model(model, device=device, dtype=torch.float16 if device == "cuda" else torch.float32)
    pipe = StableDiffusionPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=base.unet,
        scheduler=base.noise_scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    sample = torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(0)).to(device, base.unet.dtype)
    tokens = base.tokenizer(["qb_bench person"], padding="max_length", max_length=77, return_tensors="pt").input_ids

    def unet_output() -> torch.Tensor:
        with torch.no_grad():
            hidden = base.text_encoder(tokens.to(device))[0]
            return base.unet(sample, 500, hidden).sample.float()

    before = unet_output()
    pipe.load_lora_weights(str(lora), adapter_name="friend")
    adapted = {
        "unet": sum(isinstance(module, LoraLayer) for module in pipe.unet.modules()),
        "text_encoder": sum(isinstance(module, LoraLayer) for module in pipe.text_encoder.modules()),
    }
    expected = lora_modules(lora)
    changed = not torch.allclose(unet_output(), before)
    ok = adapted == expected and changed
    print(
        f"loader check ({device}): file modules {expected}, diffusers adapted {adapted}, output changed: {changed}: {'ok' if ok else 'FAILED'}"
    )
    return ok


def draw_check(model: Path, loras: Path, steps: int, size: str) -> bool:
    """One drawing of the bench friend through qbtui's own draw path; prints device and timings."""
    from qbtui.draw import draw

    with tempfile.TemporaryDirectory(prefix="qbtui-gpu-draw-") as folder:
        work = Path(folder)
        registry = work / "registry.toml"
        registry.write_text(
            REGISTRY.format(work=work, loras=loras.resolve(), model=model.resolve(), steps=steps, lora=LORA_NAME),
            encoding="utf-8",
        )
        marks: dict[str, float] = {}
        steps_done: list[float] = []
        device: list[str] = []

        def progress(event: dict) -> None:
            if event["event"] == "loaded":
                marks["loaded"] = time.perf_counter()
                device.append(str(event.get("device", "?")))
            elif event["event"] == "step":
                steps_done.append(time.perf_counter())
            elif event["event"] == "image":
                marks["image"] = time.perf_counter()

        started = time.perf_counter()
        paths = draw(
            "Bench at the beach", n=1, seed=1, steps=steps, size=size, out_dir=work / "out", registry=registry, progress=progress
        )
        if not paths or "image" not in marks:
            print("draw check: no image came back: FAILED")
            return False
        drawing = marks["image"] - marks["loaded"]
        per_step = (steps_done[-1] - steps_done[0]) / (len(steps_done) - 1) if len(steps_done) > 1 else drawing / steps
        print(
            f"draw check: one {size} image at {steps} steps on {device[0] if device else '?'}: "
            f"{marks['image'] - started:.1f} s from the call (model and LoRA loaded after {marks['loaded'] - started:.1f} s), "
            f"{drawing:.2f} s drawing, {per_step:.3f} s per step: ok"
        )
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--lora-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", default="512x512")
    options = parser.parse_args()
    lora = options.lora_dir / LORA_NAME
    if not lora.is_file():
        raise SystemExit(f"gpu_proof: no {lora} (fix: run full_size.py with --keep-lora {options.lora_dir})")
    loaded = loader_check(options.model, lora)
    drawn = draw_check(options.model, options.lora_dir, options.steps, options.size)
    raise SystemExit(0 if loaded and drawn else 1)


if __name__ == "__main__":
    main()
