"""What a run is doing, derived from its directory: events, pid files and the queue.

Nothing lives only in a process's memory, so re-attaching to a run is reading its
directory again. Each run directory keeps one `EventFollower` in a module cache, so
polling `list_runs` a few times a second reads only the bytes added since the last poll.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.events import MAX_TIME, Event, EventFollower
from qbtui.likeness.live import LikenessTrack
from qbtui.likeness.standing import CHOSEN, StandingChoice
from qbtui.registry import Settings
from qbtui.rundir import RunDir, find_run_dirs, read_run_toml, tail_lines
from qbtui.runs.format import format_duration, where_words
from qbtui.runs.liveness import read_pid_file
from qbtui.runs.placement import HERE
from qbtui.runs.queue import RunQueue
from qbtui.safefile import kind_of, read_text

LIVE_STATES = ("queued", "running", "disconnected")
# A run using its device: running here, or on a host this machine cannot reach right now.
BUSY_STATES = ("running", "disconnected")
RESUMABLE_STATES = ("stopped", "failed", "crashed")  # what `qbtui resume` continues
# What a live run is doing: its training steps, or a likeness pass after them (an evaluation run's whole life).
# After its `done` a builtin run scores its final file (EVALUATING; the choice of its earlier checkpoints
# stands meanwhile), then draws its last samples (FINISHING).
# At a checkpoint during its training it scores that checkpoint's likeness (SCORING) before its next step.
TRAINING, FINISHING, EVALUATING, SCORING = "training", "finishing", "evaluating", "scoring"
RECENT_LOSSES = 200
# A run directory without a supervisor pid file is "starting" for this long, then crashed.
STARTUP_GRACE_S = 30.0


@dataclass(frozen=True)
class RunInfo:
    """A snapshot of one run, as `qbtui runs` and the dashboard show it.

    `state` is one of "queued", "running", "disconnected" (on a host that does not answer
    now; it goes on there), "completed", "stopped", "failed", "crashed". `host` names the
    `[hosts.<name>]` a run trains on, None on this machine.
    """

    run_id: str
    friend_id: str
    path: Path
    backend: str
    preset: str
    state: str
    step: int
    max_steps: int
    loss: float | None
    avg_loss: float | None
    it_s: float | None
    eta_s: float | None
    started_at: float | None
    lora_path: Path | None
    error: str | None
    losses: tuple[float, ...]
    host: str | None = None
    bad_lines: int = 0  # lines of events.jsonl that were not valid events (skipped)
    target: str = HERE  # where a queued run may start: HERE, a host's name or ANYWHERE
    phase: str = ""  # TRAINING, SCORING, FINISHING or EVALUATING while running, "" otherwise
    eval_done: int = 0  # samples the running likeness pass (or the checkpoint's scoring) has drawn, of eval_total
    eval_total: int = 0
    eval_eta_s: float | None = None
    best_cell: str | None = None  # the best LoRA file and weight scored while training (`800@0.8`)
    best_likeness: float | None = None
    chosen: StandingChoice | None = None  # the choice since `done` (standing while the final file is scored)

    @property
    def best_words(self) -> str | None:
        """`best likeness 0.41 (800@0.8)`, None before a scored cell drew faces often enough."""
        if self.best_cell is None or self.best_likeness is None:
            return None
        return f"best likeness {self.best_likeness:.2f} ({self.best_cell})"

    @property
    def evaluating(self) -> bool:
        """A likeness pass runs now (after the last step, or as an evaluation run)."""
        return self.phase == EVALUATING

    @property
    def after_training(self) -> bool:
        """Its steps are done and its LoRA written; the backend still draws its last samples or scores them."""
        return self.phase in (FINISHING, EVALUATING)

    @property
    def activity(self) -> str:
        """The state as the run lists show it: `evaluating` or `finishing` after the last step, `scoring` at a
        checkpoint, else the state."""
        return self.phase if self.after_training or self.phase == SCORING else self.state

    @property
    def progress(self) -> str:
        """`340/1200` (steps), or `7/41` (samples of the likeness pass while evaluating)."""
        return f"{self.eval_done}/{self.eval_total or '?'}" if self.evaluating else f"{self.step}/{self.max_steps}"

    @property
    def remaining_s(self) -> float | None:
        """Seconds left of what the run does now (its steps, or its likeness pass; unknown while finishing). While
        scoring a checkpoint: the steps left plus the scoring left (unknown before its first sample is timed)."""
        if self.after_training:
            return self.eval_eta_s if self.evaluating else None
        if self.phase == SCORING:
            return None if self.eta_s is None or self.eval_eta_s is None else self.eta_s + self.eval_eta_s
        return self.eta_s

    @property
    def eta_words(self) -> str:
        """The time left of what a running run does now (`remaining_s`): `1:27`; `-` when unknown or not running."""
        return format_duration(self.remaining_s) if self.state == "running" else "-"

    @property
    def activity_words(self) -> str:
        """The run lists' state column: `evaluating 7/41` (its samples) during a likeness pass, else `activity`;
        the step column keeps the step."""
        return f"{self.activity} {self.progress}" if self.evaluating else self.activity

    @property
    def phase_progress(self) -> str:
        """`scoring 40/60`, `evaluating 5/50`, `finishing 60/60`; `40/60` while it trains (the phase word `qbtui runs` shows)."""
        return self.progress if self.phase in (TRAINING, "") else f"{self.activity} {self.progress}"

    @property
    def glance_words(self) -> str:
        """A running run at a glance, as the dashboard's table shows it: `scoring 40/60 1:27`, `40/60 1:11`."""
        return f"{self.phase_progress} {self.eta_words}"

    @property
    def progress_words(self) -> str:
        """`evaluating 7/41 · ETA 2:10` during a likeness pass, else `step 340/1200`."""
        if self.evaluating:
            return f"evaluating {self.progress} · ETA {format_duration(self.eval_eta_s)}"
        if self.phase == FINISHING:
            return f"finishing: step {self.progress} done, saving the LoRA and drawing the last samples"
        if self.phase == SCORING:
            return f"step {self.progress} · scoring likeness {self.eval_done}/{self.eval_total}"
        return f"step {self.progress}"

    @property
    def state_words(self) -> str:
        """The run's state in one line: `running here · step 14/60 · ETA 1:05`, `queued for the first free place`,
        `evaluating here · evaluating 7/41 · ETA 2:10` after its steps, `stopped at 8/60` once it ended."""
        where = where_words(self.state, self.where)
        if self.state == "queued":
            return f"queued {where}"
        if not self.live:
            return f"{self.state} at {self.step}/{self.max_steps}"
        eta = "" if self.after_training else f" · ETA {format_duration(self.remaining_s)}"
        return f"{self.activity} {where} · {self.progress_words}{eta}"

    @property
    def where(self) -> str:
        """Where the run is (a host's name or HERE); for a queued run, where it may start."""
        if self.state == "queued":
            return self.target
        return self.host or HERE

    @property
    def live(self) -> bool:
        """Queued or running: the run may still change."""
        return self.state in LIVE_STATES

    def to_json(self, waits: str | None = None) -> dict[str, Any]:
        """Plain values for `qbtui runs --json`; `waits`: why a queued run has not started (the queue's plan)."""
        return {
            "run_id": self.run_id,
            "friend": self.friend_id,
            "path": str(self.path),
            "backend": self.backend,
            "preset": self.preset,
            "state": self.state,
            "step": self.step,
            "max_steps": self.max_steps,
            "loss": self.loss,
            "avg_loss": self.avg_loss,
            "it_s": self.it_s,
            "eta_s": self.remaining_s if self.state == "running" else self.eta_s,
            "started_at": self.started_at,
            "lora_path": str(self.lora_path) if self.lora_path else None,
            "error": self.error,
            "host": self.host,
            "where": self.where,
            "target": self.target,
            "bad_lines": self.bad_lines,
            "phase": self.phase or None,
            "eval_done": self.eval_done if self.evaluating or self.phase == SCORING else None,
            "eval_total": self.eval_total if self.evaluating or self.phase == SCORING else None,
            "eval_eta_s": self.eval_eta_s if self.evaluating or self.phase == SCORING else None,
            "best": self.best_cell,
            "best_likeness": self.best_likeness,
            "chosen": self.chosen.key if self.chosen else None,
            "chosen_weight": self.chosen.weight if self.chosen else None,
            "chosen_likeness": self.chosen.likeness if self.chosen else None,
            "chosen_pending": self.chosen.pending if self.chosen else None,
            "chosen_words": self.chosen.words if self.chosen else None,
            "waits": waits,
        }


