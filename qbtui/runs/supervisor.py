"""The detached supervisor: `python -m qbtui.runs.supervisor RUN_DIR [--resume]`.

Started in its own session (no controlling terminal, so closing the terminal or
quitting the app does not reach it). It runs the backend in its own process group with
its output going straight to `output.log`, turns kohya's output (read back from that
file) into events,
forwards a stop (SIGTERM) to the backend's group and escalates to SIGKILL after a grace
period, records a completed training in the registry the moment the backend's `done` says so
(before the final file's likeness scoring, with the choice its earlier checkpoints made; each
`eval chosen` event after it, and the backend's exit, update the same row), starts the
likeness evaluation of a completed kohya run (the builtin trainer scores in its own process),
then starts the next queued run.

Its own events, in order: `supervisor started`, (the backend's events), `done` when the
backend wrote none, `supervisor backend-exited` (a run whose supervisor vanished before that
event is crashed), and for a completed kohya run an `eval` event naming the evaluation run
started (`started`) or why none could start (`skipped`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qbtui.cards import RunCards
from qbtui.errors import QbtuiError
from qbtui.events import EventFollower, EventWriter
from qbtui.likeness.standing import CHOSEN
from qbtui.modelenv import MPS_FALLBACK
from qbtui.rundir import RunDir, read_run_toml, tail_lines
from qbtui.runs.backends.builtin import builtin_resume_args
from qbtui.runs.backends.kohya import KohyaOutputParser, kohya_resume_args
from qbtui.runs.keepawake import keep_awake
from qbtui.runs.launch import STOP_GRACE_S, STOP_SIGNALS, GroupStop, host_slots_of, signal_group, start_next_queued
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.record import final_step, record_or_warning
from qbtui.runs.written import LoraWitness
from qbtui.tail import GrowingFile

# How long a stop waits for sd-scripts to finish writing a checkpoint before signalling.
CHECKPOINT_WAIT_S = 120.0
# How often the backend's output file is read back (and a stop checked) while it runs.
WATCH_POLL_S = 0.05


class Supervisor:
    """Runs one attempt of one run (a first start or a resume) to its end."""

    def __init__(self, run: RunDir, *, resume: bool = False, held_fds: list[int] | None = None):
        self.run = run
        self.resume = resume
        # The run's locks: passed on to the backend, so they stay held while either process lives.
        self.held_fds = held_fds or []
        self.events = EventWriter(run.events)
        self.table: dict[str, Any] = {}
        self.backend = ""
        self.parser: KohyaOutputParser | None = None
        self.grace_s = STOP_GRACE_S
        self.stop_requested_at: float | None = None
        self.backend_stop: GroupStop | None = None
        self.backend_wrote_done = False
        self.backend_process: subprocess.Popen[bytes] | None = None
        self.lora_witness = LoraWitness(None)
        self.backend_events: EventFollower | None = None
        self.recorded_lora: str | None = None  # the LoRA recorded at the backend's `done`
        self.record_warning: str | None = None  # the last refused record's warning, said once
        self.cards = RunCards(run, warn=lambda message: self.events.write("warning", message=message))

    def main(self) -> int:
        """Supervise the backend; 0 when the run completed or stopped cleanly."""
        try:
            return self._supervise()
        except BaseException as error:
            self.events.write("supervisor", state="crashed", pid=os.getpid(), detail=f"the supervisor failed: {error!r}")
            if self.backend_process is not None:
                signal_group(self.backend_process.pid, signal.SIGTERM)
            raise

    def _supervise(self) -> int:
        record = ProcessRecord.of(os.getpid())
        assert record is not None, "this very process is running"
        write_pid_file(self.run.supervisor_pid, record)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._request_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        first_event_offset = self.run.events.stat().st_size if self.run.events.exists() else 0
        self.backend_events = EventFollower(self.run.events, offset=first_event_offset)
        self.events.write("supervisor", state="started", pid=os.getpid(), detail="resume" if self.resume else "start")
        try:
            self._load_run_table()
            argv = self._argv()
        except Exception as error:  # noqa: BLE001 - any failure to build the command ends the run as failed
            self.events.write("error", message=str(error), hint="check run.toml and the backend's installation")
            self._finish("failed", None, detail=f"could not start the backend: {error}")
            return 1
        if self.backend == "kohya":
            self.events.write(
                "start",
                run_id=self.run.run_id,
                friend=self.table.get("friend"),
                backend="kohya",
                max_steps=int(self.table.get("max_steps", 0)),
                device="accelerate",
                images=int(self.table.get("images", 0)),
                preset=self.table.get("preset"),
            )
        self.lora_witness = LoraWitness.before_run(self.table)
        returncode = self._run_backend(argv)
        status, lora_path = self._outcome(returncode, first_event_offset)
        if status == "completed":
            # Recorded at `done` already: the same row again, now with the likeness choice, and the cards with the last samples.
            self._record_training(lora_path)
        self._finish(status, lora_path, detail=f"exit code {returncode}")
        self._release_locks()
        if status == "completed" and self.backend == "kohya":
            self._evaluate_kohya_run()
        self._start_next_queued()
        return 0 if status in ("completed", "stopped") else 1

    def _load_run_table(self) -> None:
        self.table = read_run_toml(self.run)["run"]
        for key in ("backend", "command"):
            if key not in self.table:
                raise QbtuiError(f"run.toml [run] has no {key}", path=self.run.run_toml, fix="restore it, or start a new run")
        self.backend = str(self.table["backend"])
        self.parser = KohyaOutputParser() if self.backend == "kohya" else None
        self.grace_s = float(self.table.get("stop_grace_s", STOP_GRACE_S))

    def _argv(self) -> list[str]:
        argv = [str(token) for token in self.table["command"]]
        if self.resume:
            if self.backend == "kohya":
                argv += kohya_resume_args(Path(self.table["output_dir"]), str(self.table["output_name"]))
            else:
                argv += builtin_resume_args(self.run.path)
        return argv

    def _request_stop(self, signum: int, frame: object) -> None:
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()

    def _run_backend(self, argv: list[str]) -> int:
        """Run the backend with its output going straight into output.log (no pipe through
        this process, so the backend can always write, whatever becomes of its supervisor)."""
        env = {
            **MPS_FALLBACK,
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **{str(k): str(v) for k, v in dict(self.table.get("env", {})).items()},
        }
        with open(self.run.output_log, "ab") as log:
            output = GrowingFile(self.run.output_log, offset=log.tell())
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=self.run.path,
                    env=env,
                    # The hook only calls prctl; the supervisor forks from its main thread.
                    preexec_fn=_end_with_parent(),  # noqa: PLW1509
                    pass_fds=self.held_fds,
                )
            except OSError as error:
                log.write(f"qbtui: could not start {argv[0]}: {error}\n".encode())
                return 127
        self.backend_process = process
        record = ProcessRecord.of(process.pid)
        if record is not None:
            write_pid_file(self.run.backend_pid, record)
        awake = keep_awake(process.pid)  # macOS: a sleeping laptop would stop the run
        try:
            return self._watch(process, output)
        finally:
            if awake is not None:
                awake.terminate()
                awake.wait()

    def _watch(self, process: subprocess.Popen[bytes], output: GrowingFile) -> int:
        """Until the backend exits: turn its new output into events (kohya), then forward a stop
        (the output read first, so a stop waits for a checkpoint write the output just announced)."""
        returncode = None
        while True:
            if self.parser is not None:
                for data in output.read_chunks():
                    for event in self.parser.feed(data):
                        self.events.write(event.pop("type"), **event)
            if returncode is not None:
                return returncode
            self._record_at_done()
            self._signal_backend(process)
            self.cards.poll()
            try:
                returncode = process.wait(timeout=WATCH_POLL_S)
            except subprocess.TimeoutExpired:
                returncode = None

    def _signal_backend(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM the backend's group once stop was asked (after a checkpoint write), SIGKILL after the grace."""
        if self.stop_requested_at is None:
            return
        now = time.monotonic()
        if self.backend_stop is None:
            parser = self.parser
            saving_since = parser.saving_since if parser is not None else None
            if saving_since is not None and now - saving_since < CHECKPOINT_WAIT_S:
                return
            self.backend_stop = GroupStop(process.pid, self.grace_s)
        self.backend_stop.advance(now)

    def _outcome(self, returncode: int, first_event_offset: int) -> tuple[str, str | None]:
        """The attempt's status and LoRA file, from the backend's own events or its exit."""
        backend_done = None
        error_seen = False
        for event in EventFollower(self.run.events, offset=first_event_offset).read_new():
            if event["type"] == "done":
                backend_done = event
            elif event["type"] == "error":
                error_seen = True
        if backend_done is not None:
            status, lora_path = backend_done["status"], backend_done.get("lora_path")
            if status == "completed" and not self._lora_written(lora_path):
                return "failed", None  # `_finish` writes this `done` after the backend's
            self.backend_wrote_done = True
            return status, lora_path
        stopped = self.stop_requested_at is not None
        if returncode == 0 and self.backend == "kohya" and not stopped:
            final = str(Path(self.table["output_dir"]) / f"{self.table['output_name']}.safetensors")
            return ("completed", final) if self._lora_written(final) else ("failed", None)
        if stopped:
            last = self.parser.checkpoints[-1] if self.parser and self.parser.checkpoints else None
            return "stopped", last
        if not error_seen:
            lines = tail_lines(self.run.output_log)
            self.events.write(
                "error",
                message=f"the {self.backend} backend exited with code {returncode}",
                hint="the last lines of output.log are below; `qbtui logs RUN --raw` shows all",
                log_tail=lines,
            )
        return "failed", None

    def _lora_written(self, lora_path: str | None) -> bool:
        """True when a completed backend wrote its LoRA file in this attempt; else an error event says why not."""
        reason = self.lora_witness.not_written(lora_path)
        if reason is None:
            return True
        self.events.write(
            "error",
            message=f"the {self.backend} backend finished without writing its LoRA file: {reason}",
            hint=f"output.log says why (`qbtui logs {self.run.run_id} --raw`); check the LoRA folder's free space and permissions",
            log_tail=tail_lines(self.run.output_log),
        )
        return False

    def _record_at_done(self) -> None:
        """Record the training the moment the backend's `done` says completed (its LoRA written), while
        the backend may still score it: draw, prompt and cards use the LoRA, and the choice of its earlier
        checkpoints, from then on. Each later `eval chosen` event (the final file scored at one more weight)
        records the choice again into the same row."""
        if self.backend_events is None:
            return
        record = False
        for event in self.backend_events.read_new():
            if self.recorded_lora is not None:
                record = record or (event["type"] == "eval" and event["stage"] == CHOSEN)
                continue
            if event["type"] != "done" or event["status"] != "completed":
                continue
            lora_path = event.get("lora_path")
            if lora_path and Path(lora_path).is_file() and self._lora_written(lora_path):
                self.recorded_lora, record = lora_path, True
        if record:
            self._record_training(self.recorded_lora)

    def _record_training(self, lora_path: str | None) -> None:
        """Add the training to the registry (idempotent per run id) and write the A1111 cards; a
        failure becomes a warning naming the fix. A run on a host (no registry in its run.toml)
        is recorded, and its cards written, by the local follower instead. A refusal that repeats the
        last one (the record at `done`, then at the backend's exit) is not said twice."""
        if not self.table.get("registry"):
            return
        warning = record_or_warning(self.run, lora_path, backend=self.backend)
        if warning and warning != self.record_warning:
            self.events.write("warning", message=warning)
        self.record_warning = warning
        self.cards.finish(lora_path, final_step(self.run, self.table))

    def _finish(self, status: str, lora_path: str | None, *, detail: str) -> None:
        self.cards.poll(force=True)
        if not self.backend_wrote_done:
            self.events.write("done", status=status, lora_path=lora_path)
        self.events.write("supervisor", state="backend-exited", pid=os.getpid(), detail=detail)

    def _release_locks(self) -> None:
        for fd in self.held_fds:  # this run is over: its friend and the device are free
            os.close(fd)
        self.held_fds = []

    def _evaluate_kohya_run(self) -> None:
        """sd-scripts scores nothing: when `eval_after_training` is on, start the likeness pass of
        this run as an evaluation run of its own (queued behind a run using the device) and say
        so in this run's events. A run on a host is evaluated from this machine by hand."""
        if not self.table.get("registry"):
            return
        from qbtui.registry import Registry
        from qbtui.runs.evaluation import start_evaluation

        try:
            registry = Registry.load(Path(self.table["registry"]))
            if not registry.settings.eval_after_training:
                return
            info = start_evaluation(registry, self.run.run_id, queue=True)
        except Exception as error:  # noqa: BLE001 - the training succeeded; say why it was not evaluated
            reason = error.message if isinstance(error, QbtuiError) else f"{type(error).__name__}: {error}"
            self.events.write(
                "eval",
                stage="skipped",
                message=f"the likeness evaluation could not start: {reason}",
                fix=f"qbtui eval {self.run.run_id}",
            )
            return
        self.events.write("eval", stage="started", run_id=info.run_id)

    def _start_next_queued(self) -> None:
        if not self.table.get("registry"):
            return
        try:
            host_slots = host_slots_of(self.table["registry"])
            start_next_queued(self.run.logs_dir, host_slots, finished_run_id=self.run.run_id)
        except Exception as error:  # noqa: BLE001 - this run is over; the queue keeps its entry
            print(f"qbtui supervisor: could not start the next queued run: {error}", file=sys.stderr)


def _end_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook (Linux) giving the backend SIGTERM if the supervisor dies, so no
    trainer is left orphaned: it saves its state and stops; libc is resolved here, before
    the fork. Elsewhere the builtin trainer notices that its parent changed."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qbtui.runs.supervisor", description="Supervise one qbtui run (started by `qbtui train`)."
    )
    parser.add_argument("run_dir", type=Path, help="the run directory holding run.toml")
    parser.add_argument("--resume", action="store_true", help="continue the run from its saved state")
    parser.add_argument(
        "--hold-fds", default="", help="comma-separated descriptors of the run's locks (qbtui.runs.locks), held to the end"
    )
    args = parser.parse_args(argv)
    held = [int(fd) for fd in args.hold_fds.split(",") if fd]
    return Supervisor(RunDir(args.run_dir.absolute()), resume=args.resume, held_fds=held).main()


if __name__ == "__main__":
    raise SystemExit(main())
