"""qbtui's fast and standard presets at full SD1.5 size on this CPU, optionally beside kohya sd-scripts.

    .venv/bin/python benchmarks/full_size.py [--model CKPT] [--warmup 2] [--steps 4] [--device cuda]
        [--kohya-scripts ~/sd-scripts --kohya-python ~/sd-train-venv/bin/python [--kohya-standard]]
        [--keep-lora DIR]

`--device cuda` trains on the GPU (`benchmarks/gpu_check.sh` runs it so): each qbtui row then also
gives the peak GPU memory (torch's allocator maximum) and the attention kernel SDPA can use at SD1.5's
shapes; kohya runs in fp16 (the guide's precision) and bf16. `--keep-lora DIR` copies the LoRA the
first fast run wrote into DIR, for the loader check.

Without `--model` it builds (once, under `.cache/full-size/`) a full-size SD1.5 single file with
random weights and a CLIP-layout tokenizer folder (`full_size_model.py`). Four captioned 512 px
photos, the guide's presets from `registry.toml`, one process per contender, one after another:

- load only: `load_base_model` of the checkpoint, the floor of any start
- qbtui fast, first run: an empty input cache (every photo encoded, the file hashed once)
- qbtui fast, second run: the same friend again, its photos' latents and captions cached
- qbtui fast, float32: the fast preset in full precision (what a CPU without native bf16 gets)
- qbtui standard: gradient checkpointing, text encoder trained (latents from the cache)
- kohya fast, with and without `--sdpa`, in full precision, and with `--sdpa` in bf16 (and standard
  with `--kohya-standard`): the command qbtui's kohya backend builds, with `--mixed_precision no` or
  `bf16` (accelerate refuses the guide's fp16 on a CPU) and a `--tokenizer_cache_dir` holding the
  same tokenizer. A contender that fails is shown as failed (the end of its log printed) and the
  others still run.

On a CPU with native bf16 (AVX512-BF16 or AMX) qbtui turns the preset's fp16 into bf16 autocast
(`devices.resolve_precision`); each row names the precision it trained in.

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
QBTUI_ENCODED = re.compile(r"latents: \d+ cached, (\d+) encoded in ([\d.]+) s")
GIB = 2**30


# ----------------------------------------------------------------------- set-up


def build_photos(datasets: Path, count: int = PHOTOS) -> None:
    """`datasets/bench/10_bench/` with `count` captioned 512 px JPEG photos (shapes on noise)."""
    import random

    from PIL import Image, ImageDraw

    folder = datasets / "bench" / "10_bench"
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for index in range(count):
        image = Image.effect_noise((512, 512), 40).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(480), rng.randrange(480)
            draw.ellipse(
                (x, y, x + rng.randrange(30, 200), y + rng.randrange(30, 200)), fill=tuple(rng.randrange(256) for _ in "rgb")
            )
        image.save(folder / f"photo_{index}.jpg", quality=92)
        (folder / f"photo_{index}.txt").write_text(f"qb_bench person, man, photo {index}\n", encoding="utf-8")


def built_model() -> Path:
    """The full-size random SD1.5 single file of `full_size_model.py` (built once under `.cache/full-size/`)."""
    built = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "full_size_model.py"), "--out", str(ROOT / ".cache" / "full-size")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Path(built.stdout.split(" (")[0]).resolve()


def child_environment(work: Path) -> dict[str, str]:
    """The contenders' environment: offline, and qbtui's caches and config inside the benchmark's folder."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "QBTUI_CACHE_DIR": str(work / "cache"), "QBTUI_CONFIG_DIR": str(work / "config")}


def bench_registry(work: Path, model: Path, scripts: Path | None, python: Path | None, sdpa: bool):
    """Settings, friend and presets of the benchmark (the presets are registry.toml's)."""
    from qbtui.registry import Friend, Registry, Settings

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
    overrides = {"mixed_precision": args.precision} if args.precision else {}
    config = TrainConfig.from_preset(
        presets[args.preset], settings, friend, max_train_steps=args.total, device=args.device, **overrides
    )
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with MarkingWriter(run_dir / "events.jsonl") as events:
        train(config, run_dir, events=events)
    if args.device == "cuda":
        marks.update(cuda_figures())
        Path(args.marks).write_text(json.dumps(marks), encoding="utf-8")


