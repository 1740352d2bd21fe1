"""qbtui's fast and standard presets at full SD1.5 size on this CPU, optionally beside kohya sd-scripts.

    .venv/bin/python benchmarks/full_size.py [--model CKPT] [--warmup 2] [--steps 4]
        [--kohya-scripts ~/sd-scripts --kohya-python ~/sd-train-venv/bin/python [--kohya-standard]]

Without `--model` it builds (once, under `.cache/full-size/`) a full-size SD1.5 single file with
random weights and a CLIP-layout tokenizer folder (`full_size_model.py`). Four captioned 512 px
photos, the guide's presets from `registry.toml`, one process per contender, one after another:

- load only: `load_base_model` of the checkpoint, the floor of any start
- qbtui fast, first run: an empty input cache (every photo encoded, the file hashed once)
- qbtui fast, second run: the same friend again, its photos' latents and captions cached
- qbtui standard: gradient checkpointing, text encoder trained (latents from the cache)
- kohya fast, without and with `--sdpa` (and standard with `--kohya-standard`): the command qbtui's
  kohya backend builds, with `--mixed_precision no` (accelerate refuses fp16 on a CPU; qbtui falls
  back to no as well) and a `--tokenizer_cache_dir` holding the same tokenizer

Figures: start to first step (launch until the step loop begins), steady s/step (median of the
measured steps after `--warmup` steps), peak RSS of the process tree (sampled every 0.1 s, and the
kernel's exact maximum), and per phase peaks: load, encode (everything between loading and the
first step), first step, steady.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = 4
PHASES = ("load", "encode", "first step", "steady")
KOHYA_STEP = re.compile(r"steps:\s+\d+%.*?\|\s*(\d+)/(\d+)")
KOHYA_TOKENIZER = "openai_clip-vit-large-patch14"
GIB = 2**30


# ----------------------------------------------------------------------- set-up


def build_photos(datasets: Path) -> None:
    """`datasets/bench/10_bench/` with four captioned 512 px JPEG photos (shapes on noise)."""
    import random

    from PIL import Image, ImageDraw

    folder = datasets / "bench" / "10_bench"
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for index in range(PHOTOS):
        image = Image.effect_noise((512, 512), 40).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(480), rng.randrange(480)
            draw.ellipse(
                (x, y, x + rng.randrange(30, 200), y + rng.randrange(30, 200)), fill=tuple(rng.randrange(256) for _ in "rgb")
            )
        image.save(folder / f"photo_{index}.jpg", quality=92)
        (folder / f"photo_{index}.txt").write_text(f"qb_bench person, man, photo {index}\n", encoding="utf-8")


def bench_registry(work: Path, model: Path, scripts: Path | None, python: Path | None, sdpa: bool):
    """Settings, friend and presets of the benchmark (the presets are registry.toml's)."""
    from qbtui.registry import Registry
    from qbtui.registry_types import Friend, Settings

    presets = Registry.load(ROOT / "registry.toml").presets
    settings = Settings(
        datasets_dir=work / "datasets",
        lora_dir=work / "lora",
        logs_dir=work / "logs",
        base_model=model,
        kohya_scripts=scripts or Path("sd-scripts"),
        kohya_accelerate=(python.parent / "accelerate") if python else Path("accelerate"),
        kohya_sdpa=sdpa,
        eval_after_training=False,
    )
    return settings, Friend(id="bench", name="Bench", token="qb_bench", repeats=10), presets


# --------------------------------------------------------------------- children


def qbtui_child(args: argparse.Namespace) -> None:
    """Train one preset in this process, writing phase marks (unix times) to `--marks`."""
    from qbtui.events import EventWriter
    from qbtui.trainer import models
    from qbtui.trainer.config import TrainConfig
    from qbtui.trainer.loop import train

    work = Path(args.work)
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = time.time()
        Path(args.marks).write_text(json.dumps(marks), encoding="utf-8")

    if args.preset == "load":
        mark("load")
        models.load_base_model(Path(args.model))
        mark("loaded")
        return
    original = models.load_base_model

    def timed_load(*positional, **named):
        mark("load")
        base = original(*positional, **named)
        mark("encode")
        return base

    models.load_base_model = timed_load

    class MarkingWriter(EventWriter):
        def write(self, kind, **fields):
            if kind == "start":
                mark("first step")
            elif kind == "step" and fields.get("step") == 1:
                mark("steady")
            return super().write(kind, **fields)

    settings, friend, presets = bench_registry(work, Path(args.model), None, None, True)
    config = TrainConfig.from_preset(presets[args.preset], settings, friend, max_train_steps=args.total, device="cpu")
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with MarkingWriter(run_dir / "events.jsonl") as events:
        train(config, run_dir, events=events)


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def watch(command: list[str], env: dict[str, str], log: Path) -> dict:
    """Run `command`, sampling its tree's RSS and timing kohya's step lines; the raw figures."""
    samples: list[tuple[float, int]] = []
    lines: list[tuple[float, str]] = []
    launched = time.time()
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def read() -> None:
            buffer = b""
            assert process.stdout is not None
            while chunk := process.stdout.read1(65536):
                output.write(chunk)
                buffer += chunk
                *done, buffer = re.split(rb"[\r\n]", buffer)
                now = time.time()
                lines.extend((now, line.decode("utf-8", "replace")) for line in done if line.strip())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while process.poll() is None:
            samples.append((time.time(), tree_rss(process.pid)))
            time.sleep(0.1)
        reader.join()
    return {
        "returncode": process.returncode,
        "launched": launched,
        "samples": samples,
        "lines": lines,
        "maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


def watch_child(args: argparse.Namespace) -> None:
    """A light process (no torch) that runs one contender so its own maximum RSS is the contender's."""
    spec = json.loads(args.watch)
    figures = watch(spec["command"], {**os.environ, **spec["env"]}, Path(spec["log"]))
    print(json.dumps(figures))


# ------------------------------------------------------------------------ parent


def run_contender(name: str, command: list[str], env: dict[str, str], work: Path) -> dict:
    log = work / f"{name.replace(' ', '-')}.log"
    spec = json.dumps({"command": command, "env": env, "log": str(log)})
    result = subprocess.run([sys.executable, __file__, "--watch", spec], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{name}: the watcher failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout)
    if figures["returncode"] != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"{name} failed (exit {figures['returncode']}); the end of {log}:\n{tail}")
    return figures


def phase_peaks(samples: list[tuple[float, int]], marks: dict[str, float]) -> dict[str, float]:
    """The largest sampled RSS in each phase (GiB); a phase runs from its mark to the next one's."""
    bounds = sorted((t, phase) for phase, t in marks.items() if phase in PHASES)
    peaks = {}
    for i, (start, phase) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else float("inf")
        inside = [rss for t, rss in samples if start <= t < end]
        peaks[phase] = max(inside, default=0) / GIB
    return peaks


def summarise(figures: dict, step_times: dict[int, float], marks: dict[str, float], warmup: int) -> dict:
    steps = sorted(step_times)
    durations = [step_times[s] - step_times[s - 1] for s in steps if s > warmup and s - 1 in step_times]
    return {
        "start_s": marks["first step"] - figures["launched"],
        "s_per_step": statistics.median(durations) if durations else float("nan"),
        "peak_gib": figures["maxrss"] / GIB,
        "sampled_peak_gib": max((rss for _, rss in figures["samples"]), default=0) / GIB,
        "phases": phase_peaks(figures["samples"], marks),
    }


def measure_qbtui(preset: str, run: str, model: Path, work: Path, env: dict[str, str], total: int, warmup: int) -> dict:
    from qbtui.events import read_events

    marks_file = work / f"{run}.marks.json"
    run_dir = work / "runs" / run
    command = [
        sys.executable, __file__, "--qbtui-child", "--preset", preset, "--model", str(model), "--work", str(work),
        "--run-dir", str(run_dir), "--marks", str(marks_file), "--total", str(total),
    ]  # fmt: skip
    figures = run_contender(run, command, env, work)
    marks = json.loads(marks_file.read_text(encoding="utf-8"))
    if preset == "load":
        return {
            "load_s": marks["loaded"] - marks["load"],
            "start_s": marks["loaded"] - figures["launched"],
            "peak_gib": figures["maxrss"] / GIB,
        }
    events = read_events(run_dir / "events.jsonl")
    steps = {e["step"]: e["t"] for e in events if e["type"] == "step"}
    steps[0] = marks["first step"]
    summary = summarise(figures, steps, marks, warmup)
    summary["cache"] = next(e.get("cache", "") for e in events if e["type"] == "start")
    return summary


def measure_kohya(
    preset: str, run: str, args: argparse.Namespace, model: Path, work: Path, env: dict[str, str], sdpa: bool
) -> dict:
    from qbtui.runs.backends.kohya import kohya_command

    settings, friend, presets = bench_registry(work, model, args.kohya_scripts, args.kohya_python, sdpa)
    argv, kohya_env = kohya_command(settings, friend, presets[preset], steps=args.warmup + args.steps)
    argv[argv.index("--mixed_precision") + 1] = "no"
    tokenizers = work / "kohya-tokenizers"
    if not tokenizers.exists():
        shutil.copytree(model.parent / "tokenizer", tokenizers / KOHYA_TOKENIZER)
    argv += ["--tokenizer_cache_dir", str(tokenizers)]
    figures = run_contender(run, argv, {**env, **kohya_env}, work)
    steps: dict[int, float] = {}
    marks = {"load": figures["launched"]}
    for t, line in figures["lines"]:
        if "caching latents" in line.lower() and "encode" not in marks:
            marks["encode"] = t
        match = KOHYA_STEP.search(line)
        if match:
            steps.setdefault(int(match.group(1)), t)
    if 0 not in steps:
        sys.exit(f"{run}: no step lines in {work / run}.log")
    marks["first step"] = steps[0]
    if 1 in steps:
        marks["steady"] = steps[1]
    return summarise(figures, steps, marks, args.warmup)


def report(rows: dict[str, dict], load: dict, args: argparse.Namespace, model: Path) -> None:
    print(
        f"\nfull-size SD1.5 ({model.name}, {model.stat().st_size / GIB:.2f} GiB), {PHOTOS} photos at 512 px, batch 1, CPU, {os.cpu_count()} cores"
    )
    print(f"steady s/step: median of steps {args.warmup + 1}-{args.warmup + args.steps}; one run each, one after another\n")
    print(
        f"load only (load_base_model): {load['load_s']:.1f} s to load, {load['start_s']:.1f} s from launch, peak {load['peak_gib']:.2f} GiB\n"
    )
    header = f"{'contender':<28}{'start s':>9}{'s/step':>9}{'peak GiB':>10}   " + "  ".join(f"{p:>10}" for p in PHASES)
    print(header)
    for name, row in rows.items():
        phases = "  ".join(f"{row['phases'].get(p, float('nan')):>10.2f}" for p in PHASES)
        print(f"{name:<28}{row['start_s']:>9.1f}{row['s_per_step']:>9.2f}{row['peak_gib']:>10.2f}   {phases}")
    print("(phase columns: peak RSS in GiB sampled every 0.1 s; 'peak GiB' is the kernel's maximum)")
    for name, row in rows.items():
        if row.get("cache"):
            print(f"  {name}: {row['cache']}")
    fast, second = rows["qbtui fast"], rows["qbtui fast, second run"]
    print(f"\nsecond run start / load from launch: {second['start_s'] / load['start_s']:.2f}x (target <= 1.5x)")
    print(f"fast preset peak: {fast['peak_gib']:.2f} GiB first run, {second['peak_gib']:.2f} GiB second (target <= 6.5)")
    for kohya in [name for name in rows if name.startswith("kohya fast")]:
        other = rows[kohya]
        print(
            f"vs {kohya}: s/step {fast['s_per_step'] / other['s_per_step']:.2f}x (second run {second['s_per_step'] / other['s_per_step']:.2f}x), "
            f"peak {fast['peak_gib'] / other['peak_gib']:.2f}x, start {fast['start_s'] / other['start_s']:.2f}x first run, "
            f"{second['start_s'] / other['start_s']:.2f}x second run (target <= 0.3x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an SD1.5 checkpoint with tokenizer/ beside it (default: build one)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="measured steps after the warm-up")
    parser.add_argument("--kohya-scripts", type=Path, help="an sd-scripts checkout")
    parser.add_argument("--kohya-python", type=Path, help="the python of sd-scripts' venv (its accelerate beside it)")
    parser.add_argument("--kohya-standard", action="store_true", help="also run kohya's standard preset (with --sdpa)")
    parser.add_argument("--skip-qbtui-standard", action="store_true")
    parser.add_argument("--qbtui-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--watch", help=argparse.SUPPRESS)
    for hidden in ("--preset", "--work", "--run-dir", "--marks"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch_child(args)
        return
    if args.qbtui_child:
        qbtui_child(args)
        return
    if args.model is None:
        built = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "full_size_model.py"), "--out", str(ROOT / ".cache" / "full-size")],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        args.model = Path(built.stdout.split(" (")[0]).resolve()
    model = args.model.resolve()
    total = args.warmup + args.steps
    with tempfile.TemporaryDirectory(prefix="qbtui-full-size-") as temp:
        work = Path(temp)
        build_photos(work / "datasets")
        env = {"HF_HUB_OFFLINE": "1", "QBTUI_CACHE_DIR": str(work / "cache"), "QBTUI_CONFIG_DIR": str(work / "config")}
        load = measure_qbtui("load", "load", model, work, env, total, args.warmup)
        print(f"measured load only: {load}", flush=True)
        rows: dict[str, dict] = {}
        plan = [("qbtui fast", "fast"), ("qbtui fast, second run", "fast")]
        if not args.skip_qbtui_standard:
            plan.append(("qbtui standard", "standard"))
        for name, preset in plan:
            rows[name] = measure_qbtui(preset, name.replace(" ", "-").replace(",", ""), model, work, env, total, args.warmup)
            print(f"measured {name}: {rows[name]}", flush=True)
        if args.kohya_scripts and args.kohya_python:
            kohya_plan = [("kohya fast --sdpa", "fast", True), ("kohya fast", "fast", False)]
            if args.kohya_standard:
                kohya_plan.append(("kohya standard --sdpa", "standard", True))
            for name, preset, sdpa in kohya_plan:
                rows[name] = measure_kohya(preset, name.replace(" ", "-"), args, model, work, env, sdpa)
                print(f"measured {name}: {rows[name]}", flush=True)
        report(rows, load, args, model)


if __name__ == "__main__":
    main()
