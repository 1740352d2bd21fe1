"""Start, stop, resume and queue runs: the intents the CLI and the dashboard send.

One run at a time uses this machine's device and `max_runs` a host's: `start_run`
refuses while another run is using it (unless `queue=True`, which queues it for the
first free place, `qbtui.runs.placement`), and always refuses a second live run for the
same friend. Checks and run-directory creation happen under the queue lock, so two
`qbtui train` calls racing for one friend cannot both win.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from qbtui import __version__
from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.events import EventWriter
from qbtui.printable import printable
from qbtui.registry import Friend, Registry, Settings, friend_root
from qbtui.rundir import (
    RUN_ID_PATTERN,
    RunDir,
    dataset_fingerprint,
    is_friend_part,
    new_run_id,
    read_run_toml,
    run_dir_for,
    write_run_toml,
)
from qbtui.runs import launch
from qbtui.runs.backends import BACKENDS
from qbtui.runs.backends.builtin import (
    builtin_command,
    builtin_config,
    builtin_resume_args,
)
from qbtui.runs.backends.kohya import (
    check_kohya_install,
    kohya_command,
    kohya_flags,
    kohya_resume_args,
)
from qbtui.runs.info import BUSY_STATES, RunInfo, latest_run, not_regular_problem, read_run, runs_under
from qbtui.runs.launch import STOP_GRACE_S
from qbtui.runs.liveness import read_pid_file
from qbtui.runs.locks import DEVICE_LOCK, busy_error, friend_lock, holder
from qbtui.runs.placement import ANYWHERE, HERE
from qbtui.runs.queue import RunQueue, cancel

MAX_LISTED_PROBLEMS = 12
STOP_WAIT_MARGIN_S = 15.0


@dataclass
class RunPlan:
    """Everything a new run directory records, before it exists."""

    run_id: str
    friend_id: str
    backend: str
    preset: str
    command: list[str]
    train: dict[str, Any]
    max_steps: int
    images: int
    fingerprint: str
    output_dir: Path
    output_name: str
    registry: Path
    env: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    stop_grace_s: float = STOP_GRACE_S
    host: str | None = None  # the [hosts.<name>] it trains on; None: this machine
    extra_run: dict[str, Any] = field(default_factory=dict)
    host_capacity: int = 1
    target: str = HERE  # where a queued run may start: HERE, a host or ANYWHERE


def plan_run(
    registry: Registry,
    friend_id: str,
    *,
    run_id: str,
    preset: str | None = None,
    backend: str | None = None,
    steps: int | None = None,
    force: bool = False,
    stop_early: bool | None = None,
) -> RunPlan:
    """Check the dataset and the backend, and work out the command; raises QbtuiError."""
    settings = registry.settings
    friend = registry.friend(friend_id)
    chosen = registry.preset(preset)
    backend = backend or settings.backend
    if backend not in BACKENDS:
        raise QbtuiError(f"unknown backend {backend!r}", path=registry.path, fix=f"use one of: {', '.join(BACKENDS)}")
    if steps is not None and steps <= 0:
        raise QbtuiError(f"--steps must be positive, not {steps}", fix="pass a step count such as 1200")
    if not settings.base_model.exists():
        raise QbtuiError(
            "the base model is missing",
            path=settings.base_model,
            fix="set base_model in registry.toml [settings] to your SD 1.5 .safetensors file or diffusers folder",
        )
    _check_output_folders(settings, friend, registry.path)
    images = _checked_image_count(settings, friend, force)
    fingerprint = dataset_fingerprint(friend_root(settings, friend))
    plan = partial(
        RunPlan,
        run_id=run_id,
        friend_id=friend.id,
        backend=backend,
        preset=chosen.name,
        images=images,
        fingerprint=fingerprint,
        output_dir=settings.lora_dir,
        output_name=friend.output_name,
        registry=registry.path,
    )
    if backend == "kohya":
        if stop_early:
            raise QbtuiError(
                "--stop-early needs the builtin trainer (qbtui cannot score kohya's training while it runs)",
                fix="leave out --stop-early, or train with --backend builtin",
            )
        check_kohya_install(settings)
        argv, env = kohya_command(settings, friend, chosen, steps)
        flags = kohya_flags(chosen, steps)
        return plan(command=argv, env=env, train=flags, max_steps=int(flags.get("max_train_steps", 0)))
    run = RunDir(settings.logs_dir / friend.id / run_id)
    config = builtin_config(settings, friend, chosen, run_id=run_id, state_dir=run.state_dir, steps=steps, stop_early=stop_early)
    warnings = [f"the builtin trainer ignores {flag} (a kohya flag)" for flag in config.unsupported_flags()]
    return plan(
        command=builtin_command(run.path, config.num_processes),
        train=config.to_toml_table(),
        max_steps=config.max_train_steps,
        warnings=warnings,
    )


def _check_output_folders(settings: Settings, friend: Friend, registry_path: Path) -> None:
    """QbtuiError before anything is written when a run's names would not fit or the LoRA folder is read-only."""
    from qbtui.dataset.guard import is_writable
    from qbtui.mounts import make_writable_fix
    from qbtui.pathlimits import name_too_long

    refusal = name_too_long(settings.datasets_dir, settings.lora_dir, settings.logs_dir, friend.id, friend.token, friend.repeats)
    if refusal:
        who = printable(friend.id[:40])
        fix = (
            f"set a shorter token for {who} in registry.toml"
            if refusal.derived.source == "token"
            else f"shorten {who}'s id in registry.toml (and rename the folder)"
        )
        raise QbtuiError(f"friend {who}: {refusal.message()}", path=registry_path, fix=fix)
    folder = settings.lora_dir
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not is_writable(folder):
        raise QbtuiError(
            "the LoRA folder is read-only: the run could not save its LoRA",
            path=folder,
            fix=f"{make_writable_fix(folder)}, or set lora_dir in registry.toml to a folder you can write",
        )


