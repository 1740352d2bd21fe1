"""Start a friend's training and watch it: loss, progress, checkpoints, samples, log."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Header, Label, Log, Select, Static

from qbtui.errors import QbtuiError
from qbtui.tui.messages import RegistryChanged, RunsUpdated
from qbtui.tui.widgets.loss_chart import LossChart
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.run_progress import RunProgress
from qbtui.tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from qbtui.runs import RunInfo
    from qbtui.tui.app import QbtuiApp

BACKENDS = ("builtin", "kohya")
LOG_MAX_LINES = 500
ARTIFACTS_SHOWN = 3


class TrainingScreen(Screen):
    """One friend's training: choose preset and backend, see the command, watch the run."""

    BINDINGS = [
        Binding("s", "start", "Start", id="training.start"),
        Binding("f", "start(True)", "Force", id="training.force"),
        Binding("x", "stop", "Stop", id="training.stop"),
        Binding("u", "resume", "Resume", id="training.resume"),
        Binding("escape", "app.dashboard", "Back", id="training.back"),
    ]

    app: QbtuiApp

    def __init__(self, friend_id: str) -> None:
        super().__init__()
        self.friend_id = friend_id
        self.shown_run_id: str | None = None
        self.log_seen = 0
        self.steps_seen = -1

    def compose(self) -> ComposeResult:
        workspace = self.app.workspace
        friend = workspace.friend(self.friend_id)
        presets = list(workspace.registry.presets) or [workspace.settings.preset]
        preset = workspace.settings.preset if workspace.settings.preset in presets else presets[0]
        backend = workspace.settings.backend if workspace.settings.backend in BACKENDS else BACKENDS[0]
        yield Header(icon="✎")
        with Horizontal(id="train-options"):
            yield Label(f"{friend.name} ", id="train-friend")
            yield Select([(name, name) for name in presets], value=preset, allow_blank=False, compact=True, id="preset")
            yield Select([(name, name) for name in BACKENDS], value=backend, allow_blank=False, compact=True, id="backend")
            yield Button("Start (s)", id="start", compact=True, variant="primary")
        yield Static("", id="train-command", markup=False)
        yield RunProgress(self.app.clock, id="train-progress")
        yield LossChart(id="train-loss")
        with Horizontal(id="train-bottom"):
            yield Static("", id="train-artifacts")
            yield ImagePreview(id="train-sample")
            yield Log(max_lines=LOG_MAX_LINES, id="train-log")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"training {self.app.workspace.friend(self.friend_id).name}"
        self.show_command()
        self.refresh_run()
        self.set_interval(1.0, self._tick)

    @property
    def preset(self) -> str:
        return str(self.query_one("#preset", Select).value)

    @property
    def backend(self) -> str:
        return str(self.query_one("#backend", Select).value)

    def current_run(self) -> RunInfo | None:
        return self.app.workspace.latest_run(self.friend_id)

    @on(Select.Changed)
    def _options_changed(self) -> None:
        self.show_command()

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @work(thread=True, exclusive=True, group="command", exit_on_error=False)
    def show_command(self) -> None:
        """Show the exact command the run would execute (or why it cannot run)."""
        try:
            argv = self.app.workspace.command_for(self.friend_id, self.preset, self.backend)
            text = "$ " + shlex.join(argv)
        except QbtuiError as error:
            text = f"cannot run: {error}"
        self.app.call_from_thread(self.query_one("#train-command", Static).update, text)

    def refresh_run(self) -> None:
        """Redraw from the workspace: progress, loss, checkpoints and samples, new log lines."""
        workspace = self.app.workspace
        run = self.current_run()
        log = self.query_one("#train-log", Log)
        if run is None:
            self.query_one(RunProgress).show(None, None)
            self.query_one(LossChart).show([], [])
            self.query_one("#train-artifacts", Static).update("")
            return
        if run.run_id != self.shown_run_id:
            self.shown_run_id = run.run_id
            self.log_seen = 0
            self.steps_seen = -1
            log.clear()
        trace = workspace.trace(run.run_id)
        self.query_one(RunProgress).show(run, trace.learning_rate)
        if trace.step_events != self.steps_seen:
            self.steps_seen = trace.step_events
            self.query_one(LossChart).show(trace.losses, trace.avg_losses)
        artifacts = self._artifacts(run, trace.checkpoints, trace.samples, trace.notes)
        shown = self.query_one("#train-artifacts", Static)
        if str(shown.content) != artifacts:
            shown.update(artifacts, layout=False)
        if trace.samples:
            latest = Path(trace.samples[-1])
            preview = self.query_one("#train-sample", ImagePreview)
            if preview.path != latest:
                preview.path = latest
        new_lines = trace.log_since(self.log_seen)
        if new_lines:
            log.write_lines(new_lines)
        self.log_seen = trace.log_total

    @staticmethod
    def _artifacts(run: RunInfo, checkpoints: list[str], samples: list[str], notes: list[str]) -> str:
        lines = [f"run {run.run_id}"]
        if run.error:
            lines.append(f"error: {run.error}")
        lines += notes[-ARTIFACTS_SHOWN:]
        lines.append(f"checkpoints ({len(checkpoints)})")
        lines += [f" {Path(path).name}" for path in checkpoints[-ARTIFACTS_SHOWN:]]
        lines.append(f"samples ({len(samples)})")
        lines += [f" {Path(path).name}" for path in samples[-ARTIFACTS_SHOWN:]]
        if run.lora_path and run.state == "completed":
            lines.append(f"LoRA: {run.lora_path}")
        return "\n".join(lines)

    def _tick(self) -> None:
        run = self.current_run()
        if run is not None and run.state == "running":
            self.query_one(RunProgress).show(run, self.app.workspace.trace(run.run_id).learning_rate)

    def on_runs_updated(self, message: RunsUpdated) -> None:
        self.refresh_run()

    def on_screen_resume(self) -> None:
        self.refresh_run()

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self.show_command()

    def action_start(self, force: bool = False) -> None:
        """Start a run; `force` trains even when the dataset still has problems."""
        run = self.current_run()
        if run is not None and run.state in ("running", "queued"):
            self.notify(f"{run.run_id} is already {run.state}; stop it first (x)", severity="warning")
            return
        self.app.start_run(self.friend_id, self.preset, self.backend, force=force)

    def action_stop(self) -> None:
        run = self.current_run()
        if run is None or run.state != "running":
            self.notify("no running training to stop", severity="warning")
            return
        self.app.stop_run(run.run_id)

    def action_resume(self) -> None:
        run = self.current_run()
        if run is None or run.state not in ("stopped", "crashed", "failed"):
            self.notify("nothing to resume: only a stopped or crashed run can continue", severity="warning")
            return
        self.app.resume_run(run.run_id)
