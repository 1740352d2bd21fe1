"""Stand-in for `accelerate launch train_network.py ...`: prints sd-scripts' output shapes.

tqdm progress on stderr redrawn with \r, `saving checkpoint:` on stdout followed by a
non-atomic chunked write of a safetensors file (as sd-scripts does), the final LoRA at the end.
STANDIN_MODE: "normal", "crash" (traceback at step 2), "slow-save" (each checkpoint
takes about a second to write), "no-lora" (exits 0 without writing the final LoRA). STANDIN_STEP_S: seconds per step.
STANDIN_SAMPLE=1: a sample PNG in sd-scripts' `sample/` folder before the final save.
STANDIN_HOLD=PATH: after step 2 (so step 1 is a whole progress line), wait until PATH exists (a test's gate, instead of timing).
"""

import json
import os
import sys
import time
from pathlib import Path

args = sys.argv[1:]
assert args[0] == "launch" and args[1].endswith("train_network.py"), args


def flag(name):
    return args[args.index(f"--{name}") + 1]


steps = int(flag("max_train_steps"))
every = int(flag("save_every_n_steps"))
output_dir, output_name = Path(flag("output_dir")), flag("output_name")
mode = os.environ.get("STANDIN_MODE", "normal")
delay = float(os.environ.get("STANDIN_STEP_S", "0.02"))
CHUNKS, CHUNK = 10, b"x" * 4096


def safetensors_header(name):
    """A safetensors header for one F32 tensor of the CHUNKS * CHUNK bytes that follow it."""
    tensor = {"dtype": "F32", "shape": [CHUNKS * len(CHUNK) // 4], "data_offsets": [0, CHUNKS * len(CHUNK)]}
    raw = json.dumps({"__metadata__": {"ss_output_name": name}, "lora_unet_x.lora_down.weight": tensor}).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw


def save(path):
    print(f"saving checkpoint: {path}", flush=True)
    with open(path, "wb") as handle:
        handle.write(safetensors_header(path.stem))
        for _ in range(CHUNKS):
            handle.write(CHUNK)
            handle.flush()
            if mode == "slow-save":
                time.sleep(0.1)


output_dir.mkdir(parents=True, exist_ok=True)
print("launched with", " ".join(args[2:]), flush=True)
print("epoch 1/1", flush=True)
sys.stderr.write(f"steps:   0%|          | 0/{steps} [00:00<?, ?it/s]")
for step in range(1, steps + 1):
    time.sleep(delay)
    if mode == "crash" and step == 2:
        sys.stderr.write('\nTraceback (most recent call last):\n  File "train_network.py", line 1\n')
        sys.stderr.write("RuntimeError: MPS backend out of memory\n")
        sys.exit(1)
    sys.stderr.write(
        f"\rsteps:  {100 * step // steps}%|####      | {step}/{steps} [00:0{step}<00:10, 1.50it/s, avr_loss=0.{step}]"
    )
    sys.stderr.flush()
    if step % every == 0 and step < steps:
        save(output_dir / f"{output_name}-step{step:08d}.safetensors")
    while step == 2 and os.environ.get("STANDIN_HOLD") and not Path(os.environ["STANDIN_HOLD"]).exists():
        time.sleep(0.05)
sys.stderr.write("\n")
if os.environ.get("STANDIN_SAMPLE"):
    from PIL import Image

    (output_dir / "sample").mkdir(exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(output_dir / "sample" / f"{output_name}_{steps:06d}_00_20260101000000_42.png")
if mode != "no-lora":
    save(output_dir / f"{output_name}.safetensors")
