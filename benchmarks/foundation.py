"""Foundation timings: registry load and locked edits, prompt conversion, demo build.

    .venv/bin/python benchmarks/foundation.py [--with-model]

Prints one figure a line, for a realistic registry (10 friends, 3 trainings each) and a
large one (100 friends, 10 trainings each). Targets: loading the realistic one well under
100 ms (the dashboard reloads on every external edit) and a locked edit of it in about
100 ms; the demo's photos in a few seconds (the tiny model adds its own subprocess time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from qbtui.demo import build_demo
from qbtui.prompt import build_prompt
from qbtui.registry import Registry, Training

REPO_REGISTRY = Path(__file__).resolve().parents[1] / "registry.toml"
SIZES = ((10, 3), (100, 10))


def sized_registry(folder: Path, friends: int, trainings_each: int) -> Path:
    """The repository's registry plus `friends` friends with `trainings_each` trainings each."""
    parts = [REPO_REGISTRY.read_text(encoding="utf-8")]
    for index in range(friends):
        parts.append(f'\n[friends.f{index}]  # friend {index}\nname = "F{index}"\ntoken = "qb_f{index}"\nrepeats = 30\n')
        for run in range(trainings_each):
            parts.append(
                f'\n[[friends.f{index}.trainings]]\ndate = "2026-01-{run + 1:02d}"\nsteps = 60\nimages = 24\nrun_id = "r{index}-{run}"\n'
            )
    path = folder / f"registry-{friends}.toml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def timed_ms(action, repeat: int) -> tuple[float, float]:
    """Median and worst wall time of `action` over `repeat` calls, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-model", action="store_true", help="also time the demo with its tiny model (a torch subprocess)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for friends, trainings_each in SIZES:
            path = sized_registry(folder, friends, trainings_each)
            label = f"{friends} friends x {trainings_each} trainings ({path.stat().st_size / 1024:.0f} KiB)"
            median, worst = timed_ms(lambda path=path: Registry.load(path), 20)
            print(f"registry load, {label}: median {median:.1f} ms, worst {worst:.1f} ms")
            registry = Registry.load(path)
            names = iter(f"Extra{index}" for index in range(1000))
            median, worst = timed_ms(lambda registry=registry, names=names: registry.add_friend(next(names)), 10)
            print(f"add_friend (lock, re-read, validate, atomic save), {label}: median {median:.1f} ms, worst {worst:.1f} ms")
            runs = iter(range(1000))
            median, worst = timed_ms(
                lambda registry=registry, runs=runs: registry.record_training(
                    "f0", Training("2026-02-01", 60, 24, run_id=f"x{next(runs)}")
                ),
                10,
            )
            print(f"record_training, {label}: median {median:.1f} ms, worst {worst:.1f} ms")
        scene = "F1 and F50 read to F99's cat under a tree while Peter paints"
        median, worst = timed_ms(
            lambda: build_prompt(scene, registry.friends, style_suffix=registry.settings.style_suffix, weight=0.8), 50
        )
        print(f"build_prompt over {len(registry.friends)} friends: median {median:.2f} ms, worst {worst:.2f} ms")
        start = time.perf_counter()
        build_demo(folder / "demo-photos", with_model=False)
        print(f"demo workspace without the model: {time.perf_counter() - start:.2f} s")
        if args.with_model:
            start = time.perf_counter()
            build_demo(folder / "demo-full")
            print(f"demo workspace with the tiny model: {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
