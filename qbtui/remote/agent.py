"""What runs on the host: `qbtui agent info|create|start|status|stop|tail`, JSON out.

The local qbtui calls these over SSH. They know nothing of the local registry: a run
on the host is a run directory under the host's work folder, supervised by the same
supervisor as a local run, with no registry to record into (the local follower records
the training once, locally).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from qbtui import __version__
from qbtui.errors import QbtuiError
from qbtui.rundir import RUN_ID_PATTERN, RunDir, parse_run_toml, write_run_toml
from qbtui.runs.backends.builtin import builtin_command
from qbtui.runs.liveness import read_pid_file
from qbtui.safefile import open_regular

TAIL_POLL_S = 0.2
TAIL_CHUNK = 256 * 1024
GPU_QUERY = ["nvidia-smi", "--query-gpu=index,name,memory.free,memory.total", "--format=csv,noheader,nounits"]


def work_folder(work_dir: str) -> Path:
    """The host's work folder, `~` expanded, absolute."""
    return Path(os.path.expanduser(work_dir)).absolute()


def host_info(work_dir: str) -> dict[str, Any]:
    """Version, Python, GPUs, free disk and tools of this host, for `qbtui hosts`."""
    folder = work_folder(work_dir)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    usage = shutil.disk_usage(existing)
    return {
        "version": __version__,
        "python": sys.executable,
        "work_dir": str(folder),
        "disk_free": usage.free,
        "rsync": shutil.which("rsync") is not None,
        "gpus": gpus(),
        "platform": sys.platform,
    }


def gpus() -> list[dict[str, Any]]:
    """The host's NVIDIA GPUs (index, name, free and total MiB); none without nvidia-smi."""
    if shutil.which(GPU_QUERY[0]) is None:
        return []
    try:
        done = subprocess.run(GPU_QUERY, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in done.stdout.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 4 and parts[0].isdigit():
            found.append({"index": int(parts[0]), "name": parts[1], "free_mib": _int(parts[2]), "total_mib": _int(parts[3])})
    return found


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def contained_run(work_dir: str, run_dir: str) -> RunDir:
    """The run directory, refused unless it is `<work>/logs/<friend>/<run id>`."""
    logs = work_folder(work_dir) / "logs"
    path = Path(run_dir).absolute()
    if path.parent.parent != logs or not RUN_ID_PATTERN.match(path.name) or ".." in path.parts:
        raise QbtuiError(
            f"{run_dir} is not a run folder of this host's work folder", path=logs, fix="pass <work>/logs/<friend>/<run id>"
        )
    return RunDir(path)


def create_run(work_dir: str, run_dir: str, run_toml_text: str) -> dict[str, Any]:
    """Write the run directory from the local run.toml (paths already the host's)."""
    run = contained_run(work_dir, run_dir)
    data = parse_run_toml(run_toml_text, run.run_toml)
    run_table, train_table = dict(data["run"]), dict(data["train"])
    if run_table.get("backend") != "builtin":
        raise QbtuiError(
            f"backend {run_table.get('backend')!r} cannot run on a host yet", fix="train on a host with the builtin backend"
        )
    run_table["command"] = builtin_command(run.path, int(train_table.get("num_processes", 1)))
    run_table["registry"] = ""
    run.state_dir.mkdir(parents=True, exist_ok=True)
    write_run_toml(run, run_table, train_table)
    return {"run_dir": str(run.path)}


def start(work_dir: str, run_dir: str, *, resume: bool) -> dict[str, Any]:
    """Start the run's supervisor detached on this host."""
    from qbtui.runs.launch import launch_supervisor

    run = contained_run(work_dir, run_dir)
    record = launch_supervisor(run, resume=resume)
    return {"pid": record.pid if record else None}


def supervisor_alive(run: RunDir) -> bool:
    record = read_pid_file(run.supervisor_pid)
    return record is not None and record.is_alive()


def status(work_dir: str, run_dir: str) -> dict[str, Any]:
    """Whether the run's supervisor lives and how far its events go."""
    run = contained_run(work_dir, run_dir)
    size = run.events.stat().st_size if run.events.exists() else 0
    return {"alive": supervisor_alive(run), "events_size": size, "exists": run.run_toml.is_file()}


def stop(work_dir: str, run_dir: str) -> dict[str, Any]:
    """Ask the run's supervisor to stop (it saves state and ends the run as stopped)."""
    run = contained_run(work_dir, run_dir)
    record = read_pid_file(run.supervisor_pid)
    if record is None or not record.is_alive():
        return {"signalled": False}
    os.kill(record.pid, signal.SIGTERM)
    return {"signalled": True}


def tail(work_dir: str, run_dir: str, offset: int, out: BinaryIO) -> int:
    """Write the run's events from byte `offset`, whole lines only, until its supervisor ends."""
    run = contained_run(work_dir, run_dir)
    position = offset
    while True:
        alive = supervisor_alive(run)  # checked before reading: once dead, everything is written
        data = _read_lines(run.events, position)
        if data:
            out.write(data)
            out.flush()
            position += len(data)
            continue
        if not alive:
            return 0
        time.sleep(TAIL_POLL_S)


def _read_lines(path: Path, position: int) -> bytes:
    try:
        with open_regular(path) as handle:
            handle.seek(position)
            data = handle.read(TAIL_CHUNK)
    except OSError:  # missing, or not a regular file: nothing to send
        return b""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def print_json(value: dict[str, Any]) -> int:
    print(json.dumps(value))
    return 0
