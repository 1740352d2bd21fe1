"""Dashboard benchmark: first frame, key-press latency under a streaming run, memory.

    .venv/bin/python benchmarks/bench_tui.py [--friends 50] [--images 40] [--repeats 5]

Builds a workspace of FRIENDS x IMAGES 512x512 JPEGs (captioned) in a temp folder, then:

1. First frame: a fresh `python` subprocess imports qbtui, builds the app with the
   production factory `qbtui.tui.make_app` and runs it headless; once the app is ready (the
   dashboard is mounted, its table filled from the registry: Textual starts the auto-pilot
   then) it waits for one more refresh with `call_after_refresh` (the compositor has
   painted the first full frame), prints `time.time()` and exits. The figure is that time
   minus the parent's `time.time()` just before `Popen`, so it includes interpreter start
   and every import. Dataset scans run in a worker after the frame and are not waited for.
2. Key latency: in-process, headless (`run_test`), a stand-in backend thread appends 200
   step events/s to a live run's events.jsonl while the poller follows it; each sample
   hands a Key event to the driver (as a terminal key arrives), waits until its effect is
   visible (cursor row moved on the dashboard, focus moved on the training screen) and then
   for the next refresh (`call_after_refresh`).
3. Memory: VmRSS of the first-frame subprocess at its first frame, and of the latency
   process at the end (after 2000 images were scanned and the run streamed).

Targets: first frame < 0.4 s (issue 27; it was 0.7 s), key latency < 100 ms, RSS < 150 MB. Figures are as measured on
this machine while other work shares its two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FIRST_FRAME_CHILD = """
import asyncio, os, resource, sys, time
from qbtui.tui import make_app

async def report(pilot):
    painted = asyncio.get_running_loop().create_future()
    pilot.app.call_after_refresh(painted.set_result, None)
    await painted
    rss = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    os.write(1, f"{time.time():.6f} {int(rss) / 1024:.1f} {usage.ru_utime + usage.ru_stime:.3f}\\n".encode())
    pilot.app.exit()

make_app(sys.argv[1], watch=False).run(headless=True, auto_pilot=report)
"""

REGISTRY_HEAD = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
preset = "demo"

[presets.demo]
max_train_steps = 100000
"""


def build_workspace(root: Path, friends: int, images: int) -> Path:
    """FRIENDS friends with IMAGES captioned 512x512 JPEGs each; returns registry.toml."""
    from PIL import Image, ImageDraw

    text = REGISTRY_HEAD
    for number in range(friends):
        friend_id = f"friend{number:02d}"
        text += f'\n[friends.{friend_id}]\nname = "Friend {number}"\ntoken = "qb_{friend_id}"\nrepeats = 30\n'
        folder = root / "datasets" / friend_id / f"30_{friend_id}"
        folder.mkdir(parents=True)
        for index in range(images):
            image = Image.new("RGB", (512, 512), (200, 190 + index % 50, 180))
            ImageDraw.Draw(image).ellipse((index * 9, number * 7, index * 9 + 120, number * 7 + 160), fill=(40, 60, 90))
            image.save(folder / f"img_{index:02d}.jpg", quality=70)
            (folder / f"img_{index:02d}.txt").write_text(f"qb_{friend_id} person, photo {index}\n", encoding="utf-8")
    (root / "logs").mkdir()
    registry = root / "registry.toml"
    registry.write_text(text, encoding="utf-8")
    return registry


