"""The local half of a run on a host: `python -m qbtui.remote.follower RUN_DIR [--resume|--attach]`.

Started detached like the supervisor (and recorded in the run's `supervisor.pid`, so a
local run and a host run look alike to `runs`, `logs -f` and the dashboard). It copies
the friend's photos and the base model to the host, creates and starts the run there,
then mirrors the host's `events.jsonl` into the local one, line for line, from the byte
offset it has reached. When the connection drops it says "disconnected" (in
`remote.json`) and reconnects from that offset, so no event is lost or doubled. When the
host's trainer says `done`, the follower copies the LoRA files back into `lora_dir` and
records the training in the local registry once before it writes that event, then goes
on mirroring the likeness scoring live. On each `eval chosen` event after `done` (the
choice so far) it copies the host's `eval.json`, its samples and the chosen checkpoint
back (the host's paths turned into this machine's and contained) and records the choice
in the same registry row before it writes that event, as the local supervisor does. When
the host's run ends it does so once more, and only then writes the run's last events.

A stop (SIGTERM, as `qbtui stop` sends) is passed to the host's supervisor, which saves
state; the follower keeps following until the host's run has ended.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qbtui.atomicfile import write_text_atomic
from qbtui.cards import RunCards
from qbtui.errors import QbtuiError
from qbtui.events import EventFollower, EventWriter, encode_event, parse_event
from qbtui.likeness.standing import CHOSEN
from qbtui.printable import printable
from qbtui.registry import Host
from qbtui.remote.placed import lay_out_or_put_back, needs_layout
from qbtui.remote.ssh import HostUnreachable, Transport
from qbtui.remote.sync import REMOTE_RUN_TOML, pull_evaluation, pull_outputs, push_folder, push_model, replace_paths
from qbtui.rundir import RunDir, read_run_toml
from qbtui.runs.launch import host_slots_of, start_next_queued
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.record import final_step, record_or_warning
from qbtui.safefile import read_text

RECONNECT_MAX_S = 30.0
READ_TIMEOUT_S = 0.5


@dataclass
class RemoteStatus:
    """What the follower last knew: the phase, and how far the mirror has got."""

    host: str
    phase: str = "syncing"  # syncing, starting, following, disconnected, finishing, done
    detail: str = ""
    remote_offset: int = 0
    local_size: int = 0
    since: float = 0.0

    @classmethod
    def load(cls, run: RunDir, host: str) -> RemoteStatus:
        try:
            data = json.loads(read_text(run.remote_status))
            return cls(**{key: data[key] for key in asdict(cls(host)) if key in data})
        except (OSError, ValueError, TypeError):
            return cls(host)

    def save(self, run: RunDir) -> None:
        write_text_atomic(run.remote_status, json.dumps(asdict(self)))


def host_of_run(table: dict[str, Any]) -> Host:
    """The run's host, as the registry has it now (the registry path is in run.toml)."""
    from qbtui.registry import Registry

    registry = Registry.load(table["registry"])
    name = str(table["host"])
    if name not in registry.hosts:
        raise QbtuiError(
            f"host {name!r} of this run is no longer in the registry", path=registry.path, fix=f"add [hosts.{name}] back"
        )
    return registry.hosts[name]


