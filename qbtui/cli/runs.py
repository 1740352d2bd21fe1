"""Run commands: train, runs, logs, stop, resume, queue.

Runs live in detached supervisors; these commands only write run directories, send
signals and read the directories back, so they work from any terminal (or over SSH)
while a run started elsewhere goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qbtui.cli.foundation import load_registry
from qbtui.printable import printable
from qbtui.registry import BACKENDS, Registry, Settings
from qbtui.runs.format import format_event, format_number, wait_words, where_words

FOLLOW_POLL_S = 0.05


def add_subcommand(subparsers: argparse._SubParsersAction, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose help ends with its examples (used by the run and picture commands)."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"examples:\n{examples}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the run subcommands to the `qbtui` parser."""
    train = add_subcommand(
        subparsers,
        "train",
        "start a training run that keeps going after the terminal closes",
        "  qbtui train peter --wait\n  qbtui train maria --preset fast --backend kohya --queue\n"
        "  qbtui train peter --steps 300 --force   # train despite dataset problems\n"
        "  qbtui train peter --host gpu1 --wait    # on a GPU box over SSH ([hosts.gpu1])\n"
        "  qbtui train maria --queue               # the first free place: here or a host",
    )
    train.add_argument("name", metavar="NAME", help="the friend's id (as in registry.toml)")
    train.add_argument("--preset", help="preset from registry.toml (default: settings.preset)")
    train.add_argument("--backend", choices=BACKENDS, help="trainer to use (default: settings.backend)")
    train.add_argument("--steps", type=int, help="override the preset's max_train_steps")
    train.add_argument("--force", action="store_true", help="start even when the dataset check finds problems")
    train.add_argument(
        "--stop-early",
        action="store_true",
        default=None,
        help="end the run once its likeness stops improving under the same-person threshold (default: settings.stop_early)",
    )
    train.add_argument(
        "--wait", action="store_true", help="follow the run's progress until it ends (Ctrl-C detaches; the run goes on)"
    )
    train.add_argument(
        "--queue",
        action="store_true",
        help="start on the first free place (this machine or a host; --host pins one), or wait in the queue",
    )
    train.add_argument(
        "--host",
        metavar="HOST",
        help="train on [hosts.HOST] over SSH (default: settings.host; `--host local` trains here, "
        "`--host anywhere` on the first free place)",
    )
    train.set_defaults(handler=train_command)

    runs = add_subcommand(
        subparsers, "runs", "list every run: state, step, loss, speed, ETA", "  qbtui runs\n  qbtui runs --json | jq '.[0].state'"
    )
    runs.add_argument("--json", action="store_true", help="print a JSON list (fields as in RunInfo)")
    runs.set_defaults(handler=runs_command)

    logs = add_subcommand(
        subparsers,
        "logs",
        "show a run's progress as readable lines (or the trainer's raw output)",
        "  qbtui logs peter -f\n  qbtui logs 20261125-034512-peter-a1b2 --raw",
    )
    logs.add_argument("target", metavar="NAME|RUN", help="a friend id (their live or latest run) or a run id")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing until the run ends (Ctrl-C stops following only)"
    )
    logs.add_argument("--raw", action="store_true", help="print the backend's raw output.log instead of events")
    logs.set_defaults(handler=logs_command)

    stop = add_subcommand(
        subparsers, "stop", "stop a run (it saves its state, so `qbtui resume` can continue it)", "  qbtui stop peter"
    )
    stop.add_argument("target", metavar="NAME|RUN", help="a friend id or a run id; a queued run is taken off the queue")
    stop.add_argument("--no-wait", action="store_true", help="send the stop and return at once")
    stop.set_defaults(handler=stop_command)

    resume = add_subcommand(
        subparsers,
        "resume",
        "continue a stopped or crashed run from its saved state",
        "  qbtui resume 20261125-034512-peter-a1b2",
    )
    resume.add_argument("target", metavar="RUN", help="a run id (or a friend id: their latest run)")
    resume.add_argument("--wait", action="store_true", help="follow it until it ends")
    resume.set_defaults(handler=resume_command)

    record = add_subcommand(
        subparsers,
        "record",
        "record a completed run in the registry (when its supervisor could not)",
        "  qbtui record 20261125-034512-peter-a1b2",
    )
    record.add_argument("target", metavar="RUN", help="a completed run's id (or a friend id: their latest run)")
    record.set_defaults(handler=record_command)

    queue = add_subcommand(
        subparsers,
        "queue",
        "show or change the runs waiting for the device",
        "  qbtui queue\n  qbtui queue up 20261125-034512-maria-a1b2\n  qbtui queue cancel 20261125-034512-maria-a1b2",
    )
    queue.add_argument("action", nargs="?", default="list", choices=("list", "cancel", "up", "down"), help="default: list")
    queue.add_argument("run_id", nargs="?", metavar="RUN", help="the queued run to cancel or move")
    queue.set_defaults(handler=queue_command)


