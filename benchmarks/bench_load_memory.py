"""Peak memory while loading the base model: qbtui's loader against a plain diffusers load.

    .venv/bin/python benchmarks/bench_load_memory.py [--threads 1]

Builds the SD1.5-shaped model of `train_throughput.py` (every SD1.5 module, UNet/VAE widths
64-128-256-256, a 12-layer CLIP text encoder of width 64; random weights, offline tokenizer)
as a diffusers folder, and the same weights as one A1111-layout .safetensors file. Each load
runs alone in a fresh subprocess, so its peak RSS (`resource.getrusage` ru_maxrss) is its own:

- plain diffusers: `from_pretrained` of the UNet, VAE and CLIP text encoder from the folder
- qbtui folder / qbtui single file: `qbtui.trainer.models.load_base_model` on each layout

Each is measured right after loading and again after reading every weight once (as the first
training step does).

"baseline" is the same subprocess importing torch, diffusers and transformers and loading
nothing; "added" is the peak minus that baseline. The model is built in a subprocess too: Linux
carries the peak RSS of the process that spawns a child into the child's ru_maxrss, so this
parent never imports torch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from train_throughput import build_model

CONTENDERS = ("baseline", "plain diffusers", "qbtui folder", "qbtui single file")
SINGLE_FILE_NAME = "sd15-shaped.safetensors"


def write_single_file(folder: Path) -> Path:
    """The folder's weights as one A1111-layout .safetensors file inside it (beside its tokenizer/)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel

    from qbtui.trainer.sd15.ldm_layout import to_ldm

    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder")
    state_dict = to_ldm(unet.state_dict(), unet.config, vae.state_dict(), vae.config, text_encoder.state_dict())
    path = folder / SINGLE_FILE_NAME
    save_file({key: tensor.contiguous() for key, tensor in state_dict.items()}, str(path))
    return path


def load(contender: str, model: Path) -> list:
    """Load the model the contender's way (all heavy imports happen for every contender); its modules."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    from qbtui.trainer.models import load_base_model

    if contender == "plain diffusers":
        return [
            UNet2DConditionModel.from_pretrained(model, subfolder="unet"),
            AutoencoderKL.from_pretrained(model, subfolder="vae"),
            CLIPTextModel.from_pretrained(model, subfolder="text_encoder"),
        ]
    if contender == "baseline":
        return []
    base = load_base_model(model if contender == "qbtui folder" else model / SINGLE_FILE_NAME)
    return [base.unet, base.vae, base.text_encoder]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(contender: str, model: Path, threads: int) -> None:
    """Run one load and print its peak RSS in MiB as JSON, then again after reading every weight once."""
    import torch

    torch.set_num_threads(threads)
    modules = load(contender, model)
    loaded = peak_mib()
    with torch.no_grad():
        for module in modules:
            for tensor in module.state_dict().values():
                tensor.sum()
    print(json.dumps({"loaded": loaded, "used": peak_mib()}))


def measure(contender: str, model: Path, threads: int) -> dict:
    command = [sys.executable, __file__, "--child", contender, "--model", str(model), "--threads", str(threads)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"{contender} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def weights_mib(model: Path) -> float:
    files = [*model.glob("*/*.safetensors")]
    return sum(path.stat().st_size for path in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.model), args.threads)
        return
    if args.build:
        write_single_file(build_model(Path(args.model), 128))
        return
    os.environ["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory(prefix="qbtui-bench-load-") as temp:
        model = Path(temp) / "model"
        subprocess.run([sys.executable, __file__, "--build", "--model", str(model)], check=True)
        single = model / SINGLE_FILE_NAME
        print(
            f"SD1.5-shaped model: {weights_mib(model):.0f} MiB of weights in the diffusers folder, "
            f"{single.stat().st_size / 2**20:.0f} MiB as one file"
        )
        print("(one run each, in fresh subprocesses, on a CPU shared with other jobs: figures are as measured)\n")
        peaks = {contender: measure(contender, model, args.threads) for contender in CONTENDERS}
    baseline = peaks["baseline"]["loaded"]
    print(f"{'load':<20}{'peak MiB':>10}{'added MiB':>11}{'vs plain':>10}{'after using every weight':>27}")
    for contender, peak in peaks.items():
        added = peak["loaded"] - baseline
        ratio = "" if contender == "baseline" else f"{added / (peaks['plain diffusers']['loaded'] - baseline):.2f}x"
        print(f"{contender:<20}{peak['loaded']:>10.0f}{added:>11.0f}{ratio:>10}{peak['used']:>17.0f} MiB peak")
    print("\nA plain diffusers load maps the files and reads no page yet: its weights join its resident memory")
    print("(as file pages) the first time a forward pass reads them, which the last column shows.")


if __name__ == "__main__":
    main()
