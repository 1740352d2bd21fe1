"""Starting and stopping a run's processes: the supervisor's launch, the queue's next
start, and the one SIGTERM -> grace -> SIGKILL escalation for a backend's process group.

Both sides use it: the manager (CLI and dashboard) launches supervisors and stops an
orphaned backend; the supervisor stops its own backend and starts the queue's next run.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.errors import QbtuiError
from qbtui.rundir import RunDir, read_run_toml, run_dir_for, write_run_toml
from qbtui.runs.info import BUSY_STATES, RunInfo, runs_under
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.locks import DEVICE_LOCK, RunLocks, friend_lock, holder
from qbtui.runs.placement import HERE, Decision, assign, busy_counts, places_for
from qbtui.runs.queue import RunQueue

if TYPE_CHECKING:
    from qbtui.registry import Registry

# The process that supervises a run here, or follows it on a host (named, not imported:
# qbtui.remote sits above this layer).
SUPERVISOR_MODULE = "qbtui.runs.supervisor"
FOLLOWER_MODULE = "qbtui.remote.follower"
STOP_GRACE_S = 30.0
# launch_supervisor blocks these until the supervisor's handlers are installed.
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
POLL_S = 0.1


def launch_supervisor(run: RunDir, *, resume: bool = False) -> ProcessRecord | None:
    """Start the run's supervisor (`python -m qbtui.runs.supervisor RUN_DIR`), or for a run on
    a host its follower, in its own session, and record its pid."""
    on_host = bool(read_run_toml(run)["run"].get("host"))
    module = FOLLOWER_MODULE if on_host else SUPERVISOR_MODULE
    argv = [sys.executable, "-m", module, str(run.path), *(["--resume"] if resume else [])]
    # The friend's lock and (here) the device's, taken now and held by the child for its life.
    locks = RunLocks.take(run.logs_dir, run.run_id, [friend_lock(run.friend_id)] + ([] if on_host else [DEVICE_LOCK]))
    argv += ["--hold-fds", ",".join(map(str, locks.fds))]
    # The child inherits this mask: a stop sent before the supervisor's handler exists
    # waits, pending, instead of killing it half-started.
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        with open(run.supervisor_log, "ab") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                cwd=run.path,
                close_fds=True,
                pass_fds=locks.fds,
            )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        locks.close()
    record = ProcessRecord.of(process.pid)
    if record is not None:
        write_pid_file(run.supervisor_pid, record)
    return record


def plan_queue(
    logs_dir: Path,
    host_slots: Mapping[str, int] | None = None,
    *,
    finished_run_id: str | None = None,
    runs: Iterable[RunInfo] | None = None,
) -> list[tuple[RunDir, Decision]]:
    """Each queued run, in queue order, with where it starts now or why it waits.

    `placement.assign` over the busy runs (`runs`, else listed now), this machine's device
    lock and the hosts that did not answer lately. It only reads: acting on it (as
    `start_next_queued` does) needs the queue's lock.
    """
    run_queue = RunQueue(logs_dir)
    listed = list(runs_under(logs_dir) if runs is None else runs)
    busy = busy_counts(info.where for info in listed if info.state in BUSY_STATES and info.run_id != finished_run_id)
    held_by = {info.where: pass_words(info) for info in listed if info.evaluating and info.run_id != finished_run_id}
    if holder(logs_dir, DEVICE_LOCK):
        busy[HERE] = max(busy[HERE], 1)
    queued = [run_dir_for(logs_dir, run_id) for run_id in run_queue.run_ids()]
    unplaced: dict[RunDir, Decision] = {}
    targets: dict[RunDir, str] = {}
    for run in queued:
        if not run.run_toml.is_file():
            unplaced[run] = Decision(None, "its run.toml is missing")
            continue
        try:
            targets[run] = str(read_run_toml(run)["run"].get("target") or HERE)
        except QbtuiError as error:  # a hand-edited run.toml: that run waits, the others go on
            unplaced[run] = Decision(None, f"{error.message} ({run.run_toml}): {error.fix or 'fix it'}")
    places = places_for(dict(host_slots or {}))
    decisions = assign(list(targets.values()), places, busy, unreachable=run_queue.unreachable_hosts(), held_by=held_by)
    decided = dict(zip(targets, decisions, strict=True)) | unplaced
    return [(run, decided[run]) for run in queued]


def pass_words(info: RunInfo) -> str:
    """`ada's likeness pass, about 2 min`: what a place held by a likeness pass waits for."""
    eta = info.remaining_s
    left = f"about {max(1, math.ceil(eta / 60))} min" if eta is not None else "its length not known yet"
    return f"{info.friend_id}'s likeness pass, {left}"


def start_next_queued(
    logs_dir: Path, host_slots: Mapping[str, int] | None = None, *, finished_run_id: str | None = None
) -> list[RunDir]:
    """Start every queued run that has a free place now (`plan_queue`), in queue order.

    `host_slots` are the hosts' `max_runs` by name (none: this machine only). Under the
    queue's lock, so two runs ending at once never start one queued run twice or fill a
    place beyond its slots. A run placed on a host has the host written into its run.toml;
    its follower then lays it out there (or puts it back when the host does not answer).
    """
    run_queue = RunQueue(logs_dir)
    started = []
    with run_queue.locked():
        for run, decision in plan_queue(logs_dir, host_slots, finished_run_id=finished_run_id):
            if not run.run_toml.is_file():
                run_queue.remove(run.run_id)
                continue
            if decision.place is None:
                continue
            if decision.place != HERE:
                _place_on_host(run, decision.place)
            try:
                launch_supervisor(run)
            except QbtuiError:
                continue  # its friend's lock is still held (a process of an earlier run): it waits
            # Dequeued after its supervisor's pid is recorded, so no reader sees it in between.
            run_queue.remove(run.run_id)
            started.append(run)
    return started


def queue_waits(logs_dir: Path, host_slots: Mapping[str, int], runs: Iterable[RunInfo] | None = None) -> dict[str, str]:
    """Why each queued run waits (`plan_queue`'s reason), by run id in queue order; "" for a run that has a free place."""
    return {run.run_id: decision.reason for run, decision in plan_queue(logs_dir, host_slots, runs=runs)}


def host_slots(registry: Registry) -> dict[str, int]:
    """The `max_runs` of each host of the registry, by name."""
    return {name: host.max_runs for name, host in registry.hosts.items()}


def host_slots_of(registry_path: str | Path) -> dict[str, int]:
    """The `max_runs` of each host in the registry file; none when it cannot be read."""
    from qbtui.registry import Registry

    try:
        return host_slots(Registry.load(registry_path))
    except (OSError, QbtuiError):
        return {}


def _place_on_host(run: RunDir, host: str) -> None:
    """Record in run.toml that the queued run trains on `host` (the follower does the rest)."""
    data = read_run_toml(run)
    write_run_toml(run, {**data["run"], "host": host}, data["train"])


def signal_group(pgid: int, signum: int) -> None:
    """Signal a process group; one already gone (or no longer ours) is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class GroupStop:
    """SIGTERM to a process group, then SIGKILL once `grace_s` has passed since.

    Non-blocking: call `advance()` from a poll loop until `killed` (or the group is gone).
    """

    def __init__(self, pgid: int, grace_s: float) -> None:
        self.pgid = pgid
        self.grace_s = grace_s
        self.term_sent_at: float | None = None
        self.killed = False

    def advance(self, now: float | None = None) -> None:
        """Send whichever signal is due now: SIGTERM first, SIGKILL after the grace."""
        now = time.monotonic() if now is None else now
        if self.killed:
            return
        if self.term_sent_at is None:
            signal_group(self.pgid, signal.SIGTERM)
            self.term_sent_at = now
        elif now - self.term_sent_at > self.grace_s:
            signal_group(self.pgid, signal.SIGKILL)
            self.killed = True


def stop_group(leader: ProcessRecord, grace_s: float) -> None:
    """Stop the group `leader` leads and wait until the leader is gone (SIGKILL after the grace)."""
    stop = GroupStop(leader.pid, grace_s)
    while leader.is_alive() and not stop.killed:
        stop.advance()
        time.sleep(POLL_S)
