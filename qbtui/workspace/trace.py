"""What one run reported so far, for the training screen: losses, checkpoints, samples, log tails.

`RunFollower` follows a run directory (`RunDir.events`, `RunDir.output_log`) incrementally;
`RunTrace` is what it accumulated, copied out by `snapshot()` for a reader on another thread.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from qbtui.events import EventFollower
from qbtui.likeness.live import LikenessTrack
from qbtui.rundir import RunDir
from qbtui.tail import LogTail
from qbtui.workspace.samples import RunSample, sample_of

LOG_TAIL_LINES = 400
TRACE_POINTS = 4000


@dataclass
class LineTail:
    """The last lines of a growing text, and how many were ever added."""

    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    total: int = 0

    def extend(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.total += len(lines)

    def since(self, seen: int) -> list[str]:
        """Lines after the first `seen` ever added (only the kept tail if many are new)."""
        new = min(self.total - seen, len(self.lines))
        return list(self.lines)[len(self.lines) - new :] if new > 0 else []

    def copy(self) -> LineTail:
        return LineTail(deque(self.lines, maxlen=LOG_TAIL_LINES), self.total)


@dataclass
class RunTrace:
    """Everything one run reported so far, accumulated from its events and output log.

    `events` holds the lines `qbtui logs` prints (one per event, same formatter);
    `output` the backend's raw output.log; checkpoints are (step, path) pairs; samples in the order drawn.
    """

    run_id: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    avg_losses: list[float] = field(default_factory=list)
    learning_rate: float | None = None
    checkpoints: list[tuple[int | None, str]] = field(default_factory=list)
    samples: list[RunSample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: LineTail = field(default_factory=LineTail)
    output: LineTail = field(default_factory=LineTail)
    step_events: int = 0
    likeness: LikenessTrack = field(default_factory=LikenessTrack)
    likeness_events: int = 0

    def snapshot(self) -> RunTrace:
        """A copy the UI thread can read while the poller keeps appending."""
        return RunTrace(
            run_id=self.run_id,
            steps=list(self.steps),
            losses=list(self.losses),
            avg_losses=list(self.avg_losses),
            learning_rate=self.learning_rate,
            checkpoints=list(self.checkpoints),
            samples=list(self.samples),
            notes=list(self.notes),
            events=self.events.copy(),
            output=self.output.copy(),
            step_events=self.step_events,
            likeness=copy.deepcopy(self.likeness),
            likeness_events=self.likeness_events,
        )


class RunFollower:
    """Follows one run directory for the training screen: its events and output log."""

    def __init__(self, run: RunDir) -> None:
        self.trace = RunTrace(run_id=run.run_id)
        self.events = EventFollower(run.events)
        self.log = LogTail(run.output_log)

    def poll(self) -> bool:
        """Apply new events and log lines; True when anything changed."""
        from qbtui.runs.format import format_event

        changed = False
        for event in self.events.read_new():
            self._apply(event)
            line = format_event(event)
            if line:
                self.trace.events.extend(line.split("\n"))
            changed = True
        lines = self.log.read_new()
        if lines:
            self.trace.output.extend(lines)
            changed = True
        return changed

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        trace = self.trace
        if kind == "step":
            trace.step_events += 1
            loss = event.get("loss")
            if loss is not None:
                avg = event.get("avg_loss")
                trace.steps.append(int(event.get("step", len(trace.steps) + 1)))
                trace.losses.append(float(loss))
                trace.avg_losses.append(float(avg if avg is not None else loss))
                del trace.steps[:-TRACE_POINTS], trace.losses[:-TRACE_POINTS], trace.avg_losses[:-TRACE_POINTS]
            trace.learning_rate = event.get("lr", trace.learning_rate)
        elif kind == "likeness":
            trace.likeness.apply(event)
            trace.likeness_events += 1
        elif kind == "checkpoint":
            trace.checkpoints.append((event.get("step"), str(event["path"])))
        elif kind == "sample":
            trace.samples.append(sample_of(event))
        elif kind in ("warning", "error"):
            hint = event.get("hint")
            trace.notes.append(f"{kind}: {event['message']}" + (f" (fix: {hint})" if hint else ""))
