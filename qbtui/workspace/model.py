"""The dashboard's model: registry, dataset statuses and live run snapshots, no UI.

`Workspace` is what every screen reads through `host(self).workspace` (qbtui/tui/host.py):

- `registry` / `settings`: the loaded `qbtui.registry.Registry` and its `Settings`. The
  registry is a snapshot: never edited in place, replaced as a whole (one reference swap
  under a lock) when the file changed on disk or the workspace edited it (`add_friend`,
  `save_theme`, `pick_choice`). Domain calls that edit or re-read a registry get a fresh
  copy, so a reader on another thread never sees half of a reload.
- `friends()`, `friend(id)`: friends in registry order; `friend` raises `QbtuiError`.
- `status(id) -> FriendStatus | None`: the last scan (None until the first scan ran);
  `rescan(id) -> FriendStatus` scans now (blocking: call it from a worker) and caches it,
  with the face checks of the photos already analysed; `faces_pending(id)` says whether
  some still wait, `analyse_faces(id)` analyses them (seconds, in a worker) and rescans.
- `runs()`, `run(run_id)`, `latest_run(friend_id)`, `runs_for(friend_id)`: `RunInfo`
  snapshots, refreshed by the poller; `queue()` the queued run ids in queue order and
  `runs_in_queue_order()` the runs as the Runs screen lists them, `wait_reason(run_id)` why a
  queued run has not started (the queue's own placement rule); `trace(run_id) -> RunTrace`
  holds what a run's events and log said (losses, checkpoints, samples, log tail).
  `run_warnings()`: what the last listing of runs warned of (a run folder it skipped, and why),
  each change told to `run_warnings` with the warnings that are new.
- `registry_problem`: what is wrong with registry.toml on disk while it is bad (the last
  good registry stays loaded), else None; each change is told to `registry_health`.
- `run_command(run_id)`: the command a created run executes (its run.toml's).
- intents: `start_run`, `stop_run`, `resume_run`, `command_for`, `cancel_queued`,
  `move_queued`, `add_friend`, `save_theme`; each is a blocking domain call for a worker.

`start(listener)` starts the `DatasetWatcher` and the run poller thread; both call the
`WorkspaceListener`'s plain callbacks (from their own threads) once the model already holds
the new state. The UI turns them into its messages (qbtui/tui/relay.py). `stop()` ends
both; runs are separate processes and never stop with the workspace.

Domain modules are imported inside the methods that need them so the first frame only
waits for the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from qbtui.errors import QbtuiError
from qbtui.registry import Friend, Registry, Settings
from qbtui.rundir import RunDir
from qbtui.workspace.trace import RunFollower, RunTrace

if TYPE_CHECKING:
    from qbtui.dataset import FriendStatus
    from qbtui.runs import RunInfo

T = TypeVar("T")


class WorkspaceListener(Protocol):
    """What the workspace tells its user; called from the watcher's and the poller's threads."""

    def friend_changed(self, friend_id: str) -> None:
        """Files of one friend's dataset changed; `status(friend_id)` is the new scan."""

    def registry_changed(self) -> None:
        """registry.toml changed and the new snapshot is loaded."""

    def registry_health(self, problem: str | None) -> None:
        """registry.toml turned bad (`registry.toml:12 what is wrong`) or good again (None)."""

    def runs_updated(self, run_ids: tuple[str, ...]) -> None:
        """These runs changed (state, events, queue place); the snapshots are current."""

    def run_warnings(self, new: tuple[str, ...]) -> None:
        """The listing of runs warns of something else (`Workspace.run_warnings()` holds what it warns of now);
        `new`: the warnings the listing before did not have (a run folder skipped since, and why)."""

    def error(self, text: str, cause: str | None = None) -> None:
        """A background refresh failed; `text` is the QbtuiError text with its fix; `cause`
        is "registry" for a registry.toml that failed to load (registry_health(None) says it is gone)."""


def _missing_faces(status: FriendStatus) -> tuple[Path, ...]:
    """The photos of a scan without a face analysis (a failed analysis is not retried for the same ones)."""
    return tuple(image.path for image in status.images if image.faces is None)


