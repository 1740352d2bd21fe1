"""Event stream benchmark: follower lag, lost lines and supervisor CPU.

1. A stand-in backend, run by the real detached supervisor, appends step events at
   1,000 lines/s. Two followers read them as they arrive: `EventFollower.read_new()`
   polled every 50 ms in this process (what the dashboard does), and `qbtui logs RUN -f`
   in a subprocess. For each line: lag = time the follower had it - time it was written.
   Targets: median lag < 100 ms, no line lost.
2. Supervisor CPU at the guide's rate: a kohya-like stand-in redraws a tqdm bar 10 times
   a second and advances one step every 2.5 s (the guide's ~45 min for 1,200 steps);
   the supervisor copies and parses that output. Target: < 5% of one core.
3. `list_runs` (what the dashboard polls) over many finished runs: the first call and
   then each poll, which reads only new bytes.

Usage: .venv/bin/python benchmarks/bench_events.py [--seconds 5] [--cpu-seconds 15] [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

from qbtui.events import EventFollower, EventWriter, read_events
from qbtui.registry import Registry
from qbtui.rundir import new_run_id
from qbtui.runs.info import list_runs, read_run
from qbtui.runs.launch import launch_supervisor
from qbtui.runs.liveness import ProcessRecord, read_pid_file, write_pid_file
from qbtui.runs.manager import RunPlan, create_run

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
preset = "bench"

[presets.bench]
max_train_steps = 1

[friends.bench]
name = "Bench"
token = "qb_bench"
"""

EVENT_WRITER = textwrap.dedent("""
    import json, os, sys, time
    run_dir, rate, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    fd = os.open(os.path.join(run_dir, "events.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    time.sleep(2.0)  # let the followers start
    start = time.monotonic()
    for step in range(1, count + 1):
        delay = start + step / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        line = {"t": time.time(), "type": "step", "step": step, "max_steps": count, "loss": 0.1, "avg_loss": 0.1,
                "lr": 1e-4, "lr_te": 5e-5, "it_s": rate, "eta_s": (count - step) / rate}
        os.write(fd, (json.dumps(line) + "\\n").encode())
    os.write(fd, (json.dumps({"t": time.time(), "type": "done", "status": "completed", "lora_path": None}) + "\\n").encode())
""")

KOHYA_LIKE = textwrap.dedent("""
    import sys, time
    seconds, steps_per_s, redraws_per_s = float(sys.argv[1]), 1 / 2.5, 10
    start, step = time.monotonic(), 0
    print("epoch 1/1", flush=True)
    while time.monotonic() - start < seconds:
        time.sleep(1 / redraws_per_s)
        elapsed = time.monotonic() - start
        step = int(elapsed * steps_per_s)
        sys.stderr.write(f"\\rsteps:   {step * 100 // 1200}%|          | {step}/1200 [00:{int(elapsed):02d}<49:50, 2.50s/it, avr_loss=0.133]")
        sys.stderr.flush()
""")


def make_run(workspace: Path, command: Callable[[Path], list[str]], backend: str) -> Path:
    """Start a run of `command(run_path)` under the real supervisor; the run's folder."""
    registry = Registry.load(workspace / "registry.toml")
    run_id = new_run_id("bench")
    run_path = registry.settings.logs_dir / "bench" / run_id
    plan = RunPlan(
        run_id=run_id,
        friend_id="bench",
        backend=backend,
        preset="bench",
        command=command(run_path),
        train={},
        max_steps=1,
        images=0,
        fingerprint="",
        output_dir=registry.settings.lora_dir,
        output_name="qb_bench_lora",
        registry=registry.path,
    )
    run = create_run(registry.settings, plan)
    launch_supervisor(run)
    return run.path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    if Path(f"/proc/{pid}/stat").exists():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    text = subprocess.run(["ps", "-o", "time=", "-p", str(pid)], capture_output=True, text=True, check=True).stdout.strip()
    total = 0.0
    for part in text.replace("-", ":").split(":"):
        total = total * 60 + float(part)
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def follow_with_api(events_path: Path, stop: threading.Event, arrivals: dict[int, float]) -> None:
    follower = EventFollower(events_path)
    while not stop.is_set():
        for event in follower.read_new():
            if event["type"] == "step":
                arrivals[event["step"]] = time.time()
        time.sleep(0.05)


def follow_with_cli(workspace: Path, run_id: str, arrivals: dict[int, float]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "qbtui", "--registry", str(workspace / "registry.toml"), "logs", run_id, "-f"],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            parts = line.split()
            if len(parts) > 2 and parts[1] == "step":
                arrivals[int(parts[2].split("/")[0])] = time.time()

    threading.Thread(target=read, daemon=True).start()
    return process