def _settings(args: argparse.Namespace) -> Settings:
    return load_registry(args).settings


# ------------------------------------------------------------------ formatting


def queue_reasons(registry: Registry, infos: list | None = None) -> dict[str, str]:
    """Why each queued run waits, by run id in queue order: the queue's own plan (`queue_waits`)."""
    from qbtui.runs import host_slots, queue_waits

    return queue_waits(registry.settings.logs_dir, host_slots(registry), runs=infos)


def runs_table(infos: list) -> str:
    """The table `qbtui runs` prints."""
    rows = [("RUN", "FRIEND", "WHERE", "BACKEND", "PRESET", "STATE", "STEP", "AVG_LOSS", "IT/S", "ETA")]
    for info in infos:
        rows.append(
            (
                info.run_id,
                info.friend_id,
                info.where,
                info.backend,
                info.preset,
                info.activity_words,
                f"{info.step}/{info.max_steps}",
                format_number(info.avg_loss if info.avg_loss is not None else info.loss),
                format_number(info.it_s, 2),
                info.eta_words,
            )
        )
    shown = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in shown)


# ------------------------------------------------------------------ following


def _print_events(events: list) -> None:
    for event in events:
        line = format_event(event)
        if line:
            print(line, flush=True)


def follow_events(run_path: Path, *, follow: bool) -> str:
    """Print a run's events (then new ones while it is live when `follow`); its final state."""
    from qbtui.events import EventFollower
    from qbtui.rundir import RunDir
    from qbtui.runs.info import read_run

    follower = EventFollower(RunDir(Path(run_path)).events)
    while True:
        info = read_run(run_path)
        _print_events(follower.read_new())
        if not follow or not info.live:
            _print_events(follower.read_new())
            if follower.invalid_lines:
                print(
                    f"note: skipped {follower.invalid_lines} line(s) of {follower.path} that are not valid events",
                    file=sys.stderr,
                )
            return info.state
        time.sleep(FOLLOW_POLL_S)


def follow_raw(run_path: Path, *, follow: bool) -> str:
    """Copy output.log to stdout (and its new bytes while the run is live when `follow`)."""
    from qbtui.rundir import RunDir
    from qbtui.runs.info import read_run
    from qbtui.tail import GrowingFile

    log = GrowingFile(RunDir(Path(run_path)).output_log)
    while True:
        info = read_run(run_path)
        data = log.read_new()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        if not follow or (not info.live and not data):
            return info.state
        time.sleep(FOLLOW_POLL_S)


def _wait(run_path: Path) -> int:
    try:
        state = follow_events(run_path, follow=True)
    except KeyboardInterrupt:
        print("\nstopped following; the run goes on (`qbtui runs` shows it)", file=sys.stderr)
        return 130
    return 0 if state == "completed" else 1


# ------------------------------------------------------------------ handlers


def train_command(args: argparse.Namespace) -> int:
    from qbtui.registry import ANYWHERE, HERE, LOCAL
    from qbtui.runs.manager import start_run

    registry = load_registry(args)
    host = args.host if args.host is not None else registry.settings.host
    here = {
        "preset": args.preset,
        "backend": args.backend,
        "steps": args.steps,
        "force": args.force,
        "stop_early": args.stop_early,
    }
    if args.queue or host == ANYWHERE:
        target = HERE if host == LOCAL else host or ANYWHERE
        info = start_run(registry, args.name, queue=True, target=target, **here)
    elif host and host != LOCAL:
        from qbtui.errors import QbtuiError
        from qbtui.remote.start import start_remote_run

        if args.backend == "kohya":
            raise QbtuiError("a run on a host uses the builtin trainer", fix="leave out --backend kohya")
        info = start_remote_run(
            registry,
            args.name,
            host,
            preset=args.preset,
            steps=args.steps,
            force=args.force,
            on_checked=lambda place: print(
                f"copying {args.name}'s photos and the base model to {place.name} and starting there ...", file=sys.stderr
            ),
        )
    else:
        info = start_run(registry, args.name, **here)
    verb = "queued" if info.state == "queued" else "started"
    where = f" ({where_words(info.state, info.where)})" if info.state == "queued" else f" on {info.host}" if info.host else ""
    print(f"{verb} run {info.run_id}{where} ({info.backend}, preset {info.preset}, {info.max_steps} steps)")
    print(f"  folder: {printable(info.path)}")
    print(f"  follow: qbtui logs {info.run_id} -f    stop: qbtui stop {info.run_id}")
    return _wait(info.path) if args.wait else 0