class PassProgress:
    """How far a likeness pass is: its samples drawn of its images (the `eval` plan and sample events), and an ETA."""

    def __init__(self, started: float | None = None) -> None:
        self.started = started
        self.started_pass = False  # a plan or a sample was seen
        self.done = 0
        self.total = 0
        self.last_t: float | None = None

    def apply(self, event: Event) -> None:
        stage = event["stage"]
        self.started_pass = self.started_pass or stage in ("plan", "sample")
        if stage == "plan":
            self.total = _count(event.get("images"))
            self.done = 0
            self.started = event["t"]
        elif stage == "sample" and _count(event.get("done")):
            self.done = event["done"]
            self.total = _count(event.get("total")) or self.total
            self.last_t = event["t"]
            if self.started is None:
                self.started = event["t"]

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far; None before the first sample."""
        if not self.done or self.started is None or self.last_t is None or not self.total:
            return None
        return (self.last_t - self.started) / self.done * max(self.total - self.done, 0)


class RunSummary:
    """Folds a run's events, in order, into the figures RunInfo shows.

    A `supervisor started` event opens a new attempt (a resume): the previous
    attempt's ending is forgotten, its progress kept.
    """

    def __init__(self) -> None:
        self.step = 0
        self.max_steps = 0
        self.loss: float | None = None
        self.avg_loss: float | None = None
        self.it_s: float | None = None
        self.eta_s: float | None = None
        self.started_at: float | None = None
        self.lora_path: str | None = None
        self.error: str | None = None
        self.done_status: str | None = None
        self.backend_exited = False
        self.crash_detail: str | None = None
        self.attempt_pid: int | None = None
        self.losses: deque[float] = deque(maxlen=RECENT_LOSSES)
        self.evaluation_run = False  # an evaluation run counts its samples as its steps
        self.eval_progress = PassProgress()  # the likeness pass after the backend's `done` (or of an evaluation run)
        self.likeness = LikenessTrack()  # scored while training
        self.scoring: Event | None = None  # the last `eval scoring` event while a checkpoint is scored
        self.chosen: StandingChoice | None = None  # from the last `eval chosen` event

    def apply(self, event: Event) -> None:
        kind = event["type"]
        if kind == "supervisor":
            self._apply_supervisor(event)
        elif kind == "start":
            self.max_steps = int(event.get("max_steps") or self.max_steps)
            self.evaluation_run = event.get("backend") == "eval"
            if self.started_at is None:
                self.started_at = event["t"]
        elif kind == "step":
            self.scoring = None
            self.step = event["step"]
            self.max_steps = int(event.get("max_steps") or self.max_steps)
            self.loss = event.get("loss")
            self.avg_loss = event.get("avg_loss")
            self.it_s = event.get("it_s")
            self.eta_s = event.get("eta_s")
            if self.loss is not None:
                self.losses.append(float(self.loss))
        elif kind == "likeness":
            self.likeness.apply(event)
        elif kind == "eval":
            self.scoring = event if event["stage"] == "scoring" else None
            self.eval_progress.apply(event)
            if event["stage"] == CHOSEN:
                self.chosen = StandingChoice.from_event(event)
            elif event["stage"] == "result" and not self.evaluation_run and self.done_status == "completed":
                self.eval_progress = PassProgress(started=event["t"])  # scored: the last samples follow (FINISHING)
            if self.evaluation_run and event["stage"] == "sample" and isinstance(event.get("done"), int):
                self.step = event["done"]
        elif kind == "error":
            hint = event.get("hint")
            self.error = event["message"] + (f" (fix: {hint})" if hint else "")
        elif kind == "done":
            self.done_status = event["status"]
            self.scoring = None
            self.lora_path = event.get("lora_path")
            self.eval_progress = PassProgress(started=event["t"])

    @property
    def evaluating(self) -> bool:
        """The backend's work after its training (or an evaluation run's whole work) is a likeness pass."""
        return self.evaluation_run or self.done_status == "completed"

    def _apply_supervisor(self, event: Event) -> None:
        state = event["state"]
        if state == "started":
            self.attempt_pid = event.get("pid")
            self.done_status = self.crash_detail = self.error = self.scoring = None
            self.backend_exited = False
            self.eval_progress = PassProgress(started=event["t"])
            if self.started_at is None:
                self.started_at = event["t"]
        elif state == "backend-exited":
            self.backend_exited = True
        elif state == "crashed":
            self.crash_detail = event.get("detail") or "the supervisor stopped unexpectedly"


class _RunTracker:
    """A run directory's follower and summary, kept between polls."""

    def __init__(self, run: RunDir):
        self.run = run
        self.follower = EventFollower(run.events)
        self.summary = RunSummary()
        self.toml_key: tuple[int, int] | None = None
        self.run_table: dict[str, Any] = {}
        self.max_steps_from_toml = 0
        self.created_at: float | None = None
        self.crash_text: tuple[tuple[int | None, str], str] | None = None
        self.toml_error: QbtuiError | None = None

    def refresh_toml(self) -> None:
        """Re-read run.toml when it changed; when it cannot be read, `toml_error` says why and the last good values stay."""
        stat = self.run.run_toml.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if key != self.toml_key:
            self.toml_key = key
            try:
                data = read_run_toml(self.run)
            except QbtuiError as error:
                self.toml_error = error
                return
            self.toml_error = None
            self.run_table = data["run"]
            self.max_steps_from_toml = _count(data["train"].get("max_train_steps"))
            self.created_at = _time(self.run_table.get("created_at"))

    def read(self, queued: bool) -> RunInfo:
        self.refresh_toml()
        supervisor = read_pid_file(self.run.supervisor_pid)
        # Liveness is checked before the events are read, so a supervisor seen dead has
        # written everything it ever will. A finished attempt's own supervisor needs no check.
        finished = self.summary.done_status is not None and self.summary.backend_exited
        same_attempt = supervisor is not None and supervisor.pid == self.summary.attempt_pid
        supervisor_alive = supervisor is not None and not (finished and same_attempt) and supervisor.is_alive()
        backend_alive = supervisor is not None and not finished and not supervisor_alive and self._backend_alive()
        for event in self.follower.read_new():
            self.summary.apply(event)
        ended = self.summary.done_status is not None and self.summary.backend_exited
        if self.toml_error is not None and not (supervisor_alive or backend_alive or ended):
            raise self.toml_error  # neither a process nor the events tell its state: listed as unreadable
        new_attempt = supervisor is not None and supervisor_alive and supervisor.pid != self.summary.attempt_pid
        if new_attempt:
            state, error = "running", None
        else:
            state, error = self._state(queued, supervisor is not None, supervisor_alive, backend_alive)
        if self.toml_error is not None:
            warning = unreadable_toml_warning(self.run, self.toml_error, live=state in LIVE_STATES)
            error = f"{error}\n{warning}" if error else warning
        problem = not_regular_problem(self.run.events)
        if problem:
            warning = f"{problem}: the run's progress cannot be read\n  fix: remove it (qbtui writes events.jsonl)"
            error = f"{error}\n{warning}" if error else warning
        host = str(self.run_table["host"]) if self.run_table.get("host") else None
        if host is not None and state == "running":
            state, error = self._remote_state(host, error)
        summary = self.summary
        live = state in LIVE_STATES
        return RunInfo(
            run_id=self.run.run_id,
            friend_id=str(self.run_table.get("friend", self.run.friend_id)),
            path=self.run.path,
            backend=str(self.run_table.get("backend", "")),
            preset=str(self.run_table.get("preset", "")),
            state=state,
            step=summary.step,
            max_steps=summary.max_steps or self.max_steps_from_toml,
            loss=summary.loss,
            avg_loss=summary.avg_loss,
            it_s=summary.it_s if live else None,
            eta_s=summary.eta_s if live else None,
            started_at=summary.started_at or self.created_at,
            lora_path=Path(summary.lora_path) if summary.lora_path else None,
            error=error,
            losses=tuple(summary.losses),
            host=host,
            bad_lines=self.follower.invalid_lines,
            target=str(self.run_table.get("target") or HERE),
            best_cell=summary.likeness.best,
            best_likeness=summary.likeness.best_likeness,
            chosen=summary.chosen,
            **self._phase(state),
        )

    def _phase(self, state: str) -> dict[str, Any]:
        """RunInfo's phase fields: a running run trains, or evaluates once its backend said `done` (completed)."""
        if state not in BUSY_STATES:
            return {}
        summary = self.summary
        if not summary.evaluating and summary.scoring is not None:
            scoring = summary.scoring
            return {
                "phase": SCORING,
                "eval_done": _count(scoring.get("done")),
                "eval_total": _count(scoring.get("total")),
                "eval_eta_s": scoring.get("eta_s"),
            }
        if not summary.evaluating:  # after the last step, before `done`: the LoRA is saved, samples drawn
            return {"phase": FINISHING if 0 < summary.max_steps <= summary.step else TRAINING}
        progress = summary.eval_progress
        if not summary.evaluation_run and not progress.started_pass:
            return {"phase": FINISHING}
        total = progress.total or (summary.max_steps if summary.evaluation_run else 0)
        return {"phase": EVALUATING, "eval_done": progress.done, "eval_total": total, "eval_eta_s": progress.eta_s}

    def _remote_state(self, host: str, error: str | None) -> tuple[str, str | None]:
        """A running host run is "disconnected" while its follower cannot reach the host."""
        try:
            status = json.loads(read_text(self.run.remote_status))
        except (OSError, ValueError):
            return "running", error
        if isinstance(status, dict) and status.get("phase") == "disconnected":
            return "disconnected", f"host {host} does not answer: {status.get('detail', '')}"
        return "running", error

    def _backend_alive(self) -> bool:
        backend = read_pid_file(self.run.backend_pid)
        return backend is not None and backend.is_alive()

    def _state(self, queued: bool, has_supervisor: bool, supervisor_alive: bool, backend_alive: bool) -> tuple[str, str | None]:
        summary = self.summary
        if queued and not has_supervisor:
            return "queued", None
        if summary.crash_detail:
            return "crashed", self._crash_text(summary.crash_detail)
        if summary.done_status and summary.backend_exited:
            return summary.done_status, summary.error
        if supervisor_alive:
            return "running", summary.error
        if backend_alive:
            return "running", "the supervisor is gone; the trainer is finishing its step and saving its state"
        if has_supervisor and summary.done_status == "stopped":
            # The supervisor was killed; its trainer noticed, saved its state and stopped.
            return (
                "stopped",
                f"the supervisor ended before the run did; the trainer saved its state: `qbtui resume {self.run.run_id}` continues it",
            )
        if has_supervisor and summary.done_status == "failed":
            return "failed", summary.error
        if not has_supervisor and time.time() - (self.created_at or 0) < STARTUP_GRACE_S:
            return "running", None
        reason = "the supervisor process is gone" if has_supervisor else "the supervisor never started"
        return "crashed", self._crash_text(f"{reason} before the run ended")

    def _crash_text(self, detail: str) -> str:
        """The crash reason and the log's last lines (read once per crashed attempt)."""
        key = (self.summary.attempt_pid, detail)
        if self.crash_text is None or self.crash_text[0] != key:
            text = detail
            for log in (self.run.output_log, self.run.supervisor_log):
                lines = tail_lines(log)
                if lines:
                    text += f"\nlast lines of {log.name}:\n" + "\n".join(lines)
            self.crash_text = (key, text)
        return self.crash_text[1]


