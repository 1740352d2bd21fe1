"""Prep vs the guide: 40 iPhone-size photos (4032x3024 JPEG, every third one stored
sideways with EXIF Orientation=6), qbtui prep against the guide's two ImageMagick 6
commands on copies of the same files, in one run on the same machine.

Target (issue 4): at least 5x faster, with orientation right.
Run: .venv/bin/python benchmarks/bench_prep.py   (installs imagemagick with apt if absent and root)
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from qbtui.dataset import prepare_friend
from qbtui.registry import Friend, Settings, dataset_dir

WIDTH, HEIGHT = 4032, 3024
RED, BLUE = (220, 40, 40), (40, 40, 220)


def ensure_mogrify() -> str:
    found = shutil.which("mogrify")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("ImageMagick is missing: sudo apt-get install -y imagemagick")
    subprocess.run(["apt-get", "install", "-y", "imagemagick"], check=True)
    return shutil.which("mogrify") or sys.exit("apt-get did not install mogrify")


def photo(rotated: bool) -> Image.Image:
    """A textured photo whose upright view has a red top band and a blue bottom band;
    `rotated` ones are stored sideways, as a phone held upright stores them."""
    width, height = (HEIGHT, WIDTH) if rotated else (WIDTH, HEIGHT)
    coarse = Image.merge("RGB", [Image.effect_noise((width // 8, height // 8), 60) for _ in range(3)])
    grain = Image.merge("RGB", [Image.effect_noise((width // 4, height // 4), 30) for _ in range(3)])
    image = Image.blend(
        coarse.resize((width, height), Image.Resampling.BICUBIC), grain.resize((width, height), Image.Resampling.NEAREST), 0.3
    )
    band = height // 5
    image.paste(Image.blend(image.crop((0, 0, width, band)), Image.new("RGB", (width, band), RED), 0.8), (0, 0))
    image.paste(
        Image.blend(image.crop((0, height - band, width, height)), Image.new("RGB", (width, band), BLUE), 0.8), (0, height - band)
    )
    return image.transpose(Image.Transpose.ROTATE_90) if rotated else image


def build_originals(folder: Path, count: int, distinct: int = 6) -> None:
    """`count` photos made of `distinct` encoded variants (every third one rotated)."""
    folder.mkdir(parents=True)
    encoded: dict[int, bytes] = {}
    for index in range(count):
        rotated = index % 3 == 0
        variant = (index % distinct) * 2 + rotated
        if variant not in encoded:
            out = io.BytesIO()
            options = {}
            if rotated:
                exif = Image.Exif()
                exif[0x0112] = 6
                options["exif"] = exif
            photo(rotated).save(out, "JPEG", quality=92, **options)
            encoded[variant] = out.getvalue()
        (folder / f"IMG_{index:04d}.jpg").write_bytes(encoded[variant])


def upright(path: Path) -> bool:
    """Red band above blue band along the vertical centre line, as the photo was taken."""
    with Image.open(path) as opened:
        result = opened.convert("RGB")
        column = [result.getpixel((result.width // 2, y)) for y in range(result.height)]
    photo_rows = [pixel for pixel in column if not all(channel > 235 for channel in pixel)]
    if len(photo_rows) < 20:
        return False
    top, bottom = photo_rows[5], photo_rows[-6]
    return top[0] > top[2] + 60 and bottom[2] > bottom[0] + 60


def run_guide(folder: Path, mogrify: str) -> float:
    start = time.perf_counter()
    inputs = sorted(glob.glob(str(folder / "*.jpg")))
    subprocess.run([mogrify, "-format", "jpg", *inputs], check=True)
    inputs = sorted(glob.glob(str(folder / "*.jpg")))
    subprocess.run(
        [
            mogrify,
            "-strip",
            "-resize",
            "x512>",
            "-background",
            "white",
            "-gravity",
            "center",
            "-extent",
            "512x512",
            "-format",
            "jpg",
            *inputs,
        ],
        check=True,
    )
    return time.perf_counter() - start


def run_qbtui(root: Path, source: Path, workers: int) -> tuple[float, Path]:
    settings = Settings(datasets_dir=root / "datasets", lora_dir=root, logs_dir=root, base_model=root)
    friend = Friend(id="bench", name="Bench", token="qb_bench")
    folder = dataset_dir(settings, friend)
    shutil.copytree(source, folder)
    start = time.perf_counter()
    report = prepare_friend(settings, friend, workers=workers)
    elapsed = time.perf_counter() - start
    assert len(report.done) == len(list(source.iterdir())), report.skipped
    return elapsed, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    mogrify = ensure_mogrify()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        originals = root / "originals"
        print(f"building {args.photos} photos of {WIDTH}x{HEIGHT} (every third with EXIF Orientation=6)...", flush=True)
        build_originals(originals, args.photos)
        size_mb = sum(path.stat().st_size for path in originals.iterdir()) / 1e6
        guide_folder = root / "guide"
        shutil.copytree(originals, guide_folder)
        guide_seconds = run_guide(guide_folder, mogrify)
        qbtui_seconds, qbtui_folder = run_qbtui(root / "qbtui", originals, args.workers)
        guide_ok = sum(upright(path) for path in guide_folder.glob("*.jpg"))
        qbtui_ok = sum(upright(path) for path in qbtui_folder.glob("*.jpg"))
        version = subprocess.run([mogrify, "-version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    print(f"prep {args.photos} photos ({size_mb:.0f} MB), same files, same run:")
    print(f"  guide (2x mogrify; {version}): {guide_seconds:6.2f} s   upright {guide_ok}/{args.photos}")
    print(f"  qbtui prep (workers={args.workers}):        {qbtui_seconds:6.2f} s   upright {qbtui_ok}/{args.photos}")
    print(f"  speed-up: {guide_seconds / qbtui_seconds:.1f}x  (target >= 5x, orientation right)")
    print("  (measured on a machine shared with other jobs; both sides under the same load)")


if __name__ == "__main__":
    main()