def report(name: str, written: dict[int, float], arrivals: dict[int, float]) -> None:
    lags = [(arrivals[step] - t) * 1000 for step, t in written.items() if step in arrivals]
    lost = len(written) - len(lags)
    print(
        f"  {name:<28} seen {len(lags):>6}/{len(written)}  lost {lost}  "
        f"lag median {statistics.median(lags):6.1f} ms  p95 {percentile(lags, 0.95):6.1f} ms  max {max(lags):7.1f} ms"
    )


def bench_lag(workspace: Path, seconds: float) -> None:
    rate = 1000
    count = int(rate * seconds)
    writer = workspace / "writer.py"
    writer.write_text(EVENT_WRITER)
    run_path = make_run(workspace, lambda path: [sys.executable, str(writer), str(path), str(rate), str(count)], "builtin")
    api_arrivals: dict[int, float] = {}
    cli_arrivals: dict[int, float] = {}
    stop = threading.Event()
    api = threading.Thread(target=follow_with_api, args=(run_path / "events.jsonl", stop, api_arrivals), daemon=True)
    api.start()
    cli = follow_with_cli(workspace, run_path.name, cli_arrivals)
    while read_run(run_path).live:
        time.sleep(0.1)
    cli.wait(timeout=30)
    time.sleep(0.2)
    stop.set()
    api.join()
    written = {e["step"]: e["t"] for e in read_events(run_path / "events.jsonl") if e["type"] == "step"}
    print(f"1) {len(written)} step events written at {rate}/s by a stand-in backend under the supervisor")
    report("EventFollower (50 ms poll)", written, api_arrivals)
    report("qbtui logs -f", written, cli_arrivals)


def bench_supervisor_cpu(workspace: Path, seconds: float) -> None:
    script = workspace / "kohya_like.py"
    script.write_text(KOHYA_LIKE)
    run_path = make_run(workspace, lambda path: [sys.executable, str(script), str(seconds)], "kohya")
    supervisor = None
    while supervisor is None:
        supervisor = read_pid_file(run_path / "supervisor.pid")
        time.sleep(0.05)
    time.sleep(1.0)
    cpu_start, wall_start = cpu_seconds(supervisor.pid), time.monotonic()
    time.sleep(max(1.0, seconds - 2.0))
    used = cpu_seconds(supervisor.pid) - cpu_start
    wall = time.monotonic() - wall_start
    while read_run(run_path).live:
        time.sleep(0.1)
    steps = sum(1 for e in read_events(run_path / "events.jsonl") if e["type"] == "step")
    print(f"2) supervisor of a kohya-like backend (10 bar redraws/s, 1 step / 2.5 s, {steps} step events):")
    print(f"  CPU {used:.3f} s over {wall:.1f} s wall = {100 * used / wall:.2f}% of one core (target < 5%)")


def bench_list_runs(workspace: Path, runs: int) -> None:
    """`list_runs` over many finished runs: the first read parses everything, polls only stat."""
    registry = Registry.load(workspace / "registry.toml")
    now = time.time()
    for index in range(runs):
        run_id = new_run_id("bench", now - index)
        run = create_run(
            registry.settings,
            RunPlan(
                run_id=run_id,
                friend_id="bench",
                backend="builtin",
                preset="bench",
                command=["true"],
                train={},
                max_steps=1200,
                images=0,
                fingerprint="",
                output_dir=registry.settings.lora_dir,
                output_name="qb_bench_lora",
                registry=registry.path,
            ),
        )
        write_pid_file(run.supervisor_pid, ProcessRecord(1, "gone"))
        with EventWriter(run.events) as events:
            events.write("supervisor", state="started", pid=1)
            for step in range(1, 1201):
                events.write("step", step=step, max_steps=1200, loss=0.1, avg_loss=0.1)
            events.write("done", status="completed", lora_path=None)
            events.write("supervisor", state="backend-exited", pid=1)
    started = time.perf_counter()
    list_runs(registry.settings)
    first = time.perf_counter() - started
    polls = 20
    started = time.perf_counter()
    for _ in range(polls):
        list_runs(registry.settings)
    poll = (time.perf_counter() - started) / polls
    print(f"3) list_runs over {runs + 2} runs ({runs} finished with 1,200 step events each):")
    print(f"  first call {first * 1000:.0f} ms (parses every file), then {poll * 1000:.1f} ms per poll (new bytes only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the 1,000 lines/s stream")
    parser.add_argument("--cpu-seconds", type=float, default=15.0, help="length of the supervisor CPU measurement")
    parser.add_argument("--runs", type=int, default=200, help="finished runs for the list_runs measurement")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"qbtui event benchmark ({os.cpu_count()} CPUs, load average {load:.1f}: figures as measured on this machine)")
    with tempfile.TemporaryDirectory(prefix="qbtui-bench-") as folder:
        workspace = Path(folder)
        (workspace / "registry.toml").write_text(REGISTRY)
        bench_lag(workspace, args.seconds)
        bench_supervisor_cpu(workspace, args.cpu_seconds)
        bench_list_runs(workspace, args.runs)


if __name__ == "__main__":
    main()