class Follower:
    """Runs one attempt of a host run from this machine."""

    def __init__(self, run: RunDir, *, resume: bool = False, attach: bool = False):
        self.run = run
        self.resume = resume
        self.attach = attach
        self.table = read_run_toml(run)["run"]
        self.host = host_of_run(self.table)
        self.transport = Transport(self.host)
        self.status = RemoteStatus.load(run, self.host.name)
        self.stop_requested = False
        self.stop_forwarded = False
        self.held: list[bytes] = []
        self.done: dict[str, Any] | None = None
        self.mapping = {
            str(self.table["remote_run_dir"]): str(run.path),
            str(self.table["remote_lora_dir"]): str(self.table["output_dir"]),
        }

    # ------------------------------------------------------------ the attempt

    def main(self) -> int:
        record = ProcessRecord.of(os.getpid())
        assert record is not None, "this very process is running"
        write_pid_file(self.run.supervisor_pid, record)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        self._repair_mirror()
        try:
            if self.resume and self._remote_alive():
                self.resume, self.attach = False, True  # still going there: only the following had stopped
            if not self.attach:
                if not self.resume:
                    self._sync()
                self._start_remote()
            ended = self._follow()
            return self._finish(ended)
        except QbtuiError as error:
            self._fail(str(error), error.fix or "check the host with `qbtui hosts`")
            return 1

    def _repair_mirror(self) -> None:
        """Cut the local events back to what the saved offset covers (a crash may have left more)."""
        if self.run.events.exists() and self.run.events.stat().st_size > self.status.local_size > 0:
            os.truncate(self.run.events, self.status.local_size)
        elif not self.run.events.exists() or self.status.local_size == 0:
            self.status.local_size = self.run.events.stat().st_size if self.run.events.exists() else 0
        if self.run.events.exists():
            self.done = next((event for event in EventFollower(self.run.events).read_new() if event.get("type") == "done"), None)

    def _set_phase(self, phase: str, detail: str = "") -> None:
        if phase != self.status.phase or detail != self.status.detail:
            self.status.phase, self.status.detail, self.status.since = phase, detail, time.time()
            self.status.save(self.run)

    def _sync(self) -> None:
        self._set_phase("syncing", f"copying photos and the base model to {self.host.name}")
        push_model(self.transport, Path(self.table["base_model"]), _posix(self.table["remote_model"]))
        if self.table.get("tokenizer"):
            push_model(self.transport, Path(self.table["tokenizer"]), _posix(self.table["remote_tokenizer"]))
        for local, remote in dict(self.table["remote_folders"]).items():
            push_folder(self.transport, Path(local), _posix(remote))
        remote_toml = read_text(self.run.path / REMOTE_RUN_TOML)
        self.transport.qbtui(*self._agent("create"), input_text=remote_toml)

    def _start_remote(self) -> None:
        self._set_phase("starting", f"starting the run on {self.host.name}")
        self.transport.qbtui(*self._agent("start"), *(["--resume"] if self.resume else []))

    def _agent(self, command: str) -> list[str]:
        return ["agent", command, "--work-dir", str(self.table["remote_work_dir"]), str(self.table["remote_run_dir"])]

    # ------------------------------------------------------------ following

    def _follow(self) -> bool:
        """Mirror the host's events until its run ends; False when the run vanished there."""
        delay = 1.0
        while True:
            try:
                self._forward_stop()
                returncode = self._follow_once()
            except HostUnreachable as error:
                returncode, detail = -1, str(error)
            else:
                detail = f"the connection to {self.host.name} dropped (ssh exit {returncode})"
            if returncode == 0:
                return True
            self._set_phase("disconnected", f"{detail}; reconnecting")
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
            if returncode not in (-1, 255) and not self._remote_exists():
                return False

    def _follow_once(self) -> int:
        argv = self.transport.qbtui_argv(*self._agent("tail"), "--offset", str(self.status.remote_offset + self._held_size()))
        process = self.transport.popen_argv(argv)
        assert process.stdout is not None
        self._set_phase("following", f"following the run on {self.host.name}")
        buffer = b""
        fd = process.stdout.fileno()
        while True:
            self._forward_stop()
            ready, _, _ = select.select([fd], [], [], READ_TIMEOUT_S)
            if not ready:
                continue
            data = os.read(fd, 64 * 1024)
            if not data:
                break
            buffer += data
            end = buffer.rfind(b"\n")
            if end >= 0:
                self._take(buffer[: end + 1])
                buffer = buffer[end + 1 :]
        return process.wait()

    def _held_size(self) -> int:
        return sum(len(line) for line in self.held)

    def _take(self, lines: bytes) -> None:
        """Append whole lines to the local mirror; land the LoRA before `done`; hold the supervisor's exit for the end."""
        ready: list[bytes] = []
        for line in lines.splitlines(keepends=True):
            event = _parsed(line)
            if self.held or _is_exit(event):
                self.held.append(line)
                continue
            if event is not None and event.get("type") == "done" and self.done is None:
                self._append(ready)
                ready = []
                self._land(replace_paths(event, self.mapping))
            elif event is not None and _is_choice(event) and self._landed():
                self._append(ready)
                ready = []
                self._land_choice(event)
            ready.append(line)
        self._append(ready)

    def _append(self, lines: list[bytes]) -> None:
        """Write host lines (translated) to the local events and move the saved offset past them."""
        if not lines:
            return
        with open(self.run.events, "ab") as events:
            events.write(b"".join(self._translated(line) for line in lines))
            events.flush()
            os.fsync(events.fileno())
        self.status.remote_offset += sum(len(line) for line in lines)
        self.status.local_size = self.run.events.stat().st_size
        self.status.save(self.run)

    def _land(self, done: dict[str, Any]) -> None:
        """The trainer is done: bring a completed run's LoRA files here and record the training (idempotent)."""
        if done.get("status") == "completed":
            self._set_phase("following", f"copying the LoRA files back from {self.host.name}")
            self._pull_outputs()
            lora = done.get("lora_path")
            warnings: list[str] = []
            warning = record_or_warning(self.run, lora)
            if warning:
                warnings.append(warning)
            RunCards(self.run, warn=warnings.append).finish(lora, final_step(self.run, self.table))
            for message in warnings:
                self._warn(message)
            self._set_phase("following", f"following the run on {self.host.name}")
        self.done = done

    def _landed(self) -> bool:
        return self.done is not None and self.done.get("status") == "completed"

    def _land_choice(self, event: dict[str, Any]) -> None:
        """An `eval chosen` after `done`: bring the host's eval.json, its samples and the chosen file (when
        it is not here yet) and record the choice in the run's registry row now, as the local supervisor does."""
        lora = event.get("lora")
        lora_dir = Path(self.table["output_dir"])
        self._set_phase("following", f"copying the likeness choice back from {self.host.name}")
        try:
            if not (isinstance(lora, str) and Path(lora).name == lora and (lora_dir / lora).is_file()):
                self._pull_outputs()
        except QbtuiError as error:
            self._warn(f"the chosen LoRA file {printable(str(lora))} was not copied here yet: {error}")
        self._land_evaluation(at_end=False)
        self._set_phase("following", f"following the run on {self.host.name}")

    def _warn(self, message: str) -> None:
        """A warning event, with the mirror's saved size moved past it."""
        with EventWriter(self.run.events) as writer:
            writer.write("warning", message=message)
        self.status.local_size = self.run.events.stat().st_size
        self.status.save(self.run)

    def _pull_outputs(self) -> None:
        pull_outputs(
            self.transport, _posix(self.table["remote_lora_dir"]), Path(self.table["output_dir"]), str(self.table["output_name"])
        )

    def _translated(self, line: bytes) -> bytes:
        """The line with the host's paths (run folder, LoRA folder) turned into this machine's."""
        try:
            event = parse_event(line)
        except ValueError:
            return line
        return encode_event(replace_paths(event, self.mapping))

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def _forward_stop(self) -> None:
        if self.stop_requested and not self.stop_forwarded:
            try:
                self.transport.qbtui(*self._agent("stop"), timeout=60)
                self.stop_forwarded = True
            except QbtuiError:
                pass  # tried again on the next turn; the host may be unreachable right now

    def _remote_status(self) -> dict[str, Any]:
        """`qbtui agent status` of the run on the host (alive, exists, events_size)."""
        return dict(json.loads(self.transport.qbtui(*self._agent("status"))))

    def _remote_alive(self) -> bool:
        return bool(self._remote_status().get("alive"))

    def _remote_exists(self) -> bool:
        try:
            return bool(self._remote_status().get("exists"))
        except (QbtuiError, ValueError):
            return True

    # ------------------------------------------------------------ the end

    def _finish(self, ended: bool) -> int:
        self._set_phase("finishing", f"copying the LoRA files back from {self.host.name}")
        events = [event for event in map(_parsed, self.held) if event]
        exited = any(_is_exit(event) for event in events)
        if not ended or self.done is None or not exited:
            detail = f"the supervisor on host {self.host.name} ended without finishing the run"
            self._write_held()
            with EventWriter(self.run.events) as writer:
                writer.write(
                    "supervisor",
                    state="crashed",
                    pid=os.getpid(),
                    detail=f"{detail}; `qbtui resume {self.run.run_id}` continues it",
                )
            self._set_phase("done", detail)
            return 1
        self._pull_outputs()
        status = self.done.get("status")
        if status == "completed":
            self._land_evaluation()
        self._write_held()
        self._set_phase("done", f"the run on {self.host.name} ended: {status}")
        return 0 if status in ("completed", "stopped") else 1

    def _land_evaluation(self, *, at_end: bool = True) -> None:
        """Bring the likeness scoring's eval.json and samples here (the host's paths made this machine's and
        contained) and record its choice in the run's registry row, cards included; at the end a run
        without one (no scoring ran) is left as it is. A failure is a warning: the training stays recorded."""
        eval_json = self.run.eval_json
        names = (eval_json.name, self.run.eval_dir.name)
        from qbtui.cards import refresh_cards
        from qbtui.remote.hosteval import localise_evaluation
        from qbtui.runs.evaluation import record_run_evaluation

        try:
            if not pull_evaluation(self.transport, _posix(self.table["remote_run_dir"]), self.run.path, *names):
                if at_end:
                    return
                raise QbtuiError(
                    "the host's run has no eval.json", path=eval_json, fix=f"`qbtui eval {self.run.run_id}` scores it here"
                )
            friend = str(self.table["friend"])
            localise_evaluation(self.run, friend, Path(self.table["output_dir"]), self.mapping)
            registry = record_registry(self.table)
            record_run_evaluation(registry, self.run)
            refresh_cards(registry, [friend])
        except (QbtuiError, OSError, ValueError) as error:  # the training is recorded; say why its choice is not
            if isinstance(error, QbtuiError) and error.path == eval_json:
                eval_json.unlink(missing_ok=True)  # never leave the host's untranslated file here
            again = "" if at_end else f" (it is tried again when the run on {self.host.name} ends)"
            told = isinstance(error, QbtuiError) and error.fix
            fix = "" if told else f"\n  fix: `qbtui record {self.run.run_id}` records it from eval.json once that is fixed"
            self._warn(f"the likeness choice was not recorded{again}: {error}{fix}")

    def _write_held(self) -> None:
        if self.held:
            with open(self.run.events, "ab") as events:
                events.write(b"".join(self._translated(line) for line in self.held))
            self.status.remote_offset += self._held_size()
            self.held = []
            self.status.local_size = self.run.events.stat().st_size
            self.status.save(self.run)

    def _fail(self, message: str, fix: str) -> None:
        with EventWriter(self.run.events) as writer:
            writer.write("error", message=message, hint=fix)
            writer.write("done", status="failed", lora_path=None)
            writer.write("supervisor", state="backend-exited", pid=os.getpid(), detail=message)
        self.status.local_size = self.run.events.stat().st_size
        self._set_phase("done", message)


