"""SIGKILL a real prep process at random points: no photo is ever lost, a rerun finishes."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from PIL import Image

from qbtui.dataset import scan_friend
from qbtui.dataset.prep import PREP_CODES
from qbtui.registry import friend_root, originals_dir

CHILD = """
import sys
from pathlib import Path
from qbtui.registry import Friend, Settings
from qbtui.dataset import prepare_friend

root = Path(sys.argv[1])
settings = Settings(datasets_dir=root, lora_dir=root, logs_dir=root, base_model=root)
friend = Friend(id="peter", name="Peter", token="qb_peter", repeats=30)
prepare_friend(settings, friend, workers=2, progress=lambda done, total, path: print(done, flush=True))
print("finished", flush=True)
"""

PHOTOS = 16


def visible_hashes(root: Path) -> set[str]:
    return {
        hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def run_and_kill(datasets: Path, after_lines: int, delay: float) -> bool:
    """Start prep, SIGKILL it after `after_lines` progress lines and `delay`; True if it finished first."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(datasets)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    finished = False
    for _ in range(after_lines):
        line = child.stdout.readline()
        if not line or line.startswith("finished"):
            finished = True
            break
    if not finished:
        try:
            child.wait(timeout=delay)
            finished = child.returncode == 0
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    return finished


def test_sigkill_mid_prep_never_loses_a_photo(settings, friend, folder, photos):
    for index in range(PHOTOS):
        path = photos.jpeg(
            folder / f"photo_{index:02d}.jpg", seed=index, size=(1200, 900), orientation=6 if index % 3 == 0 else None
        )
        path.with_suffix(".txt").write_text(f"qb_peter person, photo {index}\n", encoding="utf-8")
    root = friend_root(settings, friend)
    originals_before = visible_hashes(root)
    rng = random.Random(4)
    kills = 0
    while kills < 6:
        if run_and_kill(settings.datasets_dir, rng.randrange(0, 4), rng.uniform(0.0, 0.08)):
            break
        kills += 1
        assert originals_before <= visible_hashes(root), f"a photo was lost after kill {kills}"
    assert kills >= 2, "the kills never landed mid-prep"
    assert run_and_kill(settings.datasets_dir, PHOTOS + 2, 60.0)
    assert originals_before <= visible_hashes(root)
    status = scan_friend(settings, friend)
    assert status.image_count == PHOTOS
    assert all(not {p.code for p in image.problems} & PREP_CODES for image in status.images)
    assert len(list(originals_dir(settings, friend).iterdir())) == PHOTOS
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]
    for image in status.images:
        with Image.open(image.path) as result:
            assert result.size == (512, 512)
        assert image.caption.startswith("qb_peter person, photo ")