def _checked_image_count(settings: Settings, friend: Friend, force: bool) -> int:
    """The friend's image count; QbtuiError listing the blocking problems unless `force`."""
    from qbtui.dataset import scan_friend

    status = scan_friend(settings, friend)
    blocking = [p for p in status.all_problems() if p.severity == "error"]
    if blocking and not force:
        listed = "\n".join(f"  - {printable(p.message)} (fix: {printable(p.fix)})" for p in blocking[:MAX_LISTED_PROBLEMS])
        more = len(blocking) - MAX_LISTED_PROBLEMS
        raise QbtuiError(
            f"{printable(friend.name)}'s dataset is not ready to train ({len(blocking)} problem(s)):\n{listed}"
            + (f"\n  ... and {more} more" if more > 0 else ""),
            path=status.folder,
            fix=f"fix them (`qbtui check {friend.id}`, `qbtui prep {friend.id}`), or pass --force to train anyway",
        )
    return status.image_count


def command_for(registry: Registry, friend_id: str, preset: str | None, backend: str | None) -> list[str]:
    """The exact command a run would execute, environment assignments first (for display)."""
    settings = registry.settings
    friend = registry.friend(friend_id)
    backend = backend or settings.backend
    if backend == "kohya":
        argv, env = kohya_command(settings, friend, registry.preset(preset))
        return [f"{name}={value}" for name, value in env.items()] + argv
    if backend not in BACKENDS:
        raise QbtuiError(f"unknown backend {backend!r}", fix=f"use one of: {', '.join(BACKENDS)}")
    return builtin_command(settings.logs_dir / friend.id / "<run id>")


def recorded_command(run_dir: Path) -> list[str]:
    """The command a created run executes, as its run.toml records it (environment assignments first)."""
    table = read_run_toml(RunDir(run_dir))["run"]
    env = table.get("env") or {}
    return [f"{name}={value}" for name, value in env.items()] + [str(token) for token in table.get("command", [])]


def create_run(settings: Settings, plan: RunPlan, extra_files: dict[str, str] | None = None) -> RunDir:
    """Write a new run directory (run.toml, state/, warnings) for `plan`; nothing starts."""
    run = RunDir(settings.logs_dir / plan.friend_id / plan.run_id)
    run.state_dir.mkdir(parents=True)
    run_table = {
        "run_id": plan.run_id,
        "friend": plan.friend_id,
        "backend": plan.backend,
        "preset": plan.preset,
        "created_at": time.time(),
        "qbtui_version": __version__,
        "dataset_fingerprint": plan.fingerprint,
        "images": plan.images,
        "max_steps": plan.max_steps,
        "registry": str(plan.registry),
        "output_dir": str(plan.output_dir),
        "output_name": plan.output_name,
        "stop_grace_s": plan.stop_grace_s,
        "command": plan.command,
        "env": plan.env,
        "target": plan.target,
        **plan.extra_run,
    }
    write_run_toml(run, run_table, plan.train)
    for name, text in (extra_files or {}).items():
        write_text_atomic(run.path / name, text)
    if plan.warnings:
        with EventWriter(run.events) as events:
            for message in plan.warnings:
                events.write("warning", message=message)
    return run


