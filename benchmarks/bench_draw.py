"""Drawing speed: time to the first image and images per minute through `qbtui.draw.draw` on the tiny model.

The figure includes everything a person waits for: planning, starting the worker process,
loading the model and the LoRA, then drawing. `--full` is a one-off estimate for a real SD 1.5:
a randomly initialised model at SD 1.5's full widths (so the same arithmetic as the real
weights) draws one 512x512 image at 20 steps in this process, with a LoRA fused in.

    .venv/bin/python benchmarks/bench_draw.py [--images 8] [--steps 20]
    .venv/bin/python benchmarks/bench_draw.py --full
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/tiny"
preset = "standard"
draw_steps = {steps}

[presets.standard]
max_train_steps = 10

[friends.ada]
name = "Ada"
token = "qb_ada"

[[friends.ada.trainings]]
date = "2026-12-01"
steps = 60
images = 24
lora_file = "qb_ada_lora.safetensors"
"""

LORA_SCRIPT = """
import sys, torch
from pathlib import Path
from qbtui.trainer.models import load_base_model
from qbtui.trainer.lora import LoRANetwork
from qbtui.trainer.metadata import save_lora
base = load_base_model(sys.argv[1])
network = LoRANetwork(base.unet, base.text_encoder, dim=4, alpha=4)
for lora in network.unet_loras + network.text_encoder_loras:
    torch.nn.init.normal_(lora.lora_up.weight, std=0.5)
save_lora(Path(sys.argv[2]), network.kohya_tensors(), {"ss_network_dim": "4"})
"""


def tiny_workspace(root: Path, steps: int) -> Path:
    model = root / "models" / "tiny"
    subprocess.run([sys.executable, "-m", "qbtui.trainer.tiny", str(model)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", LORA_SCRIPT, str(model), str(root / "loras" / "qb_ada_lora.safetensors")], check=True)
    (root / "registry.toml").write_text(REGISTRY.format(steps=steps), encoding="utf-8")
    return root / "registry.toml"


def bench_tiny(images: int, steps: int) -> None:
    from qbtui.draw import draw

    with tempfile.TemporaryDirectory(prefix="qbtui-bench-draw-") as folder:
        registry = tiny_workspace(Path(folder), steps)
        marks: dict[str, float] = {}
        finished: list[float] = []

        def progress(event: dict) -> None:
            if event["event"] == "loaded":
                marks["loaded"] = time.perf_counter()
            if event["event"] == "image":
                finished.append(time.perf_counter())

        started = time.perf_counter()
        draw("Ada at the beach", n=images, seed=1, registry=registry, progress=progress)
        first = finished[0] - started
        rest = (finished[-1] - finished[0]) / (len(finished) - 1) if len(finished) > 1 else float("nan")
        print(f"tiny model, {steps} steps, 64x64, one LoRA, {images} images (cpu, {os.cpu_count()} cores):")
        print(f"  time to first image {first:.2f} s (model and LoRA ready after {marks['loaded'] - started:.2f} s)")
        print(f"  then {60 / rest:.1f} images per minute ({rest:.3f} s each)")


def bench_full(steps: int) -> None:
    import torch
    from diffusers import (
        AutoencoderKL,
        DDPMScheduler,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from qbtui.trainer.lora import LoRANetwork
    from qbtui.trainer.sd15 import configs
    from qbtui.trainer.tiny import write_tiny_tokenizer

    def args(config: dict) -> dict:
        return {key: value for key, value in config.items() if not key.startswith("_")}

    built = time.perf_counter()
    full = configs.configs_with()
    unet = UNet2DConditionModel(**args(full["unet"])).eval()
    vae = AutoencoderKL(**args(full["vae"])).eval()
    text = {k: v for k, v in full["text_encoder"].items() if k not in ("architectures", "model_type")}
    text_encoder = CLIPTextModel(CLIPTextConfig(**text)).eval()
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = CLIPTokenizer.from_pretrained(write_tiny_tokenizer(Path(folder)))
    network = LoRANetwork(unet, text_encoder, dim=16, alpha=8)
    tensors = network.kohya_tensors()
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler.from_config(DDPMScheduler(**args(full["scheduler"])).config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(tensors, adapter_name="friend_0")
    pipe.set_adapters(["friend_0"], adapter_weights=[0.8])
    pipe.fuse_lora(adapter_names=["friend_0"])
    print(f"full-size SD 1.5 shapes built with a fused dim-16 LoRA in {time.perf_counter() - built:.1f} s")
    step_times: list[float] = []

    def on_step(pipeline, step, timestep, kwargs):
        step_times.append(time.perf_counter())
        print(f"  step {step + 1}/{steps} at {step_times[-1] - started:.1f} s", flush=True)
        return kwargs

    started = time.perf_counter()
    with torch.no_grad():
        pipe(
            "qb_ada person at the beach",
            negative_prompt="lowres, blurry",
            num_inference_steps=steps,
            width=512,
            height=512,
            generator=torch.Generator().manual_seed(1),
            callback_on_step_end=on_step,
        )
    total = time.perf_counter() - started
    per_step = (step_times[-1] - step_times[0]) / (len(step_times) - 1)
    print(f"one 512x512 image at {steps} steps on the CPU ({torch.get_num_threads()} threads): {total:.1f} s")
    print(f"  {per_step:.2f} s per step (UNet on a batch of 2 for CFG), {total - per_step * steps:.1f} s text encoder + VAE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--full", action="store_true", help="the one-off full-size figure instead")
    options = parser.parse_args()
    if options.full:
        bench_full(options.steps)
    else:
        bench_tiny(options.images, options.steps)


if __name__ == "__main__":
    main()
