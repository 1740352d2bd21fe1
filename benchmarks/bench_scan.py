"""Scan speed: 50 friends x 40 captioned 512x512 JPEGs, cold (empty ScanCache) and warm.

Targets (issue 4): cold < 0.5 s, warm < 0.05 s. Run: .venv/bin/python benchmarks/bench_scan.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from qbtui.dataset import ScanCache, scan_friend
from qbtui.registry import Friend, Settings, dataset_dir


def photo(seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (512, 512), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(10):
        x, y = rng.randrange(512), rng.randrange(512)
        draw.ellipse(
            (x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300)), fill=tuple(rng.randrange(256) for _ in range(3))
        )
    return image


def build(root: Path, friends: int, images: int) -> tuple[Settings, list[Friend]]:
    settings = Settings(datasets_dir=root / "datasets", lora_dir=root, logs_dir=root, base_model=root)
    people = [Friend(id=f"friend{n:02d}", name=f"Friend {n}", token=f"qb_friend{n:02d}") for n in range(friends)]
    for number, friend in enumerate(people):
        folder = dataset_dir(settings, friend)
        folder.mkdir(parents=True)
        for index in range(images):
            photo(number * 1000 + index).save(folder / f"IMG_{index:04d}.jpg", quality=92)
            (folder / f"IMG_{index:04d}.txt").write_text(f"{friend.token} person, smiling\n", encoding="utf-8")
    return settings, people


def scan_all(settings: Settings, people: list[Friend], cache: ScanCache, fingerprints: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to scan every friend once."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for friend in people:
        scan_friend(settings, friend, cache, fingerprints=fingerprints)
    return time.perf_counter() - start, time.process_time() - start_cpu


def median_pair(runs: list[tuple[float, float]]) -> str:
    wall = statistics.median(run[0] for run in runs)
    cpu = statistics.median(run[1] for run in runs)
    return f"{wall:.4f} s wall, {cpu:.4f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--friends", type=int, default=50)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5, help="cold and warm runs to take the median of")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        settings, people = build(Path(temp), args.friends, args.images)
        scan_all(settings, people, ScanCache())
        colds, quick_colds, warms = [], [], []
        for _ in range(args.repeat):
            quick_colds.append(scan_all(settings, people, ScanCache(), fingerprints=False))
            cache = ScanCache()
            colds.append(scan_all(settings, people, cache))
            warms.append(scan_all(settings, people, cache))
        total = args.friends * args.images
        print(f"scan {args.friends} friends x {args.images} images ({total} JPEGs + captions), median of {args.repeat}:")
        print(f"  cold, headers only (fingerprints=False):               {median_pair(quick_colds)}  (target < 0.5 s)")
        print(f"  cold, headers + near-duplicate fingerprints (default): {median_pair(colds)}")
        print(f"  warm (unchanged files):                                {median_pair(warms)}  (target < 0.05 s)")
        print("  (OS file cache warm in all; CPU time = this process's, a guide to an idle machine when")
        print("   the 2 shared cores are busy with other jobs; fingerprints use 2 threads, so CPU can exceed wall)")


if __name__ == "__main__":
    main()