def start_run(
    registry: Registry,
    friend_id: str,
    *,
    preset: str | None = None,
    backend: str | None = None,
    steps: int | None = None,
    force: bool = False,
    queue: bool = False,
    target: str | None = None,
    stop_early: bool | None = None,
) -> RunInfo:
    """Check, write the run directory and start its supervisor (or queue it); the new run's info.

    A queued run starts on its `target` (HERE, a host, or ANYWHERE: the first free place;
    default: settings.host, else ANYWHERE) as soon as that has a free slot, maybe at once.
    """
    registry.reload_if_changed()
    settings = registry.settings
    place = _queue_target(registry, target, backend or settings.backend) if queue else HERE
    if place != HERE:
        backend = "builtin"
    plan = plan_run(
        registry,
        friend_id,
        run_id=new_run_id(friend_id),
        preset=preset,
        backend=backend,
        steps=steps,
        force=force,
        stop_early=stop_early,
    )
    plan.target = place
    return submit_run(settings, plan, queue=queue, host_slots=host_slots(registry))


def host_slots(registry: Registry) -> dict[str, int]:
    """Each host's `max_runs`, in registry order."""
    return {name: host.max_runs for name, host in registry.hosts.items()}


def _queue_target(registry: Registry, target: str | None, backend: str) -> str:
    """Where a queued run may start; a kohya run trains on this machine only."""
    place = target or registry.settings.host or ANYWHERE
    if place not in (HERE, ANYWHERE) and place not in registry.hosts:
        known = ", ".join((HERE, ANYWHERE, *registry.hosts))
        raise QbtuiError(f"no host {place!r} in the registry", path=registry.path, fix=f"use one of: {known}")
    if backend == "kohya":
        if place not in (HERE, ANYWHERE):
            raise QbtuiError("a run on a host uses the builtin trainer", fix="leave out --backend kohya, or queue it here")
        return HERE
    return place


def submit_run(
    settings: Settings,
    plan: RunPlan,
    *,
    queue: bool = False,
    extra_files: dict[str, str] | None = None,
    host_slots: dict[str, int] | None = None,
) -> RunInfo:
    """Create the run directory and start it, or queue it (`queue`: it starts when its
    target has a free slot, maybe at once; `host_slots`: the hosts' max_runs).

    Runs on different devices (this machine, each host) do not wait for each other; a host
    takes `max_runs` at once.
    """
    run_queue = RunQueue(settings.logs_dir)
    with run_queue.locked():
        live = [info for info in runs_under(settings.logs_dir) if info.live]
        _refuse_second_run(plan.friend_id, live)
        _refuse_locked(settings.logs_dir, friend_lock(plan.friend_id))
        if queue:
            run = create_run(settings, plan, extra_files)
            run_queue.add(run)
            launch.start_next_queued(settings.logs_dir, host_slots)
            return read_run(run)
        same_device = [info for info in live if info.state in BUSY_STATES and info.host == plan.host]
        if plan.host is not None:
            if len(same_device) >= plan.host_capacity:
                raise QbtuiError(
                    f"host {plan.host} already runs {len(same_device)} run(s) (max_runs = {plan.host_capacity})",
                    fix=f"wait for {same_device[0].run_id} to end, queue it (--queue), or raise max_runs under [hosts.{plan.host}]",
                )
            run = create_run(settings, plan, extra_files)
            launch.launch_supervisor(run)
            return read_run(run)
        if same_device:
            raise DeviceBusy(same_device[0])
        _refuse_locked(settings.logs_dir, DEVICE_LOCK)
        run = create_run(settings, plan, extra_files)
        launch.launch_supervisor(run)
    return read_run(run)


class DeviceBusy(QbtuiError):
    """Another run uses the device this one needs (`busy`); the fix names `--queue`, which `train` has."""

    def __init__(self, busy: RunInfo) -> None:
        self.busy = busy
        super().__init__(
            f"another run is using the device: {busy.run_id} ({busy.friend_id})",
            fix="add --queue to run this one after it, or stop that run first (`qbtui stop RUN`)",
        )


def _refuse_second_run(friend_id: str, live: list[RunInfo]) -> None:
    for info in live:
        if info.friend_id == friend_id:
            raise QbtuiError(
                f"{friend_id} already has a {info.state} run: {info.run_id}",
                path=info.path,
                fix=f"follow it with `qbtui logs {info.run_id} -f`, or stop it with `qbtui stop {info.run_id}`",
            )


def _refuse_locked(logs_dir: Path, name: str) -> None:
    """QbtuiError when a run's processes still hold lock `name`, whatever became of its folder."""
    other = holder(logs_dir, name)
    if other is not None:
        raise busy_error(name, other)


