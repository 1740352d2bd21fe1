"""Host commands: `qbtui hosts` (is each host ready?) and `qbtui agent` (what runs on a host)."""

from __future__ import annotations

import argparse
import json
import sys

from qbtui.cli.foundation import load_registry
from qbtui.printable import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `hosts` and the host-side `agent` subcommands."""
    hosts = subparsers.add_parser(
        "hosts",
        help="check every [hosts.NAME]: reachable, qbtui version, GPUs, free disk",
        description="Check every [hosts.NAME] of the registry and say what is wrong, with the fix.",
        epilog="examples:\n  qbtui hosts\n  qbtui hosts gpu1 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hosts.add_argument("name", nargs="?", metavar="HOST", help="only this host")
    hosts.add_argument("--json", action="store_true", help="print a JSON list")
    hosts.set_defaults(handler=hosts_command)

    agent = subparsers.add_parser(
        "agent", help="(used over SSH by another machine's qbtui) run-side commands on a host", description="Host-side commands."
    )
    actions = agent.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="version, GPUs, free disk (JSON)")
    info.add_argument("--work-dir", required=True)
    for name, summary in (
        ("create", "write a run directory from run.toml on stdin"),
        ("start", "start a run's supervisor"),
        ("status", "is the run's supervisor alive (JSON)"),
        ("stop", "ask the run's supervisor to stop"),
        ("tail", "print the run's events from a byte offset until it ends"),
    ):
        action = actions.add_parser(name, help=summary)
        action.add_argument("--work-dir", required=True)
        action.add_argument("run_dir")
        if name == "start":
            action.add_argument("--resume", action="store_true")
        if name == "tail":
            action.add_argument("--offset", type=int, default=0)
    agent.set_defaults(handler=agent_command)


def hosts_command(args: argparse.Namespace) -> int:
    from qbtui import __version__
    from qbtui.remote.check import check_host, format_report
    from qbtui.remote.start import host_named

    registry = load_registry(args)
    hosts = [host_named(registry, args.name)] if args.name else list(registry.hosts.values())
    if not hosts:
        print(f"no hosts in {registry.path}: add a [hosts.NAME] section (see the README, 'Train on a GPU box')")
        return 0
    reports = [check_host(host, __version__) for host in hosts]
    if args.json:
        print(json.dumps([report.to_json() for report in reports], indent=2))
    else:
        print("\n".join(printable(line) for report in reports for line in format_report(report).split("\n")))
    return 0 if all(report.ok for report in reports) else 1


def agent_command(args: argparse.Namespace) -> int:
    from qbtui.remote import agent

    command = args.agent_command
    if command == "info":
        return agent.print_json(agent.host_info(args.work_dir))
    if command == "create":
        return agent.print_json(agent.create_run(args.work_dir, args.run_dir, sys.stdin.read()))
    if command == "start":
        return agent.print_json(agent.start(args.work_dir, args.run_dir, resume=args.resume))
    if command == "status":
        return agent.print_json(agent.status(args.work_dir, args.run_dir))
    if command == "stop":
        return agent.print_json(agent.stop(args.work_dir, args.run_dir))
    try:
        return agent.tail(args.work_dir, args.run_dir, args.offset, sys.stdout.buffer)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0
