"""The first latent pass, per photo, at full SD1.5 size: precision, memory format and batch size.

    .venv/bin/python benchmarks/encode_speed.py [--model CKPT] [--photos 8] [--repeats 2]

The VAE of the full-size single file (`full_size_model.py`, built once under `.cache/full-size/`)
encodes the photos of `full_size.py` (512 px, the size prepared datasets have) through the
trainer's own path (`TrainingData.encode_posteriors` with an empty cache, then the same
`inference_mode` encode the trainer uses), once per variant after one warm-up batch. Prints
seconds per photo, the best of `--repeats` passes, and the largest difference of the posterior
means from float32's (bf16 changes them; channels_last and batching should not). kohya's caching
pass per photo, for the same photos, is in `full_size.py`'s table (column "enc s/img").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
VARIANTS = (
    ("float32", "float32", False, 1),
    ("float32 channels_last", "float32", True, 1),
    ("bf16", "bfloat16", False, 1),
    ("bf16 channels_last", "bfloat16", True, 1),
    ("bf16 batch 4", "bfloat16", False, 4),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import full_size
    import torch

    from qbtui.trainer.data import TrainingData, find_images
    from qbtui.trainer.inputcache import InputCache, LatentKey
    from qbtui.trainer.models import load_base_model

    model = (args.model or full_size.built_model()).resolve()
    vae = load_base_model(model).vae
    with tempfile.TemporaryDirectory(prefix="qbtui-encode-") as temp:
        datasets = Path(temp) / "datasets"
        full_size.build_photos(datasets, args.photos)
        data = TrainingData(find_images(datasets / "bench", ".txt"), (512, 512), 0)
        start = time.perf_counter()
        data.pixels(list(range(len(data.images))))
        read_s = (time.perf_counter() - start) / len(data.images)
        print(f"{len(data.images)} photos, reading and cropping: {read_s:.3f} s per photo\n")
        print(f"{'variant':<24}{'s/photo':>9}{'vs float32':>12}{'max |dmean|':>13}")
        reference: list[torch.Tensor] | None = None
        baseline = None
        for name, dtype_name, channels_last, batch in VARIANTS:
            dtype = getattr(torch, dtype_name)
            vae.to(dtype=dtype, memory_format=torch.channels_last if channels_last else torch.contiguous_format)

            def encode(pixels: torch.Tensor, dtype=dtype, channels_last=channels_last) -> torch.Tensor:
                pixels = pixels.to(dtype)
                if channels_last:
                    pixels = pixels.contiguous(memory_format=torch.channels_last)
                with torch.inference_mode():
                    moments = vae.encode(pixels).latent_dist.parameters.float()
                return moments.clone()

            encode(data.pixels([0] * batch))  # warm-up: oneDNN picks its kernels
            best = float("inf")
            for repeat in range(args.repeats):
                cache = InputCache(Path(temp) / f"cache-{name}-{repeat}")  # empty: every photo encoded
                start = time.perf_counter()
                data.encode_posteriors(
                    encode, lambda photo, dtype_name=dtype_name: LatentKey(photo, "bench", 512, 512, dtype_name), cache, batch
                )
                best = min(best, (time.perf_counter() - start) / len(data.images))
            means = [posterior[:4] for posterior in data._require_posteriors()]
            if reference is None:
                reference, baseline = means, best
            drift = max(float((a - b).abs().max()) for a, b in zip(means, reference, strict=True))
            print(f"{name:<24}{best:>9.3f}{best / baseline:>11.2f}x{drift:>13.2e}", flush=True)


if __name__ == "__main__":
    main()