def find_run(settings: Settings, run_or_friend: str) -> RunInfo:
    """A run by id, or a friend's live run (else their latest); QbtuiError when there is none."""
    if RUN_ID_PATTERN.match(run_or_friend):
        run = run_dir_for(settings.logs_dir, run_or_friend)
        problem = not_regular_problem(run.run_toml)
        if problem:
            raise QbtuiError(problem, fix="put run.toml back, or delete this run's folder")
        if not run.run_toml.is_file():
            raise QbtuiError(f"no run {run_or_friend}", path=run.path, fix="`qbtui runs` lists the runs")
        return read_run(run)
    if not is_friend_part(run_or_friend):
        raise QbtuiError(
            f"{run_or_friend!r} is neither a run id nor a friend id",
            fix="run ids look like 20261125-034512-peter-a1b2 (one name, no '/'); `qbtui runs` lists them",
        )
    latest = latest_run(runs_under(settings.logs_dir), run_or_friend)
    if latest is None:
        raise QbtuiError(
            f"no runs for {run_or_friend!r}", path=settings.logs_dir, fix="give a friend id or a run id from `qbtui runs`"
        )
    return latest


def stop_run(settings: Settings, run_or_friend: str, *, wait: bool = True, timeout: float | None = None) -> RunInfo:
    """Stop a run (SIGTERM through its supervisor, SIGKILL after the grace); a queued run is dropped."""
    info = find_run(settings, run_or_friend)
    if info.state == "queued":
        cancel(settings, info.run_id)
        return dataclasses.replace(info, state="stopped")
    run = RunDir(info.path)
    supervisor = read_pid_file(run.supervisor_pid)
    backend = read_pid_file(run.backend_pid)
    grace = _stop_grace(run)
    if supervisor is not None and supervisor.is_alive():
        os.kill(supervisor.pid, signal.SIGTERM)
    elif backend is not None and backend.is_alive():
        launch.stop_group(backend, grace)
        return read_run(run)
    elif info.state == "running":
        raise QbtuiError(f"run {info.run_id} is still starting", path=run.path, fix="try again in a few seconds")
    else:
        raise QbtuiError(
            f"run {info.run_id} is not running (it is {info.state})", path=run.path, fix="`qbtui runs` shows the live runs"
        )
    if wait:
        deadline = time.monotonic() + (timeout if timeout is not None else grace + STOP_WAIT_MARGIN_S)
        while read_run(run).state in BUSY_STATES and time.monotonic() < deadline:
            time.sleep(0.1)
    return read_run(run)


def _stop_grace(run: RunDir) -> float:
    """run.toml's stop_grace_s; the default when run.toml cannot be read (a live run stops all the same)."""
    try:
        return float(read_run_toml(run)["run"].get("stop_grace_s", STOP_GRACE_S))
    except (QbtuiError, TypeError, ValueError):
        return STOP_GRACE_S


def resume_run(registry: Registry, run_id: str) -> RunInfo:
    """Continue a stopped, failed or crashed run in its own directory from its saved state."""
    settings = registry.settings
    info = find_run(settings, run_id)
    if info.live:
        raise QbtuiError(
            f"run {info.run_id} is {info.state}", path=info.path, fix=f"follow it with `qbtui logs {info.run_id} -f`"
        )
    if info.state == "completed":
        raise QbtuiError(
            f"run {info.run_id} already completed", path=info.path, fix=f"start a new run with `qbtui train {info.friend_id}`"
        )
    run = RunDir(info.path)
    table = read_run_toml(run)["run"]
    if table.get("host"):
        pass  # the state is on the host: its supervisor checks it, and the follower re-attaches to a run still going there
    elif table.get("backend") == "kohya":
        kohya_resume_args(Path(table["output_dir"]), str(table["output_name"]))
    else:
        builtin_resume_args(run.path)
    with RunQueue(settings.logs_dir).locked():
        busy = [other for other in runs_under(settings.logs_dir) if other.state in BUSY_STATES]
        _refuse_second_run(info.friend_id, busy)
        live = [other for other in busy if other.host == (table.get("host") or None)]
        if live:
            raise QbtuiError(f"another run is using the device: {live[0].run_id}", fix="resume this one when it ends, or stop it")
        _refuse_locked(settings.logs_dir, friend_lock(info.friend_id))
        if not table.get("host"):
            _refuse_locked(settings.logs_dir, DEVICE_LOCK)
        launch.launch_supervisor(run, resume=True)
    return read_run(run)
