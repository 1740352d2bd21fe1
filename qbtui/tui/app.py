"""`QbtuiApp`: the dashboard shell. It owns the workspace, routes intents, swaps screens."""

from __future__ import annotations

import gc
import getpass
import logging
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import events, work
from textual.app import App, SystemCommand
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.tui.commands import QbtuiCommands
from qbtui.tui.host import AppKeys
from qbtui.tui.intents import (
    CancelQueued,
    MoveQueued,
    OpenDataset,
    OpenTraining,
    ResumeRun,
    StartRun,
    StopFriendRun,
    StopRun,
)
from qbtui.tui.messages import (
    FriendChanged,
    RegistryChanged,
    RegistryHealth,
    RunsUpdated,
    RunWarnings,
    StatusChanged,
    WorkspaceError,
)
from qbtui.tui.notices import Notices, toast_text
from qbtui.tui.relay import MessageRelay
from qbtui.tui.screens.dashboard import DashboardScreen
from qbtui.tui.typeahead import TypedOn, retype
from qbtui.tui.unsaved import ask_before
from qbtui.tui.widgets.status_line import StatusLine
from qbtui.tui.widgets.steady_footer import SteadyFooter
from qbtui.workspace import Workspace

# Textual's default screen, then the dashboard: the stack's depth with only the dashboard.
DASHBOARD_DEPTH = 2

# Worker state changes go to the node that started the worker and stop there; bubbling
# them lets the app's one handler report every failed worker, whichever screen ran it.
Worker.StateChanged.bubble = True

log = logging.getLogger(__name__)


def failure_text(worker: Worker) -> str:
    """A failed worker in words: a QbtuiError's message and fix, else what failed and why."""
    error = worker.error
    if isinstance(error, QbtuiError):
        where = f"{printable(error.path.name)}: " if error.path is not None else ""
        return f"{where}{printable(error.message)}" + (f"\n{printable(error.fix)}" if error.fix else "")
    task = (worker.name or "a background task").strip("_").replace("_", " ")
    return f"{task} failed: {type(error).__name__}: {error}"


def settle_heap() -> None:
    """Collect, then exempt everything alive now (imports, styles, the first scan) from the
    cyclic garbage collector: its full passes then walk only what was made since, which keeps
    their pauses (tens of ms over the start-up heap) out of key-press latency."""
    gc.collect()
    gc.freeze()


def user_at_host() -> str:
    """`user@host`, shown in the header so an SSH session says where it runs."""
    return f"{getpass.getuser()}@{socket.gethostname().split('.')[0]}"