def _posix(value: Any):
    from pathlib import PurePosixPath

    return PurePosixPath(str(value))


def _is_choice(event: dict[str, Any]) -> bool:
    """True for the host trainer's `eval chosen` event: the likeness choice so far."""
    return event.get("type") == "eval" and event.get("stage") == CHOSEN


def _is_exit(event: dict[str, Any] | None) -> bool:
    """True for the host supervisor's last word: its backend has exited."""
    return event is not None and event.get("type") == "supervisor" and event.get("state") == "backend-exited"


def record_registry(table: dict[str, Any]):
    """The local registry the run records into."""
    from qbtui.registry import Registry

    return Registry.load(table["registry"])


def _parsed(line: bytes) -> dict[str, Any] | None:
    try:
        return parse_event(line)
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qbtui.remote.follower", description="Follow one qbtui run on a host.")
    parser.add_argument("run_dir", type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run on the host from its saved state")
    mode.add_argument("--attach", action="store_true", help="follow a run that is still going on the host")
    parser.add_argument("--hold-fds", default="", help="comma-separated descriptors of the run's locks, held to the end")
    args = parser.parse_args(argv)
    run = RunDir(args.run_dir.absolute())
    held = [int(fd) for fd in args.hold_fds.split(",") if fd]
    if not (args.resume or args.attach) and needs_layout(run) and not lay_out_or_put_back(run, held):
        return 0
    code = Follower(run, resume=args.resume, attach=args.attach).main()
    for fd in held:  # this run is over here: its friend is free
        os.close(fd)
    table = read_run_toml(run)["run"]
    try:
        start_next_queued(run.logs_dir, host_slots_of(table["registry"]), finished_run_id=run.run_id)
    except Exception as error:  # noqa: BLE001 - this run is over; the queue keeps its entry
        print(f"qbtui follower: could not start the next queued run: {error}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