def cuda_figures() -> dict[str, float | str]:
    """The peak GPU memory of this process and the first SDPA kernel that runs at SD1.5's attention shapes."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    peak = torch.cuda.max_memory_allocated() / GIB
    query = torch.randn(2, 8, 4096, 40, device="cuda", dtype=torch.bfloat16)  # 64x64 latents, 8 heads of 40
    kernel = "none"
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH):
        try:
            with sdpa_kernel([backend]):
                torch.nn.functional.scaled_dot_product_attention(query, query, query)
        except RuntimeError:
            continue
        kernel = backend.name.lower()
        break
    return {"gpu_peak_gib": peak, "sdpa": kernel, "gpu": torch.cuda.get_device_name()}


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


class ContenderFailed(Exception):
    """A contender exited with an error: its row says so and the benchmark goes on."""


def run_contender(name: str, command: list[str], env: dict[str, str], work: Path) -> dict:
    log = work / f"{name.replace(' ', '-')}.log"
    spec = json.dumps({"command": command, "env": env, "log": str(log)})
    result = subprocess.run([sys.executable, __file__, "--watch", spec], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{name}: the watcher failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout)
    if figures["returncode"] != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        print(f"{name} failed (exit {figures['returncode']}); the end of its log:", *lines[-15:], sep="\n  ", flush=True)
        raise ContenderFailed(f"exit {figures['returncode']}: {lines[-1] if lines else 'no output'}")
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


def measure_qbtui(
    preset: str,
    run: str,
    model: Path,
    work: Path,
    env: dict[str, str],
    total: int,
    warmup: int,
    precision: str | None = None,
    device: str = "cpu",
) -> dict:
    from qbtui.events import read_events

    marks_file = work / f"{run}.marks.json"
    run_dir = work / "runs" / run
    command = [
        sys.executable, __file__, "--qbtui-child", "--preset", preset, "--model", str(model), "--work", str(work),
        "--run-dir", str(run_dir), "--marks", str(marks_file), "--total", str(total), "--device", device,
        *(["--precision", precision] if precision else []),
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
    start = next(e for e in events if e["type"] == "start")
    summary["cache"], summary["precision"] = start.get("cache", ""), start.get("mixed_precision", "")
    for key in ("gpu_peak_gib", "sdpa", "gpu"):
        if key in marks:
            summary[key] = marks[key]
    encoded = QBTUI_ENCODED.search(summary["cache"])
    if encoded and int(encoded.group(1)):
        summary["encode_s_per_photo"] = float(encoded.group(2)) / int(encoded.group(1))
    return summary


def measure_kohya(
    preset: str,
    run: str,
    args: argparse.Namespace,
    model: Path,
    work: Path,
    env: dict[str, str],
    sdpa: bool,
    precision: str = "no",
) -> dict:
    from qbtui.runs.backends.kohya import kohya_command

    settings, friend, presets = bench_registry(work, model, args.kohya_scripts, args.kohya_python, sdpa)
    argv, kohya_env = kohya_command(settings, friend, presets[preset], steps=args.warmup + args.steps)
    argv[argv.index("--mixed_precision") + 1] = precision
    tokenizers = work / "kohya-tokenizers"
    if not tokenizers.exists():
        shutil.copytree(model.parent / "tokenizer", tokenizers / KOHYA_TOKENIZER)
    argv += ["--tokenizer_cache_dir", str(tokenizers)]
    figures = run_contender(run, argv, {**env, **kohya_env}, work)
    steps: dict[int, float] = {}
    marks = {"load": figures["launched"]}
    cached_at = None
    for t, line in figures["lines"]:
        if "caching latents" in line.lower() and "encode" not in marks:
            marks["encode"] = t
        elif "encode" in marks and cached_at is None and f"{PHOTOS}/{PHOTOS} [" in line:
            cached_at = t  # the caching pass's progress bar at its end
        match = KOHYA_STEP.search(line)
        if match:
            steps.setdefault(int(match.group(1)), t)
    if 0 not in steps:
        raise ContenderFailed(f"no step lines in {work / run}.log")
    marks["first step"] = steps[0]
    if 1 in steps:
        marks["steady"] = steps[1]
    summary = summarise(figures, steps, marks, args.warmup)
    if cached_at is not None:
        summary["encode_s_per_photo"] = (cached_at - marks["encode"]) / PHOTOS
    return summary


def report(rows: dict[str, dict], load: dict, args: argparse.Namespace, model: Path) -> None:
    print(
        f"\nfull-size SD1.5 ({model.name}, {model.stat().st_size / GIB:.2f} GiB), {PHOTOS} photos at 512 px, batch 1, "
        + (f"CUDA ({gpu_name(rows)})" if args.device == "cuda" else f"CPU, {os.cpu_count()} cores")
    )
    print(f"steady s/step: median of steps {args.warmup + 1}-{args.warmup + args.steps}; one run each, one after another\n")
    print(
        f"load only (load_base_model): {load['load_s']:.1f} s to load, {load['start_s']:.1f} s from launch, peak {load['peak_gib']:.2f} GiB\n"
    )
    header = f"{'contender':<26}{'start s':>8}{'s/step':>8}{'peak GiB':>9}{'enc s/img':>10}  " + "".join(
        f"{p:>11}" for p in PHASES
    )
    print(header)
    for name, row in rows.items():
        if "failed" in row:
            print(f"{name:<26}  failed ({row['failed']})")
            continue
        phases = "".join(f"{row['phases'].get(p, float('nan')):>11.2f}" for p in PHASES)
        encode = row.get("encode_s_per_photo", float("nan"))
        print(f"{name:<26}{row['start_s']:>8.1f}{row['s_per_step']:>8.2f}{row['peak_gib']:>9.2f}{encode:>10.2f}  {phases}")
    print("(phase columns: peak RSS in GiB sampled every 0.1 s; 'peak GiB' is the kernel's maximum;")
    print(" enc s/img: the first latent pass per photo, qbtui's from its log, kohya's from its caching bar)")
    for name, row in rows.items():
        if row.get("cache") or row.get("precision"):
            print(f"  {name}: {row.get('precision', '')}; {row.get('cache', '')}")
        if "gpu_peak_gib" in row:
            print(f"  {name}: peak GPU memory {row['gpu_peak_gib']:.2f} GiB, SDPA kernel {row['sdpa']}")
    ok = {name: row for name, row in rows.items() if "failed" not in row}
    fast, second = ok.get("qbtui fast"), ok.get("qbtui fast, second run")
    if second:
        print(f"\nsecond run start / load from launch: {second['start_s'] / load['start_s']:.2f}x (target <= 1.5x)")
    if fast and second:
        print(f"fast preset peak: {fast['peak_gib']:.2f} GiB first run, {second['peak_gib']:.2f} GiB second (target <= 6.5)")
    for kohya in [name for name in ok if name.startswith("kohya fast")]:
        other = ok[kohya]
        for mine in [name for name in ("qbtui fast", "qbtui fast, second run", "qbtui fast, float32") if name in ok]:
            row = ok[mine]
            print(
                f"{mine} vs {kohya}: s/step {row['s_per_step'] / other['s_per_step']:.2f}x, "
                f"peak {row['peak_gib'] / other['peak_gib']:.2f}x, start {row['start_s'] / other['start_s']:.2f}x"
                + (" (target <= 0.3x)" if mine == "qbtui fast, second run" else "")
            )


def gpu_name(rows: dict[str, dict]) -> str:
    return next((row["gpu"] for row in rows.values() if "gpu" in row), "no qbtui row reached the GPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an SD1.5 checkpoint with tokenizer/ beside it (default: build one)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="measured steps after the warm-up")
    parser.add_argument("--kohya-scripts", type=Path, help="an sd-scripts checkout")
    parser.add_argument("--kohya-python", type=Path, help="the python of sd-scripts' venv (its accelerate beside it)")
    parser.add_argument("--kohya-standard", action="store_true", help="also run kohya's standard preset (with --sdpa)")
    parser.add_argument("--skip-qbtui-standard", action="store_true")
    parser.add_argument("--skip-float32", action="store_true", help="skip the fast preset in full precision")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where qbtui trains (default: cpu)")
    parser.add_argument("--keep-lora", type=Path, help="copy the LoRA of the first fast run into this folder")
    parser.add_argument("--qbtui-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--watch", help=argparse.SUPPRESS)
    for hidden in ("--preset", "--work", "--run-dir", "--marks", "--precision"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        watch_child(args)
        return
    if args.qbtui_child:
        qbtui_child(args)
        return
    model = (args.model or built_model()).resolve()
    total = args.warmup + args.steps
    with tempfile.TemporaryDirectory(prefix="qbtui-full-size-") as temp:
        work = Path(temp)
        build_photos(work / "datasets")
        env = child_environment(work)
        load = measure_qbtui("load", "load", model, work, env, total, args.warmup)
        print(f"measured load only: {load}", flush=True)
        rows: dict[str, dict] = {}
        plan: list[tuple[str, str, str | None]] = [("qbtui fast", "fast", None), ("qbtui fast, second run", "fast", None)]
        if not args.skip_float32:
            plan.append(("qbtui fast, float32", "fast", "no"))
        if not args.skip_qbtui_standard:
            plan.append(("qbtui standard", "standard", None))
        for name, preset, precision in plan:
            run = name.replace(" ", "-").replace(",", "")
            try:
                rows[name] = measure_qbtui(preset, run, model, work, env, total, args.warmup, precision, args.device)
            except ContenderFailed as failure:
                rows[name] = {"failed": str(failure)}
            if args.keep_lora and name == "qbtui fast" and "failed" not in rows[name]:
                args.keep_lora.mkdir(parents=True, exist_ok=True)
                for lora in (work / "lora").glob("*.safetensors"):
                    shutil.copy2(lora, args.keep_lora / lora.name)
            print(f"measured {name}: {rows[name]}", flush=True)
        if args.kohya_scripts and args.kohya_python:
            kohya_plan = [
                ("kohya fast --sdpa", "fast", True, "no"),
                ("kohya fast", "fast", False, "no"),
                ("kohya fast --sdpa bf16", "fast", True, "bf16"),
            ]
            if args.device == "cuda":  # on a GPU the guide's own fp16 runs
                kohya_plan = [("kohya fast --sdpa fp16", "fast", True, "fp16"), kohya_plan[2]]
            if args.kohya_standard:
                kohya_plan.append(("kohya standard --sdpa", "standard", True, "no"))
            for name, preset, sdpa, precision in kohya_plan:
                try:
                    rows[name] = measure_kohya(preset, name.replace(" ", "-"), args, model, work, env, sdpa, precision)
                    rows[name]["precision"] = precision
                except ContenderFailed as failure:
                    rows[name] = {"failed": str(failure)}
                print(f"measured {name}: {rows[name]}", flush=True)
        report(rows, load, args, model)


if __name__ == "__main__":
    main()