def first_frame(registry: Path, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """Per launch: seconds to the first painted frame, RSS (MB) and CPU seconds used by then."""
    times, memory, cpu = [], [], []
    for _ in range(repeats):
        started = time.time()
        result = subprocess.run(
            [sys.executable, "-c", FIRST_FRAME_CHILD, str(registry)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"first-frame child failed:\n{result.stderr[-3000:]}")
        painted, rss, cpu_seconds = result.stdout.split()[-3:]
        times.append(float(painted) - started)
        memory.append(float(rss))
        cpu.append(float(cpu_seconds))
    return times, memory, cpu


def stream_events(run_dir: Path, per_second: int, stop: threading.Event) -> None:
    """A stand-in backend: step events at `per_second`, written in small bursts."""
    from qbtui.events import EventWriter

    step = 0
    with EventWriter(run_dir / "events.jsonl") as events, (run_dir / "output.log").open("a") as log:
        while not stop.is_set():
            burst_started = time.monotonic()
            for _ in range(per_second // 20):
                step += 1
                events.write(
                    "step",
                    step=step,
                    max_steps=100000,
                    loss=0.1 + (step % 17) / 100,
                    avg_loss=0.15,
                    lr=1e-4,
                    it_s=200.0,
                    eta_s=(100000 - step) / 200,
                )
                log.write(f"step {step} loss {0.1 + (step % 17) / 100:.4f}\n")
            log.flush()
            stop.wait(max(0.0, 0.05 - (time.monotonic() - burst_started)))


def live_run(registry: Path) -> Path:
    """A run directory whose supervisor is this process (so it counts as running)."""
    from qbtui.events import EventWriter
    from qbtui.rundir import RunDir, new_run_id, write_run_toml
    from qbtui.runs.liveness import ProcessRecord, write_pid_file

    run_id = new_run_id("friend00")
    run = RunDir(registry.parent / "logs" / "friend00" / run_id)
    run.path.mkdir(parents=True)
    write_run_toml(
        run,
        {"run_id": run_id, "friend": "friend00", "backend": "builtin", "preset": "demo", "created_at": time.time()},
        {"max_train_steps": 100000},
    )
    write_pid_file(run.supervisor_pid, ProcessRecord.of(os.getpid()))
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=os.getpid())
        events.write("start", run_id=run_id, friend="friend00", backend="builtin", max_steps=100000)
    return run.path


async def key_latency(registry: Path, presses: int) -> dict[str, list[float]]:
    """Key-press to repaint (ms) on the dashboard and the training screen while a run streams."""
    from textual import events
    from textual.widgets import DataTable

    from qbtui.tui import make_app

    run_dir = live_run(registry)
    run_id = run_dir.name
    stop = threading.Event()
    writer = threading.Thread(target=stream_events, args=(run_dir, 200, stop), daemon=True)
    app = make_app(registry, watch=False)
    samples: dict[str, list[float]] = {"dashboard": [], "training": []}
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        writer.start()
        await pilot.pause(1.0)

        async def measure(name: str, keys: tuple[str, ...], state) -> None:
            """Send keys as the terminal driver does; time until the change is painted."""
            for index in range(presses):
                before = state()
                painted = asyncio.get_running_loop().create_future()
                key = events.Key(keys[index % len(keys)], None)
                key.set_sender(app)
                started = time.perf_counter()
                app._driver.send_message(key)
                while state() == before:
                    await asyncio.sleep(0.001)
                app.call_after_refresh(lambda painted=painted: painted.done() or painted.set_result(None))
                await painted
                samples[name].append((time.perf_counter() - started) * 1000)
                await pilot.pause(0.02)

        table = app.screen.query_one(DataTable)
        if app.workspace.run(run_id) is None:
            raise SystemExit(f"the app does not see the streaming run {run_id}")
        await measure("dashboard", ("down", "up"), lambda: table.cursor_row)
        await pilot.press("t")
        await pilot.pause(0.5)
        await measure("training", ("tab", "shift+tab"), lambda: app.focused)
        stop.set()
        writer.join()
    return samples


def rss_mb() -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--friends", type=int, default=50)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--presses", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qbtui-bench-tui-") as folder:
        built = time.perf_counter()
        registry = build_workspace(Path(folder), args.friends, args.images)
        print(f"workspace: {args.friends} friends x {args.images} images built in {time.perf_counter() - built:.1f} s")
        times, memory, cpu = first_frame(registry, args.repeats)
        print(
            f"first frame (launch -> painted dashboard): median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} launches (target < 0.4 s)"
        )
        print(f"CPU time the app used until its first frame: median {statistics.median(cpu):.3f} s (user + system)")
        print(f"RSS at first frame: median {statistics.median(memory):.1f} MB (target < 150 MB)")
        samples = asyncio.run(key_latency(registry, args.presses))
        for name, values in samples.items():
            ordered = sorted(values)
            p95 = ordered[int(len(ordered) * 0.95) - 1]
            print(
                f"key -> repaint on {name} while a run streams 200 events/s: median {statistics.median(values):.1f} ms, "
                f"p95 {p95:.1f} ms, max {max(values):.1f} ms over {len(values)} presses (target < 100 ms)"
            )
        print(f"RSS after scanning {args.friends * args.images} images and streaming: {rss_mb():.1f} MB (target < 150 MB)")


if __name__ == "__main__":
    main()
