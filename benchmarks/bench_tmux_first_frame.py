"""The dashboard's first frame in a real terminal: `qbtui` launched in tmux at 80x24 until its
friends table is on the screen.

    .venv/bin/python benchmarks/bench_tmux_first_frame.py [--friends 50] [--images 40] [--repeats 9] [--realtime]

Builds the same workspace as `bench_tui.py` (FRIENDS x IMAGES captioned 512x512 JPEGs), starts
one tmux server of its own (`tmux -L qbtui-bench-<pid>`, `TERM=xterm-256color`, 80x24) and, per
launch, respawns its pane with the console script `qbtui --registry R` (what a person types:
the CLI, the registry check, the image-protocol choice, the app, Textual's terminal driver) and
reads the pane (`capture-pane`) every 10 ms until the table's header and its first friend's
row (name, Ready and Training cells) are drawn, then ends it. The figure is that moment less
the moment just before the respawn, so it includes tmux starting the process; it is at most
one poll (10 ms) late, and each poll (a tmux client) takes a little of the CPU the launch could
have used. `PYTHONPATH` is passed to the pane (to measure another checkout's `qbtui/`).
It also reads the CPU time the qbtui process had used at that moment (the sum over its live
threads, /proc/PID/task/*/schedstat): on a busy machine the wall figure waits for other work,
the CPU figure much less so (it includes up to one poll of work done after the frame).
With --realtime (root) this script, its tmux server and the launched qbtui run at real-time
priority (SCHED_FIFO 10), ahead of the machine's other work, so on a shared machine the wall
figure comes close to a quiet machine's (the other core's load still slows memory and caches).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_tui import build_workspace

POLL_S = 0.01
# Real-time (SCHED_FIFO) priority for --realtime: ahead of every ordinary process (needs root).
REALTIME_PRIORITY = 10
TIMEOUT_S = 30.0


def table_drawn(screen: str) -> bool:
    """The friends table is on the screen: its header and its first friend's row (Ready and Training filled)."""
    lines = screen.splitlines()
    header = next((index for index, line in enumerate(lines) if "Name" in line and "Ready" in line), None)
    if header is None or header + 1 >= len(lines):
        return False
    first_row = lines[header + 1]
    ready = any(cell in first_row.split() for cell in ("…", "yes", "no"))
    return "Friend 0" in first_row and ready and "not trained" in first_row


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid`'s live threads (/proc/PID/task/*/schedstat, nanoseconds on a CPU)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


class Tmux:
    """One tmux server of this benchmark's own, one 80x24 pane."""

    def __init__(self, width: int, height: int) -> None:
        self.binary = shutil.which("tmux") or sys.exit("tmux is not installed")
        self.server = f"qbtui-bench-{os.getpid()}"
        environment = {**os.environ, "TERM": "xterm-256color"}
        environment.pop("TMUX", None)
        passed = [arg for key in ("PYTHONPATH",) if key in environment for arg in ("-e", f"{key}={environment[key]}")]
        subprocess.run(
            [self.binary, "-L", self.server, "-f", os.devnull, "new-session", "-d", "-s", "bench",
             "-x", str(width), "-y", str(height), "-e", "TERM=xterm-256color", *passed, "--", "sleep", "100000"],
            env=environment, check=True,
        )  # fmt: skip
        self.run("set-option", "-t", "bench", "remain-on-exit", "on")
        self.run("set-option", "-t", "bench", "window-size", "manual")
        self.run("resize-window", "-t", "bench", "-x", str(width), "-y", str(height))

    def run(self, *args: str) -> str:
        return subprocess.run([self.binary, "-L", self.server, *args], capture_output=True, text=True, check=True).stdout

    def launch(self, argv: list[str]) -> tuple[float, float]:
        """Seconds from respawning the pane with `argv` until the friends table is drawn, and
        the CPU seconds the launched process had used when that was seen."""
        started = time.time()
        self.run("respawn-pane", "-k", "-t", "bench:0.0", "--", *argv)
        pid = int(self.run("display-message", "-p", "-t", "bench:0.0", "#{pane_pid}"))
        deadline = time.monotonic() + TIMEOUT_S
        while not table_drawn(self.run("capture-pane", "-p", "-t", "bench:0.0")):
            if time.monotonic() > deadline:
                raise SystemExit("the table was not drawn in 30 s:\n" + self.run("capture-pane", "-p", "-t", "bench:0.0"))
            time.sleep(POLL_S)
        drawn, used = time.time() - started, cpu_seconds(pid)
        self.run("respawn-pane", "-k", "-t", "bench:0.0", "--", "sleep", "100000")
        return drawn, used

    def close(self) -> None:
        subprocess.run([self.binary, "-L", self.server, "kill-server"], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--friends", type=int, default=50)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run the launched qbtui and tmux at real-time priority (root): a busy machine then approximates a quiet one",
    )
    parser.add_argument("--qbtui", default=str(Path(sys.executable).with_name("qbtui")), help="the console script")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="qbtui-bench-tmux-") as folder:
        registry = build_workspace(Path(folder), args.friends, args.images)
        if args.realtime:
            # Inherited by the tmux server this starts and by every process in its pane.
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        terminal = Tmux(80, 24)
        try:
            launches = [terminal.launch([args.qbtui, "--registry", str(registry)]) for _ in range(args.repeats)]
        finally:
            terminal.close()
    times, cpu = [wall for wall, _ in launches], [used for _, used in launches]
    print(f"load average (1 min) at the start: {load:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"first frame in tmux 80x24 (launch -> friends table drawn): median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} launches (target < 0.4 s)"
    )
    print(
        f"CPU time of the qbtui process when its table was seen: median {statistics.median(cpu):.3f} s, "
        f"min {min(cpu):.3f} s, max {max(cpu):.3f} s"
    )
    print("each (wall/CPU): " + " ".join(f"{wall:.3f}/{used:.3f}" for wall, used in launches))


if __name__ == "__main__":
    main()
