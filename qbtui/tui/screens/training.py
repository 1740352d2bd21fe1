"""Start a friend's training and watch it: loss chart, progress, checkpoints, sample
thumbnails and the run's log.

Nothing long starts on a stray key: `s` (start), `q` (queue behind the running run),
`f` (train despite dataset problems) and `x` (stop) each ask first. Before any key is
pressed the readiness line says whether the dataset blocks training and whether the
device is busy (then `s` offers to queue).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Header, Label, Select, Static

from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.registry import BACKENDS
from qbtui.runs.format import where_words
from qbtui.runs.info import RESUMABLE_STATES
from qbtui.runs.placement import HERE
from qbtui.tui.host import host
from qbtui.tui.intents import ResumeRun, StartRun, StopRun
from qbtui.tui.messages import FriendChanged, RegistryChanged, RunsUpdated
from qbtui.tui.widgets.dataset_confirm import ConfirmScreen
from qbtui.tui.widgets.likeness_chart import LikenessChart
from qbtui.tui.widgets.loss_chart import LossChart
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.reflow_log import ReflowLog
from qbtui.tui.widgets.run_progress import RunProgress
from qbtui.tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from qbtui.runs import RunInfo
    from qbtui.workspace import RunTrace
    from qbtui.workspace.samples import RunSample

LOG_MAX_LINES = 500
CHECKPOINTS_SHOWN = 6
LOG_SOURCES = ("events", "output")
# Under this width the options row drops the friend's name (the header has it): see app.tcss.
COMPACT_WIDTH = 80
# `[` and `]` share one footer entry.
SAMPLES = Binding.Group("Samples", compact=True)


def artifact_lines(run: RunInfo, trace: RunTrace) -> Text:
    """Run id, error and notes, then checkpoints by step (newest first); one line each (the pane cuts, never wraps)."""
    lines = [Text(f"run {run.run_id}", style="bold")]
    if run.chosen is not None:
        lines.append(Text(run.chosen.words))
    if run.error:
        lines.append(Text(f"error: {run.error}", style="red"))
    lines += [Text(note) for note in trace.notes[-2:]]
    lines.append(Text(f"checkpoints by step ({len(trace.checkpoints)})", style="bold"))
    for step, path in reversed(trace.checkpoints[-CHECKPOINTS_SHOWN:]):
        lines.append(Text(f"{step if step is not None else '?':>6}  {Path(path).stem}"))
    if run.lora_path and (run.state == "completed" or run.evaluating):
        lines.append(Text(f"LoRA: {run.lora_path}"))
    return Text("\n").join(lines)


class TrainingScreen(Screen):
    """One friend's training: choose preset and backend, see the command, watch the run."""

    BINDINGS = [
        Binding("s", "start", "Start", id="training.start"),
        Binding("q", "start(False, True)", "Queue", id="training.queue"),
        # Off the footer (the readiness line and the refusal offer it where it applies): `[] Samples` fits 80 columns.
        Binding("f", "start(True)", "Force", show=False, id="training.force"),
        Binding("x", "stop", "Stop", id="training.stop"),
        Binding("u", "resume", "Resume", id="training.resume"),
        Binding("l", "toggle_log", "Log", id="training.log"),
        Binding("left_square_bracket", "page_sample(-1)", "Previous sample", group=SAMPLES, id="training.previous_sample"),
        Binding("right_square_bracket", "page_sample(1)", "Next sample", group=SAMPLES, id="training.next_sample"),
        Binding("escape", "app.back", "Back", id="training.back"),
    ]

    def __init__(self, friend_id: str) -> None:
        super().__init__()
        self.friend_id = friend_id
        self.shown_run_id: str | None = None
        self.log_source = LOG_SOURCES[0]
        self.log_seen = 0
        self.steps_seen = -1
        self.likeness_seen = -1
        # The sample `[`/`]` paged to (its index in the run's samples); None follows the newest.
        self.sample_index: int | None = None
        # The (run id, state) the command line was last shown for.
        self.commanded: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        workspace = host(self).workspace
        friend = workspace.friend(self.friend_id)
        presets = list(workspace.registry.presets) or [workspace.settings.preset]
        preset = workspace.settings.preset if workspace.settings.preset in presets else presets[0]
        backend = workspace.settings.backend if workspace.settings.backend in BACKENDS else BACKENDS[0]
        yield Header(icon="✎")
        with Horizontal(id="train-options"):
            yield Label(Content(f"{printable(friend.name)} "), id="train-friend")
            yield Select([(name, name) for name in presets], value=preset, allow_blank=False, compact=True, id="preset")
            yield Select([(name, name) for name in BACKENDS], value=backend, allow_blank=False, compact=True, id="backend")
            for button in (
                Button("Start (s)", id="start", compact=True, variant="primary"),
                Button("Queue (q)", id="queue", compact=True),
            ):
                # Keys only: `tab tab enter` never lands on a button that starts a run.
                button.can_focus = False
                yield button
        yield Static("", id="train-readiness")
        yield Static("", id="train-command", markup=False)
        yield RunProgress(host(self).clock, id="train-progress")
        with Horizontal(id="train-middle"):
            yield LossChart(id="train-loss")
            yield LikenessChart(id="train-likeness")
            with Vertical(id="train-sample-box"):
                yield ImagePreview(id="train-sample")
                yield Label("no samples yet", id="train-sample-caption")
        with Horizontal(id="train-bottom"):
            yield Static("", id="train-artifacts")
            yield ReflowLog(max_lines=LOG_MAX_LINES, min_width=20, markup=False, highlight=False, id="train-log")
        # Compact: every shown key, `f1 Help` included, fits 80 columns.
        yield SteadyFooter(compact=True)

    def on_resize(self) -> None:
        self.set_class(self.size.width < COMPACT_WIDTH, "-compact")

    def on_mount(self) -> None:
        self.sub_title = f"training {printable(host(self).workspace.friend(self.friend_id).name)}"
        self.query_one("#train-log", ReflowLog).border_title = "log (events)"
        self.show_command()
        self.show_readiness()
        self.refresh_run()
        self.set_interval(1.0, self._tick)

    @property
    def preset(self) -> str:
        return str(self.query_one("#preset", Select).value)

    @property
    def backend(self) -> str:
        return str(self.query_one("#backend", Select).value)

    def current_run(self) -> RunInfo | None:
        return host(self).workspace.latest_run(self.friend_id)

    def busy_with(self) -> RunInfo | None:
        """Another friend's run that holds the device now, if any."""
        runs = host(self).workspace.runs()
        running = [run for run in runs if run.state == "running" and run.where == HERE and run.friend_id != self.friend_id]
        return running[0] if running else None

    def blocker(self) -> str | None:
        """Why this friend's dataset blocks training, in a few words (None: it does not, or not scanned yet)."""
        status = host(self).workspace.status(self.friend_id)
        return status.blocker() if status is not None else None

    @on(Select.Changed)
    def _options_changed(self) -> None:
        self.show_command()

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#queue")
    def _queue_pressed(self) -> None:
        self.action_start(queue=True)

    def commanded_run(self) -> RunInfo | None:
        """The run whose command the screen shows: a live one, or one `u` resumes; else None (a new run's)."""
        run = self.current_run()
        return run if run is not None and (run.live or run.state in RESUMABLE_STATES) else None

    @work(thread=True, exclusive=True, group="command", exit_on_error=False)
    def show_command(self) -> None:
        """Show the exact command the current run executes, with its run id (or the one a new run
        would execute; or why it cannot run)."""
        workspace = host(self).workspace
        run = self.commanded_run()
        try:
            # A run that records no command (a host's run is started there) shows the one a new run would.
            recorded = workspace.run_command(run.run_id) if run is not None else []
            argv = recorded or workspace.command_for(self.friend_id, self.preset, self.backend)
            text = "$ " + shlex.join(argv)
        except QbtuiError as error:
            text = f"cannot run: {error}"
        self.app.call_from_thread(self.query_one("#train-command", Static).update, text)

    def show_readiness(self) -> None:
        """One line: live run, blocked dataset, busy device, or ready."""
        colors = self.app.theme_variables
        run = self.current_run()
        blocker = self.blocker()
        busy = self.busy_with()
        if run is not None and run.live:
            where = where_words(run.state, run.where)
            stops = " (x stops it)" if run.state == "running" else ""
            text = Text(f"{run.activity} {where}: {run.run_id}{stops}", colors["accent"])
        elif run is not None and run.state in RESUMABLE_STATES:
            text = Text(f"{run.state} at {run.step}/{run.max_steps} · u resumes · s starts a new run", colors["warning"])
        elif blocker:
            text = Text(f"blocked: {blocker} · d on the dashboard opens the dataset · f trains anyway", colors["error"])
        elif busy is not None:
            text = Text(f"device busy: {busy.friend_id} is training ({busy.run_id}) · s or q queues this run after it")
            text.stylize(colors["warning"])
        elif host(self).workspace.status(self.friend_id) is None:
            text = Text("checking the dataset…", style="dim")
        else:
            text = Text("ready to train · s starts", colors["success"])
        readiness = self.query_one("#train-readiness", Static)
        if str(readiness.content) != text.plain:
            readiness.update(text)

    def refresh_run(self) -> None:
        """Redraw from the workspace: progress, loss, checkpoints and samples, new log lines."""
        self.show_readiness()
        workspace = host(self).workspace
        run = self.current_run()
        if run is None:
            self.query_one(RunProgress).show(None, None)
            self.query_one(LossChart).show([], [], [])
            self.query_one("#train-artifacts", Static).update("")
            return
        if run.run_id != self.shown_run_id:
            self.shown_run_id = run.run_id
            self.steps_seen = self.likeness_seen = -1
            self.sample_index = None
            self._restart_log()
        if (run.run_id, run.state) != self.commanded:
            self.commanded = (run.run_id, run.state)
            self.show_command()
        trace = workspace.trace(run.run_id)
        self.query_one(RunProgress).show(run, trace.learning_rate)
        if trace.step_events != self.steps_seen:
            self.steps_seen = trace.step_events
            self.query_one(LossChart).show(trace.steps, trace.losses, trace.avg_losses)
        self._show_likeness(trace)
        self.query_one("#train-artifacts", Static).update(artifact_lines(run, trace))
        if trace.likeness.best_sample and self.sample_index is None:
            self._show_picture(Path(trace.likeness.best_sample), trace.likeness.best_words or "")
        else:
            self._show_sample(trace.samples)
        self._write_log(trace)

    def _show_likeness(self, trace: RunTrace) -> None:
        """The likeness chart beside the loss, once the run has scored anything (hidden before)."""
        chart = self.query_one(LikenessChart)
        chart.display = trace.likeness_events > 0
        if trace.likeness_events != self.likeness_seen:
            self.likeness_seen = trace.likeness_events
            chart.show(trace.likeness)

    def _show_picture(self, path: Path | None, caption: str) -> None:
        preview = self.query_one("#train-sample", ImagePreview)
        if preview.path != path:
            preview.path = path
        else:
            preview.reload_if_changed()
        label, shown = self.query_one("#train-sample-caption", Label), printable(caption)
        if str(label.content) != shown:
            label.update(Content(shown))

    def _show_sample(self, samples: list[RunSample]) -> None:
        """The sample `[`/`]` paged to (the newest until then), captioned with its place, step, weight and seed."""
        if not samples:
            self._show_picture(None, "no samples yet")
            return
        index = len(samples) - 1 if self.sample_index is None else min(self.sample_index, len(samples) - 1)
        sample = samples[index]
        self._show_picture(Path(sample.path), f"{index + 1}/{len(samples)} · {sample.caption}")

    def action_page_sample(self, offset: int) -> None:
        """Show the run's previous (-1) or next (1) sample; paging past the newest follows new ones again."""
        samples = host(self).workspace.trace(self.shown_run_id).samples if self.shown_run_id else []
        if not samples:
            self.notify("no samples of this run yet", severity="warning")
            return
        current = len(samples) - 1 if self.sample_index is None else self.sample_index
        index = max(0, min(len(samples) - 1, current + offset))
        self.sample_index = None if index == len(samples) - 1 else index
        self._show_sample(samples)

    def _lines(self, trace: RunTrace):
        return trace.events if self.log_source == "events" else trace.output

    def _write_log(self, trace: RunTrace) -> None:
        tail = self._lines(trace)
        log = self.query_one("#train-log", ReflowLog)
        for line in tail.since(self.log_seen):
            log.add(Text(printable(line)))
        self.log_seen = tail.total

    def _restart_log(self) -> None:
        self.log_seen = 0
        self.query_one("#train-log", ReflowLog).reset()

    def action_toggle_log(self) -> None:
        """Switch the log between the run's events (as `qbtui logs` prints them) and the raw output."""
        self.log_source = LOG_SOURCES[(LOG_SOURCES.index(self.log_source) + 1) % len(LOG_SOURCES)]
        label = "events" if self.log_source == "events" else "raw output"
        self.query_one("#train-log", ReflowLog).border_title = f"log ({label})"
        self._restart_log()
        if self.shown_run_id:
            self._write_log(host(self).workspace.trace(self.shown_run_id))

    def _tick(self) -> None:
        run = self.current_run()
        if run is not None and run.state == "running":
            self.query_one(RunProgress).show(run, host(self).workspace.trace(run.run_id).learning_rate)

    def on_runs_updated(self, message: RunsUpdated) -> None:
        self.refresh_run()

    def on_friend_changed(self, message: FriendChanged) -> None:
        if message.friend_id == self.friend_id:
            self.show_readiness()

    def on_screen_resume(self) -> None:
        self.refresh_run()

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self.show_command()

    def action_start(self, force: bool = False, queue: bool = False) -> None:
        """Ask, then start (or queue behind the running run); `force` trains despite dataset problems."""
        run = self.current_run()
        if run is not None and run.live:
            self.notify(f"{run.run_id} is already {run.state}: x stops it", severity="warning")
            return
        blocker = self.blocker()
        if blocker and not force:
            self.notify(
                f"blocked: {blocker}. Fix the dataset (d on the dashboard), or press f to train anyway", severity="warning"
            )
            return
        busy = self.busy_with()
        queue = queue or busy is not None
        friend = host(self).workspace.friend(self.friend_id)
        what = f"{printable(friend.name)} with preset {self.preset} on {self.backend}"
        if queue and busy is not None:
            title, question = "Queue training", f"The device is busy with {busy.run_id}.\nQueue {what} for the first free place?"
        elif queue:
            title, question = "Queue training", f"Queue {what}? It starts on the first free place, now if one is."
        else:
            title, question = "Start training", f"Start training {what}?"
        if force and blocker:
            question += f"\nThe dataset is blocked ({blocker}); it trains anyway."
        preset, backend = self.preset, self.backend

        def answered(agreed: bool | None) -> None:
            if agreed:
                self.post_message(StartRun(self.friend_id, preset, backend, force=force, queue=queue))

        self.app.push_screen(ConfirmScreen(question, title=title), answered)

    def action_stop(self) -> None:
        """Ask, then stop the running training (its state is kept for resume, u)."""
        run = self.current_run()
        if run is None or run.state != "running":
            self.notify("no running training to stop", severity="warning")
            return
        run_id = run.run_id

        def answered(agreed: bool | None) -> None:
            if agreed:
                self.post_message(StopRun(run_id))

        question = f"Stop {run_id} at step {run.step}/{run.max_steps}?\nIts state is kept: u resumes it."
        self.app.push_screen(ConfirmScreen(question, title="Stop training"), answered)

    def action_resume(self) -> None:
        run = self.current_run()
        if run is None or run.state not in ("stopped", "crashed", "failed"):
            self.notify("nothing to resume: only a stopped or crashed run can continue", severity="warning")
            return
        self.post_message(ResumeRun(run.run_id))
