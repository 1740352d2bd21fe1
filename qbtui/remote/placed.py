"""A queued run the queue placed on a host (`qbtui.runs.launch.start_next_queued`): its
follower lays it out for the host first, or, when the host does not answer, puts it back
at the head of the queue (with a warning in its log), has the queue skip that host for a
while, and lets the queue place it again (this machine, or another host)."""

from __future__ import annotations

import os
from pathlib import Path

from qbtui.errors import QbtuiError
from qbtui.events import EventWriter
from qbtui.rundir import RunDir, read_run_toml, write_run_toml
from qbtui.runs.launch import host_slots_of, start_next_queued
from qbtui.runs.queue import RunQueue


def needs_layout(run: RunDir) -> bool:
    """True for a host run the queue placed that was never laid out for its host."""
    table = read_run_toml(run)["run"]
    return bool(table.get("host")) and "remote_run_dir" not in table


def lay_out_or_put_back(run: RunDir, held_fds: list[int]) -> bool:
    """Lay the placed run out for its host; False when it went back to the queue instead."""
    from qbtui.remote.start import lay_out_placed_run

    try:
        lay_out_placed_run(run)
    except QbtuiError as error:
        put_back(run, str(error).split("\n")[0], held_fds)
        return False
    return True


def put_back(run: RunDir, detail: str, held_fds: list[int]) -> None:
    """Back to the head of the queue, the host skipped for a while; then the queue places it again."""
    data = read_run_toml(run)
    table = data["run"]
    host = str(table["host"])
    queue = RunQueue(run.logs_dir)
    with queue.locked():
        write_run_toml(run, {key: value for key, value in table.items() if key != "host"}, data["train"])
        with EventWriter(run.events) as events:
            events.write(
                "warning", message=f"could not start on host {host} ({detail}); the run waits in the queue for another place"
            )
        queue.mark_unreachable(host, detail)
        queue.put_back(run)
        run.supervisor_pid.unlink(missing_ok=True)
    for fd in held_fds:  # the friend's lock: the run's next start takes it again
        os.close(fd)
    start_next_queued(run.logs_dir, host_slots_of(Path(str(table["registry"]))))