class Workspace:
    """Registry, dataset statuses and run snapshots for one registry.toml."""

    def __init__(self, registry_path: Path | str, *, poll_interval: float = 0.25, list_every: float = 1.0) -> None:
        self.registry_path = Path(registry_path)
        self._registry = Registry.load(self.registry_path)
        # Held while a new registry snapshot is read or edited and swapped in.
        self._registry_lock = threading.Lock()
        self.poll_interval = poll_interval
        self.list_every = list_every
        self._statuses: dict[str, FriendStatus] = {}
        self._runs: dict[str, RunInfo] = {}
        self._queue: tuple[str, ...] = ()
        self._waits: dict[str, str] = {}
        self._run_warnings: tuple[str, ...] = ()
        # `registry.toml:12 what is wrong` while the file on disk is bad (the last good one is kept).
        self.registry_problem: str | None = None
        self._followers: dict[str, RunFollower] = {}
        self._lock = threading.RLock()
        # One scan at a time: a scan that starts later (after a file changed) also stores later.
        self._scan_lock = threading.Lock()
        self._scan_cache: Any = None
        self._face_caches: dict[Path, Any] = {}
        self._analysing: set[str] = set()
        self._face_lock = threading.Lock()
        self._attempted: dict[str, tuple[Path, ...]] = {}
        self._face_notice_given = False
        self._listener: WorkspaceListener | None = None
        self._watcher: Any = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._poll_now = threading.Event()

    # --- registry -------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The current registry snapshot (replaced as a whole, never edited in place)."""
        return self._registry

    @property
    def settings(self) -> Settings:
        return self.registry.settings

    def friends(self) -> list[Friend]:
        """Every friend, in registry order."""
        return list(self.registry.friends.values())

    def friend(self, friend_id: str) -> Friend:
        """One friend by id; `QbtuiError` naming the registry when there is none."""
        try:
            return self.registry.friends[friend_id]
        except KeyError:
            raise QbtuiError(
                f"no friend with id {friend_id!r}",
                path=self.registry_path,
                fix="add the friend first (key a on the dashboard, or `qbtui add NAME`)",
            ) from None

    def reload_registry(self) -> bool:
        """Swap in a new snapshot when registry.toml changed on disk; True when it did."""
        with self._registry_lock:
            if not self._registry.changed_on_disk():
                return False
            self._publish(Registry.load(self.registry_path))
        return True

    def _edit_registry(self, call: Callable[[Registry], T]) -> T:
        """Run a domain call on a fresh copy of the registry (it may edit or re-read it), then publish that copy."""
        with self._registry_lock:
            fresh = Registry.load(self.registry_path)
            try:
                return call(fresh)
            finally:
                self._publish(fresh)

    def _publish(self, registry: Registry) -> None:
        """Make `registry` the current snapshot (caller holds `_registry_lock`)."""
        friends_before = list(self._registry.friends)
        self._registry = registry
        if self._watcher is not None and list(registry.friends) != friends_before:
            self._watcher.watch_friends(self.friends())

    def add_friend(self, name: str, *, token: str | None, repeats: int, describe: str) -> Friend:
        """Add a friend to registry.toml (`Registry.add_friend`'s checks and refusals)."""
        return self._edit_registry(lambda registry: registry.add_friend(name, token=token, repeats=repeats, describe=describe))

    def save_theme(self, name: str) -> None:
        """Store the chosen theme in the registry's settings."""
        if self.settings.theme != name:
            self._edit_registry(lambda registry: registry.set_setting("theme", name))

    # --- datasets -------------------------------------------------------------
    def status(self, friend_id: str) -> FriendStatus | None:
        """The last scan of a friend's dataset, or None before the first scan."""
        return self._statuses.get(friend_id)

    def rescan(self, friend_id: str) -> FriendStatus:
        """Scan one friend's folder now (cached by mtime and size) and keep the result."""
        from qbtui.dataset import ScanCache, scan_friend

        with self._scan_lock:
            if self._scan_cache is None:
                self._scan_cache = ScanCache()
            status = scan_friend(self.settings, self.friend(friend_id), cache=self._scan_cache)
            status = self._known_faces(status)
            self._statuses[friend_id] = status
        return status

    def _known_faces(self, status: FriendStatus) -> FriendStatus:
        """The scan with the face checks of the photos already analysed (nothing is computed),
        as `qbtui check` and `qbtui status` count them (qbtui/dataset/checked.py)."""
        from qbtui.dataset.checked import with_face_checks

        return with_face_checks(self.settings, status, face_caches=self._face_caches, compute=False)

    def faces_pending(self, friend_id: str) -> bool:
        """True when photos of the last scan still wait for their face analysis."""
        from qbtui.dataset.face_checks import FACE_CHECKS_SKIPPED, faces_missing

        status = self._statuses.get(friend_id)
        if status is None or FACE_CHECKS_SKIPPED or not faces_missing(status):
            return False
        return self._attempted.get(friend_id) != _missing_faces(status)

    def analyse_faces(self, friend_id: str) -> FriendStatus | None:
        """Analyse the faces the last scan lacks (seconds: call it from a worker), then rescan.

        None when another analysis of this friend is already running.
        """
        from qbtui.dataset.face_checks import scan_faces

        status = self._statuses.get(friend_id)
        with self._lock:
            if status is None or friend_id in self._analysing:
                return None
            self._analysing.add(friend_id)
            self._attempted[friend_id] = _missing_faces(status)
        try:
            with self._face_lock:  # one friend at a time: each analysis already uses both cores
                scan_faces(status, prep_mode=self.settings.prep_mode, workers=2)
        finally:
            with self._lock:
                self._analysing.discard(friend_id)
        return self.rescan(friend_id)

    def face_notice(self) -> str | None:
        """Why face checks are skipped (dlib missing), once; None when they run."""
        from qbtui.dataset.face_checks import FACE_CHECKS_SKIPPED

        if not FACE_CHECKS_SKIPPED or self._face_notice_given:
            return None
        self._face_notice_given = True
        return FACE_CHECKS_SKIPPED[0]

    # --- runs -----------------------------------------------------------------
    def runs(self) -> list[RunInfo]:
        """Every known run, newest first (as `list_runs` orders them)."""
        return list(self._runs.values())

    def run(self, run_id: str) -> RunInfo | None:
        return self._runs.get(run_id)

    def queue(self) -> tuple[str, ...]:
        """Queued run ids in queue order (next first), as of the last listing."""
        return self._queue

    def runs_in_queue_order(self) -> list[RunInfo]:
        """Queued runs in queue order, then running ones, then the rest newest first."""
        with self._lock:
            runs, queue = list(self._runs.values()), self._queue
        place = {run_id: index for index, run_id in enumerate(queue)}
        queued = sorted((run for run in runs if run.state == "queued"), key=lambda run: place.get(run.run_id, len(place)))
        running = [run for run in runs if run.state == "running"]
        return queued + running + [run for run in runs if run.state not in ("queued", "running")]

    def wait_reason(self, run_id: str) -> str | None:
        """Why a queued run has not started ("here runs 1 of 1"; "" when a place is free), None when not queued."""
        return self._waits.get(run_id)

    def queue_position(self, run_id: str) -> int | None:
        """A queued run's place in the queue (1: next to start), None when it is not queued."""
        queue = self._queue
        return queue.index(run_id) + 1 if run_id in queue else None

    def runs_for(self, friend_id: str) -> list[RunInfo]:
        return [info for info in self._runs.values() if info.friend_id == friend_id]

    def latest_run(self, friend_id: str) -> RunInfo | None:
        """The friend's live run if there is one, else its newest run (`qbtui.runs.info.latest_run`)."""
        from qbtui.runs.info import latest_run

        return latest_run(self._runs.values(), friend_id)

    def running_run(self, friend_id: str) -> RunInfo | None:
        """The friend's run that is training now (what Stop stops), else None."""
        run = self.latest_run(friend_id)
        return run if run is not None and run.state == "running" else None

    def trace(self, run_id: str) -> RunTrace:
        """A copy of what the run reported so far (empty for a run not followed yet)."""
        with self._lock:
            follower = self._followers.get(run_id)
            return follower.trace.snapshot() if follower else RunTrace(run_id=run_id)

    def run_warnings(self) -> tuple[str, ...]:
        """What the last listing of runs warned of, as `qbtui runs` prints it (a run folder it skipped, and why)."""
        return self._run_warnings

    def refresh_runs(self) -> tuple[str, ...]:
        """Re-list every run directory and read what live runs added; ids that changed. A change in what
        the listing warns of is told to the listener's `run_warnings`."""
        from qbtui.runs import host_slots, list_runs, queue_waits

        warnings: list[str] = []
        listed = list_runs(self.settings, warnings)
        waits = queue_waits(self.settings.logs_dir, host_slots(self.registry), runs=listed)
        queue = tuple(waits)  # queue order: the plan reads the queue once for both
        with self._lock:
            fresh = {info.run_id: info for info in listed}
            changed = set(self._runs) ^ set(fresh)
            if queue != self._queue:
                changed.update(set(queue) | set(self._queue))
                self._queue = queue
            changed.update(run_id for run_id in set(waits) | set(self._waits) if waits.get(run_id) != self._waits.get(run_id))
            self._waits = waits
            changed.update(run_id for run_id, info in fresh.items() if self._runs.get(run_id) != info)
            for gone in set(self._followers) - set(fresh):
                del self._followers[gone]
            for info in listed:
                if info.run_id not in self._followers:
                    self._followers[info.run_id] = RunFollower(RunDir(info.path))
                    self._followers[info.run_id].poll()
                elif info.live and self._followers[info.run_id].poll():
                    changed.add(info.run_id)
            self._runs = fresh
            before, now = self._run_warnings, tuple(warnings)
            self._run_warnings = now
        if now != before and (listener := self._heard()) is not None:
            listener.run_warnings(tuple(warning for warning in now if warning not in before))
        return tuple(sorted(changed))

    def poll_live(self) -> tuple[str, ...]:
        """Re-read only the live runs (incremental reads); ids that changed."""
        from qbtui.runs import read_run

        changed = set()
        with self._lock:
            for run_id, info in list(self._runs.items()):
                if not info.live:
                    continue
                fresh = read_run(info.path)
                followed = self._followers[run_id].poll()
                if fresh != info or followed:
                    self._runs[run_id] = fresh
                    changed.add(run_id)
        return tuple(sorted(changed))

    def command_for(self, friend_id: str, preset: str, backend: str) -> list[str]:
        """The exact command (or trainer invocation) a new run would execute (`<run id>` in its folder)."""
        from qbtui.runs import command_for

        return command_for(self.registry, friend_id, preset, backend)

    def run_command(self, run_id: str) -> list[str]:
        """The command a created run executes, from its run.toml (its real run id in it)."""
        from qbtui.runs.manager import recorded_command

        run = self.run(run_id)
        if run is None:
            raise QbtuiError(f"no run {run_id!r} is known", fix="open the Runs screen (r) to see the runs there are")
        return recorded_command(run.path)

    def start_run(
        self,
        friend_id: str,
        *,
        preset: str | None = None,
        backend: str | None = None,
        force: bool = False,
        queue: bool = False,
    ) -> RunInfo:
        """Start a detached run for a friend (`force`: despite dataset problems; `queue`: after
        the running one when the device is busy); polled at once."""
        from qbtui.runs import start_run

        info = self._edit_registry(
            lambda registry: start_run(registry, friend_id, preset=preset, backend=backend, force=force, queue=queue)
        )
        self._poll_now.set()
        return info

    def stop_run(self, run_id: str) -> RunInfo:
        """Ask a run to stop (its state and checkpoints stay for resume)."""
        from qbtui.runs import stop_run

        info = stop_run(self.settings, run_id)
        self._poll_now.set()
        return info

    def resume_run(self, run_id: str) -> RunInfo:
        """Continue a stopped or crashed run in its own directory."""
        from qbtui.runs import resume_run

        info = self._edit_registry(lambda registry: resume_run(registry, run_id))
        self._poll_now.set()
        return info

    def cancel_queued(self, run_id: str) -> None:
        """Drop a queued run from the queue."""
        from qbtui.runs import cancel

        cancel(self.settings, run_id)
        self._poll_now.set()

    def move_queued(self, run_id: str, offset: int) -> None:
        """Move a queued run `offset` places (negative: earlier)."""
        from qbtui.runs import move

        move(self.settings, run_id, offset)
        self._poll_now.set()

    def evaluation(self, run_id: str) -> Any:
        """The run's likeness evaluation (`qbtui.likeness.report.Evaluation`), or None before one ran."""
        from qbtui.runs.evaluation import read_run_evaluation
        from qbtui.runs.manager import find_run

        return read_run_evaluation(find_run(self.settings, run_id).path)

    def evaluation_status(self, run_id: str) -> Any:
        """The run's evaluation, the likeness pass running over it and why none was measured
        (`qbtui.runs.evaluation.EvaluationStatus`)."""
        from qbtui.runs.evaluation import evaluation_status
        from qbtui.runs.manager import find_run

        return evaluation_status(find_run(self.settings, run_id).path)

    def pick_choice(self, run_id: str, key: str) -> Any:
        """Make one LoRA file and weight (`800@0.8`) the run's choice, in the registry and its eval.json."""
        from qbtui.runs.evaluation import pick_choice
        from qbtui.runs.manager import find_run

        path = find_run(self.settings, run_id).path
        return self._edit_registry(lambda registry: pick_choice(registry, path, key))

    def start_evaluation(self, run_id: str) -> RunInfo:
        """Start an evaluation run of a finished run (detached)."""
        from qbtui.runs.evaluation import start_evaluation

        info = self._edit_registry(lambda registry: start_evaluation(registry, run_id))
        self._poll_now.set()
        return info

    # --- live updates -----------------------------------------------------------
    def start(self, listener: WorkspaceListener, *, watch: bool = True) -> None:
        """Start the run poller (and the folder watcher when `watch`), telling `listener`."""
        self._listener = listener
        if watch:
            from qbtui.dataset import DatasetWatcher

            self._watcher = DatasetWatcher(
                self.registry_path,
                self.settings,
                self.friends(),
                on_friend_changed=self._on_friend_changed,
                on_registry_changed=self._on_registry_changed,
            )
            self._watcher.start()
        self._poller = threading.Thread(target=self._poll_loop, name="qbtui-run-poller", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        """Stop watching and polling; running trainings carry on."""
        self._stopping.set()
        self._poll_now.set()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._poller is not None:
            self._poller.join(timeout=2)
            self._poller = None

    def _poll_loop(self) -> None:
        since_listing = self.list_every
        while not self._stopping.is_set():
            forced = self._poll_now.is_set()
            self._poll_now.clear()
            try:
                if forced or since_listing >= self.list_every:
                    since_listing = 0.0
                    changed = self.refresh_runs()
                else:
                    changed = self.poll_live()
            except (QbtuiError, OSError) as error:
                changed = ()
                self._tell_error(error)
            if changed and (listener := self._heard()) is not None:
                listener.runs_updated(changed)
            self._poll_now.wait(self.poll_interval)
            since_listing += self.poll_interval

    def _on_friend_changed(self, friend_id: str) -> None:
        if friend_id not in self.registry.friends:
            return
        try:
            self.rescan(friend_id)
        except (QbtuiError, OSError) as error:
            self._tell_error(error)
            return
        if (listener := self._heard()) is not None:
            listener.friend_changed(friend_id)

    def _on_registry_changed(self) -> None:
        try:
            changed = self.reload_registry()
        except QbtuiError as error:
            where = (error.path or self.registry_path).name + (f":{error.line}" if error.line else "")
            self.registry_problem = f"{where} {error.message}"
            if (listener := self._heard()) is not None:
                listener.registry_health(self.registry_problem)
            self._tell_error(
                QbtuiError(f"kept the last good registry: {error.message}", path=error.path, line=error.line, fix=error.fix),
                cause="registry",
            )
            return
        if self.registry_problem is not None:
            self.registry_problem = None
            if (listener := self._heard()) is not None:
                listener.registry_health(None)
        if changed:
            for friend in self.friends():
                if friend.id not in self._statuses:
                    self._on_friend_changed(friend.id)
            if (listener := self._heard()) is not None:
                listener.registry_changed()

    def _heard(self) -> WorkspaceListener | None:
        """The listener while the workspace runs (nothing is told after `stop`)."""
        return None if self._stopping.is_set() else self._listener

    def _tell_error(self, error: Exception, cause: str | None = None) -> None:
        if (listener := self._heard()) is not None:
            listener.error(str(error), cause)