def record_command(args: argparse.Namespace) -> int:
    from qbtui.errors import QbtuiError
    from qbtui.rundir import RunDir
    from qbtui.runs.manager import find_run
    from qbtui.runs.record import already_recorded, record_run

    info = find_run(_settings(args), args.target)
    if info.state != "completed":
        raise QbtuiError(
            f"run {info.run_id} is {info.state}, not completed", path=info.path, fix="only a completed run can be recorded"
        )
    run = RunDir(info.path)
    if already_recorded(run):
        print(f"run {info.run_id} is already recorded as a training of {info.friend_id}")
        return 0
    friend_id = record_run(run)
    print(f"recorded run {info.run_id} as a training of {friend_id}")
    return 0


def runs_command(args: argparse.Namespace) -> int:
    from qbtui.runs.info import list_runs

    registry = load_registry(args)
    warnings: list[str] = []
    infos = list_runs(registry.settings, warnings)
    for warning in warnings:
        print(f"warning: {printable(warning)}", file=sys.stderr)
    waits = queue_reasons(registry, infos)
    if args.json:
        print(json.dumps([info.to_json(waits.get(info.run_id)) for info in infos], indent=2))
    elif infos:
        print(runs_table(infos))
        if waits:
            print()
            print("\n".join(f"{printable(run_id)}: {wait_words(reason)}" for run_id, reason in waits.items()))
        standing = [(info.run_id, info.chosen) for info in infos if info.live and info.chosen is not None]
        if standing:  # the choice made at `done` while the final file is scored (it may still change)
            print()
            print("\n".join(f"{printable(run_id)}: {printable(chosen.words)}" for run_id, chosen in standing))
        for info in infos:
            if info.live and info.error:  # what a live run needs said: its run.toml unreadable, its host silent
                print(f"{info.run_id}: {info.error}", file=sys.stderr)
    else:
        print("no runs yet: start one with `qbtui train NAME`")
    return 0


def logs_command(args: argparse.Namespace) -> int:
    from qbtui.runs.info import read_run
    from qbtui.runs.manager import find_run

    registry = load_registry(args)
    info = find_run(registry.settings, args.target)
    if info.state == "queued":
        reason = queue_reasons(registry).get(info.run_id)
        if reason is not None:
            print(f"run {info.run_id} is queued: {wait_words(reason)}", flush=True)
    try:
        if args.raw:
            follow_raw(info.path, follow=args.follow)
            return 0
        follow_events(info.path, follow=args.follow)
    except KeyboardInterrupt:
        return 130
    final = read_run(info.path)
    if args.follow:
        print(f"run {final.run_id} ended: {final.state}")
    if final.state == "crashed":
        print(f"crashed: {printable(final.error, keep_newlines=True)}")
    return 0


def stop_command(args: argparse.Namespace) -> int:
    from qbtui.runs.info import RESUMABLE_STATES
    from qbtui.runs.manager import stop_run

    info = stop_run(_settings(args), args.target, wait=not args.no_wait)
    if info.live:
        print(f"asked run {info.run_id} to stop; it saves its state first (`qbtui runs` shows when it has)")
    else:
        then = f"; resume it with `qbtui resume {info.run_id}`" if info.state in RESUMABLE_STATES else ""
        print(f"run {info.run_id} is {info.state} at step {info.step}/{info.max_steps}{then}")
    return 0


def resume_command(args: argparse.Namespace) -> int:
    from qbtui.runs.manager import resume_run

    info = resume_run(load_registry(args), args.target)
    print(f"resumed run {info.run_id} at step {info.step}/{info.max_steps}; follow: qbtui logs {info.run_id} -f")
    return _wait(info.path) if args.wait else 0


def queue_command(args: argparse.Namespace) -> int:
    from qbtui.errors import QbtuiError
    from qbtui.runs.queue import cancel, move

    registry = load_registry(args)
    settings = registry.settings
    if args.action != "list":
        if not args.run_id:
            raise QbtuiError(f"`qbtui queue {args.action}` needs a run id", fix="`qbtui queue` lists the queued runs")
        if args.action == "cancel":
            cancel(settings, args.run_id)
        else:
            move(settings, args.run_id, -1 if args.action == "up" else 1)
    waits = queue_reasons(registry)
    lines = [f"{position}. {run_id}  {wait_words(reason)}" for position, (run_id, reason) in enumerate(waits.items(), 1)]
    print("\n".join(lines) if lines else "the queue is empty")
    return 0
