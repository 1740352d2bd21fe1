"""Peak memory of `qbtui check` on a training folder holding a decompression bomb, cold face cache (issue 24.4).

    .venv/bin/python benchmarks/bench_bomb_memory.py

Twenty captioned photos and one 13000x13000 PNG in a friend's training folder, an empty face cache:
`qbtui check` in a subprocess, and the largest resident size of it and its face workers
(`RUSAGE_CHILDREN`). docs/SAFETY.md promises under 400 MB: the bomb is read from its header only
and never given to the face analysis.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/none"
preset = "standard"

[presets.standard]

[friends.peter]
name = "Peter"
token = "qb_peter"
"""


def main() -> None:
    from tests.dataset.conftest import save_jpeg
    from tests.dataset.test_folder_safety import write_huge_png

    root = Path(tempfile.mkdtemp(prefix="qbtui-bomb-"))
    try:
        folder = root / "datasets" / "peter" / "30_peter"
        folder.mkdir(parents=True)
        for index in range(20):
            save_jpeg(folder / f"img_{index:03d}.jpg", seed=index)
            (folder / f"img_{index:03d}.txt").write_text("qb_peter person\n", encoding="utf-8")
        write_huge_png(folder / "huge.png")
        (folder / "huge.txt").write_text("qb_peter person\n", encoding="utf-8")
        (root / "registry.toml").write_text(REGISTRY, encoding="utf-8")
        env = {**os.environ, "QBTUI_CACHE_DIR": str(root / "cache"), "QBTUI_CONFIG_DIR": str(root / "config")}
        command = [sys.executable, "-m", "qbtui", "--registry", str(root / "registry.toml"), "check"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        bomb = "decompression-bomb" in result.stdout
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"qbtui check, 20 photos + a 13000x13000 PNG, cold face cache: exit {result.returncode}, bomb reported: {bomb}")
        print(f"  peak RSS of check and its face workers: {peak_mb:.0f} MB (target < 400 MB)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