def unreadable_toml_warning(run: RunDir, error: QbtuiError, *, live: bool) -> str:
    """What a run whose run.toml cannot be read says: a live one goes on, and stops from its pid files."""
    if not live:
        return f"{run.run_toml} cannot be read ({error.message})\n  fix: put run.toml back, or delete this run's folder"
    return (
        f"{run.run_toml} cannot be read ({error.message}); the run goes on from what its processes hold\n"
        f"  fix: put run.toml back before the run ends (recording the training reads it), "
        f"or stop the run with `qbtui stop {run.run_id}`"
    )


def not_regular_problem(path: Path) -> str | None:
    """`<path>: is a FIFO (named pipe), not a regular file` when something other than a regular file
    (links followed) is at `path`; None when it is a regular file or nothing is there."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return None
    return None if S_ISREG(mode) else f"{path}: is {kind_of(mode)}, not a regular file"


def skipped_run_warning(run_toml: Path) -> str:
    """What `list_runs` says of a run folder it leaves out (its run.toml is not a regular file), with the fix."""
    return (
        f"{not_regular_problem(run_toml) or run_toml}: the run is skipped "
        "(fix: put the run's run.toml back in its place, or delete the run's folder)"
    )


def _count(value: Any) -> int:
    """A hand-edited run.toml's step count, 0 unless it is a non-negative integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _time(value: Any) -> float | None:
    """run.toml's created_at as a unix time, None unless it is a plausible one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_TIME:
        return float(value)
    return None


_trackers: dict[Path, _RunTracker] = {}
_trackers_lock = threading.Lock()


def read_run(run_dir: Path | RunDir, *, queued_ids: set[str] | None = None) -> RunInfo:
    """A run's current state from its directory.

    An unreadable run.toml is a warning in `error` while a process of the run lives or its
    events tell how it ended; otherwise a QbtuiError naming the file.

    `queued_ids` (the queue's run ids) saves a look at the queue folder per run.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    if queued_ids is None:
        queued_ids = set(RunQueue(run.logs_dir).run_ids())
    with _trackers_lock:
        tracker = _trackers.get(run.path)
        if tracker is None:
            tracker = _trackers[run.path] = _RunTracker(run)
        return tracker.read(run.run_id in queued_ids)


def latest_run(runs: Iterable[RunInfo], friend_id: str) -> RunInfo | None:
    """The friend's live run if there is one, else its newest (`runs` newest first, as `list_runs` gives them).

    The one rule for "a friend's latest run": the dashboard, `qbtui status` and the
    commands that take a friend instead of a run id all ask here.
    """
    theirs = [info for info in runs if info.friend_id == friend_id]
    return next((info for info in theirs if info.live), theirs[0] if theirs else None)


def list_runs(settings: Settings, warnings: list[str] | None = None) -> list[RunInfo]:
    """Every run under the logs folder, newest first, state checked against the processes.

    A run folder whose run.toml is not a regular file (a FIFO) is left out, with a line in `warnings`.
    """
    return runs_under(settings.logs_dir, warnings)


def runs_under(logs_dir: Path, warnings: list[str] | None = None) -> list[RunInfo]:
    """`list_runs` for a logs folder."""
    infos = []
    queued_ids = set(RunQueue(logs_dir).run_ids())
    skipped: list[Path] = []
    runs = find_run_dirs(logs_dir, skipped)
    if warnings is not None:
        warnings.extend(map(skipped_run_warning, skipped))
    for run in runs:
        try:
            infos.append(read_run(run, queued_ids=queued_ids))
        except FileNotFoundError:
            continue
        except QbtuiError as error:
            infos.append(_unreadable_run(run, error))
    return infos


def _unreadable_run(run: RunDir, error: QbtuiError) -> RunInfo:
    """A run whose run.toml cannot be read, listed (not hidden) with the reason."""
    return RunInfo(
        run_id=run.run_id,
        friend_id=run.friend_id,
        path=run.path,
        backend="",
        preset="",
        state="crashed",
        step=0,
        max_steps=0,
        loss=None,
        avg_loss=None,
        it_s=None,
        eta_s=None,
        started_at=None,
        lora_path=None,
        error=str(error),
        losses=(),
    )