class QbtuiApp(App[None]):
    """Every friend on one screen; datasets, trainings and runs one key away."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "qbtui"
    COMMANDS = App.COMMANDS | {QbtuiCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = AppKeys.BINDINGS

    def __init__(self, workspace: Workspace, *, clock: Callable[[], float] = time.time, watch: bool = True) -> None:
        """Built by `qbtui.tui.make_app` (production, tests and benchmarks alike)."""
        super().__init__()
        self.workspace = workspace
        self.clock = clock
        self.watch_files = watch
        self.keymap: dict[str, str] = {}
        self._closing_down = False
        self.notices = Notices()
        self.sub_title = user_at_host()
        self.typed_on = TypedOn()
        self._clipboard_checked = False

    async def on_event(self, event: events.Event) -> None:
        """Type-ahead (qbtui.tui.typeahead): a key typed before a dialog opened, back here
        unhandled after it did, is typed again on the dialog instead of being dropped."""
        if isinstance(event, events.Key) and self.screen_stack:
            if not event.is_forwarded:
                self.typed_on.typed(event, self.screen)
            elif self.typed_on.strayed(event, self.screen) and event.key not in self.screen.active_bindings:
                retype(self.screen, event)
                return
        await super().on_event(event)

    # --- start-up -------------------------------------------------------------------
    def on_mount(self) -> None:
        self._apply_themes()
        self._apply_keymap()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self.screen_change_signal.subscribe(self, self._complete_screen)
        self.push_screen(DashboardScreen())
        self.call_after_refresh(self._start_live_updates)

    def _start_live_updates(self) -> None:
        """After the first frame: scans, the folder watcher and the run poller."""
        self.workspace.start(MessageRelay(self.post_message), watch=self.watch_files)
        self.scan_datasets()

    def _apply_themes(self) -> None:
        from qbtui.tui.themes import apply_themes, load_themes

        apply_themes(self, load_themes(self.workspace.registry_path), self.workspace.settings.theme)

    def _apply_keymap(self) -> None:
        """Take `[keymap]` from the registry; ids no binding has are reported after the next frame."""
        keymap = self.workspace.registry.keymap
        if keymap == self.keymap:
            return
        self.keymap = dict(keymap)
        self.set_keymap(self.keymap)
        if self.keymap:
            self.call_after_refresh(self._report_unknown_binding_ids)

    def _report_unknown_binding_ids(self) -> None:
        from qbtui.tui.screens.help import binding_ids

        unknown = sorted(set(self.keymap) - binding_ids())
        if unknown:
            self.notify(
                f"[keymap] in {self.workspace.registry_path}: no binding has the id {', '.join(map(repr, unknown))}; "
                "the ids are on the help screen (f1)",
                title="Keymap",
                severity="warning",
                timeout=12,
                markup=False,
            )

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_datasets(self) -> None:
        """Fill every friend's status after the first frame, one friend at a time, then settle the heap."""
        for friend in self.workspace.friends():
            self.rescan_one(friend.id)
        self.call_from_thread(self._settle_heap)

    def _settle_heap(self) -> None:
        if not self._closing_down:
            settle_heap()

    def rescan_one(self, friend_id: str) -> None:
        """Scan one friend (from a worker thread) and tell the screen; errors become notifications."""
        try:
            self.workspace.rescan(friend_id)
        except (QbtuiError, OSError) as error:
            self.post_message(WorkspaceError(str(error)))
            return
        self.post_message(FriendChanged(friend_id))

    def on_unmount(self) -> None:
        self._closing_down = True
        self.workspace.stop()
        gc.unfreeze()

    def _complete_screen(self, screen: Screen) -> None:
        """Once a screen is composed: every full screen gets the status line, every dialog a footer with its own keys."""
        screen.call_after_refresh(self._complete_composed_screen, screen)

    def _complete_composed_screen(self, screen: Screen) -> None:
        if not screen.is_attached:
            return
        if isinstance(screen, ModalScreen):
            if not screen.query(Footer):
                screen.mount(SteadyFooter())
                # The screen announced its bindings before this footer listened: announce them again.
                screen.call_after_refresh(screen.refresh_bindings)
        elif screen.query(Footer) and not screen.query(StatusLine):
            screen.mount(StatusLine(), before=screen.query_one(Footer))
        else:
            self._show_status()

    def copy_to_clipboard(self, text: str) -> None:
        """Copy through the terminal; after the first copy, say once if tmux keeps copies to itself."""
        super().copy_to_clipboard(text)
        if self._clipboard_checked:
            return
        self._clipboard_checked = True
        from qbtui.tui.clipboard import TMUX_CLIPBOARD_HINT, tmux_keeps_copies

        if tmux_keeps_copies():
            self.notify(TMUX_CLIPBOARD_HINT, title="Clipboard inside tmux", severity="warning", timeout=12, markup=False)

    # --- notices and the status line -----------------------------------------------------
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
        cause: str | None = None,
    ) -> None:
        """Keep the whole notice in the log; the toast shows a few lines and points to the log (thread-safe).
        `cause`: what the error is about ("registry", "draw"), so that it leaves the status line once
        that is put right (`resolve_errors`)."""
        message = printable(message, keep_newlines=True)
        self.notices.add(message, severity=severity, title=title, cause=cause)
        width = max(20, min(60, self.size.width // 2) - 4)
        super().notify(toast_text(message, width=width), title=title, severity=severity, timeout=timeout, markup=markup)
        self.post_message(StatusChanged())

    def on_status_changed(self, message: StatusChanged) -> None:
        self._show_status()

    def _show_status(self) -> None:
        """Redraw the status line of every screen on the stack (the one below a dialog shows through)."""
        for screen in self.screen_stack:
            for line in screen.query(StatusLine):
                line.show_status()

    def action_notices(self) -> None:
        from qbtui.tui.screens.notices import NoticesScreen

        if not isinstance(self.screen, NoticesScreen):
            self.push_screen(NoticesScreen())

    def resolve_errors(self, cause: str) -> None:
        """The errors of `cause` are over: the status line stops showing them."""
        self.notices.resolve(cause)
        self._show_status()

    def on_registry_health(self, message: RegistryHealth) -> None:
        if message.problem is None:
            self.notices.resolve("registry")
            self.notify("registry OK again: registry.toml was reloaded", title="Registry")
        self._show_status()

    # --- world changes: forward to the screen that shows them -------------------------
    def _tell_screen(self, message: Message) -> None:
        """Forward a world change to the active screen; none is left while the app closes."""
        if self.screen_stack:
            self.screen.post_message(message)

    def on_friend_changed(self, message: FriendChanged) -> None:
        self._tell_screen(FriendChanged(message.friend_id))
        self._check_faces(message.friend_id)

    def _check_faces(self, friend_id: str) -> None:
        """Start the face analysis of photos the scan has not seen yet; say once if dlib is missing."""
        notice = self.workspace.face_notice()
        if notice is not None:
            self.notify(notice, title="Faces", severity="warning", timeout=12, markup=False)
        if self.workspace.faces_pending(friend_id):
            self.analyse_faces(friend_id)

    @work(thread=True, group="faces", exit_on_error=False)
    def analyse_faces(self, friend_id: str) -> None:
        try:
            status = self.workspace.analyse_faces(friend_id)
        except (QbtuiError, OSError) as error:
            self.post_message(WorkspaceError(str(error)))
            return
        if status is not None:
            self.post_message(FriendChanged(friend_id))

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self._apply_keymap()
        self._tell_screen(RegistryChanged())

    def on_runs_updated(self, message: RunsUpdated) -> None:
        self._tell_screen(RunsUpdated(message.run_ids))
        self._show_status()

    def on_run_warnings(self, message: RunWarnings) -> None:
        """Each new warning of the run listing once as a notice; the screen shows what it warns of now."""
        for warning in message.new:
            self.notify(warning, title="Runs", severity="warning", timeout=12, markup=False)
        self._tell_screen(RunWarnings(message.new))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one report of a failed worker: a readable toast; the traceback goes to the log."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        log.error("worker %s failed", event.worker.name, exc_info=error)
        self.log.error(f"worker {event.worker.name} failed: {error!r}")
        self.notify(failure_text(event.worker), title="Something failed", severity="error", timeout=12, markup=False)

    def on_workspace_error(self, message: WorkspaceError) -> None:
        self.notify(message.text, severity="error", timeout=10, cause=message.cause)

    # --- ways out: none drops unsaved text without asking (qbtui.tui.unsaved) ------------
    async def action_quit(self) -> None:
        """Quit (ctrl+q, q, the palette); asks first when a screen holds unsaved text."""
        ask_before(self, self.exit)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's palette commands less its own Quit: the palette has one Quit (ours)."""
        return (command for command in super().get_system_commands(screen) if command.title != "Quit")

    # --- intents --------------------------------------------------------------------
    def show(self, screen: Screen) -> None:
        """Show a full screen on top of the dashboard (never a tall stack of screens)."""
        ask_before(self, lambda: self._show(screen))

    def _show(self, screen: Screen) -> None:
        while len(self.screen_stack) > DASHBOARD_DEPTH + 1:
            self.pop_screen()
        if len(self.screen_stack) == DASHBOARD_DEPTH + 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def action_help(self) -> None:
        from qbtui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        from qbtui.tui.screens.runs import RunsScreen

        if not isinstance(self.screen, RunsScreen):
            self.show(RunsScreen())

    async def action_back(self) -> None:
        """Back to where the user came from: the screen below, or the dashboard."""
        if len(self.screen_stack) > DASHBOARD_DEPTH + 1:
            ask_before(self, self.pop_screen)
        else:
            self.action_dashboard()

    # Intents the screens post (qbtui/tui/intents.py); each runs the action it names.
    def on_start_run(self, intent: StartRun) -> None:
        self.start_run(intent.friend_id, intent.preset, intent.backend, force=intent.force, queue=intent.queue)

    def on_stop_run(self, intent: StopRun) -> None:
        self.stop_run(intent.run_id)

    def on_stop_friend_run(self, intent: StopFriendRun) -> None:
        self.action_stop(intent.friend_id)

    def on_resume_run(self, intent: ResumeRun) -> None:
        self.resume_run(intent.run_id)

    def on_cancel_queued(self, intent: CancelQueued) -> None:
        self.cancel_queued(intent.run_id)

    def on_move_queued(self, intent: MoveQueued) -> None:
        self.move_queued(intent.run_id, intent.offset)

    def on_open_dataset(self, intent: OpenDataset) -> None:
        self.action_open_dataset(intent.friend_id)

    def on_open_training(self, intent: OpenTraining) -> None:
        if intent.over:
            self.open_training_over(intent.friend_id)
        else:
            self.action_train(intent.friend_id)

    def open_training_over(self, friend_id: str) -> None:
        """A friend's Training screen over the current one (its `esc` comes back here)."""
        from qbtui.tui.screens.training import TrainingScreen

        self.push_screen(TrainingScreen(friend_id))

    def action_dashboard(self) -> None:
        """Back to the friends dashboard (the bottom screen after Textual's default)."""
        ask_before(self, self._to_dashboard)

    def _to_dashboard(self) -> None:
        while len(self.screen_stack) > DASHBOARD_DEPTH:
            self.pop_screen()

    def action_train(self, friend_id: str) -> None:
        from qbtui.tui.screens.training import TrainingScreen

        self.show(TrainingScreen(friend_id))

    def action_open_dataset(self, friend_id: str) -> None:
        from qbtui.tui.screens.dataset import DatasetScreen

        self.show(DatasetScreen(friend_id))

    def action_add_friend(self) -> None:
        from qbtui.tui.screens.add_friend import AddFriendScreen

        self.push_screen(AddFriendScreen(), self._friend_added)

    def _friend_added(self, friend_id: str | None) -> None:
        if friend_id:
            self.workspace.reload_registry()
            if isinstance(self.screen, DashboardScreen):
                self.screen.select_friend(friend_id)
            self.screen.post_message(RegistryChanged())
            self.rescan_friend(friend_id)

    def action_prompt(self) -> None:
        from qbtui.tui.screens.prompt import PromptScreen

        self.show(PromptScreen())

    def action_pick_theme(self) -> None:
        self.action_change_theme()

    def action_set_theme(self, name: str) -> None:
        self.theme = name

    def action_stop(self, friend_id: str) -> None:
        run = self.workspace.running_run(friend_id)
        if run is None:
            self.notify(
                f"{printable(self.workspace.friend(friend_id).name)} has no running training", markup=False, severity="warning"
            )
            return
        self.stop_run(run.run_id)

    @work(thread=True, group="rescan", exit_on_error=False)
    def rescan_friend(self, friend_id: str) -> None:
        self.rescan_one(friend_id)

    @work(thread=True, group="runs", exit_on_error=False)
    def start_run(self, friend_id: str, preset: str, backend: str, *, force: bool = False, queue: bool = False) -> None:
        """Start (or with `queue`, queue) a run in a worker; errors appear as a notification with their fix."""
        self._run_intent(
            lambda: self.workspace.start_run(friend_id, preset=preset, backend=backend, force=force, queue=queue),
            "queued" if queue else "started",
        )

    @work(thread=True, group="runs", exit_on_error=False)
    def stop_run(self, run_id: str) -> None:
        self._run_intent(lambda: self.workspace.stop_run(run_id), "stopping")

    @work(thread=True, group="runs", exit_on_error=False)
    def resume_run(self, run_id: str) -> None:
        self._run_intent(lambda: self.workspace.resume_run(run_id), "resumed")

    @work(thread=True, group="runs", exit_on_error=False)
    def cancel_queued(self, run_id: str) -> None:
        self._run_intent(lambda: self.workspace.cancel_queued(run_id), "cancelled")

    @work(thread=True, exclusive=True, group="queue", exit_on_error=False)
    def move_queued(self, run_id: str, offset: int) -> None:
        self._run_intent(lambda: self.workspace.move_queued(run_id, offset), None)
        place = self.workspace.queue_position(run_id)
        if place is not None:
            self.call_from_thread(self.notify, f"moved to place {place} of {len(self.workspace.queue())}: {run_id}")

    def _run_intent(self, call: Callable[[], object], verb: str | None) -> None:
        try:
            result = call()
        except QbtuiError as error:
            self.call_from_thread(self.notify, str(error), title="qbtui", severity="error", timeout=12)
            return
        if verb is not None:
            run_id = getattr(result, "run_id", "")
            state = getattr(result, "state", None)
            self.call_from_thread(self.notify, f"{run_id} {'queued' if state == 'queued' else verb}".strip())
        self.post_message(RunsUpdated(self.workspace.refresh_runs()))

    # --- themes ---------------------------------------------------------------------
    def _on_theme_changed(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if name and name != self.workspace.settings.theme:
            self.save_theme(name)

    @work(thread=True, exclusive=True, group="theme", exit_on_error=False)
    def save_theme(self, name: str) -> None:
        """Keep the chosen theme in the registry's settings."""
        try:
            self.workspace.save_theme(name)
        except QbtuiError as error:
            self.call_from_thread(self.notify, str(error), severity="error", timeout=12)
