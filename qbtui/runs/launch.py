"""Starting and stopping a run's processes: the supervisor's launch, the queue's next
start, and the one SIGTERM -> grace -> SIGKILL escalation for a backend's process group.

Both sides use it: the manager (CLI and dashboard) launches supervisors and stops an
orphaned backend; the supervisor stops its own backend and starts the queue's next run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from qbtui.rundir import RunDir, read_run_toml, run_dir_for
from qbtui.runs.info import BUSY_STATES, runs_under
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.locks import DEVICE_LOCK, RunLocks, friend_lock, holder
from qbtui.runs.queue import RunQueue

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
    if not on_host:
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


def start_next_queued(logs_dir: Path, *, finished_run_id: str | None = None) -> RunDir | None:
    """Start the queue's next run when no other run is running; the run started, if any."""
    run_queue = RunQueue(logs_dir)
    with run_queue.locked():
        running = [i for i in runs_under(logs_dir) if i.state in BUSY_STATES and i.host is None and i.run_id != finished_run_id]
        if running or holder(logs_dir, DEVICE_LOCK):
            return None
        for run_id in run_queue.run_ids():
            run = run_dir_for(logs_dir, run_id)
            startable = run.run_toml.is_file()
            if startable:
                launch_supervisor(run)
            # Dequeued after its supervisor's pid is recorded, so no reader sees it in between.
            run_queue.remove(run_id)
            if startable:
                return run
    return None


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
