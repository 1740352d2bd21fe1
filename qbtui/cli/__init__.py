"""The `qbtui` command line: one parser, subcommands registered by topic modules.

Each topic module (`foundation`, `dataset`, `runs`, `pictures`) exposes `register(subparsers)` and
gives each subcommand a `handler(args) -> int`. Handlers import heavy modules lazily
so that `qbtui --help` and the dashboard start fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from qbtui import __version__
from qbtui.errors import QbtuiError

TOPIC_MODULES = ("foundation", "dataset", "runs", "remote", "pictures", "likeness")

DESCRIPTION = """\
qbtui: train Stable Diffusion 1.5 character LoRAs of your friends in one house style.

Run with no command to open the dashboard. Every command reads and writes one
registry.toml: --registry PATH, else $QBTUI_REGISTRY, else ./registry.toml, else the
user config folder (see `qbtui locate`).
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every topic's subcommands included."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="qbtui",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qbtui {__version__}")
    _add_registry_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in TOPIC_MODULES:
        importlib.import_module(f"qbtui.cli.{name}").register(subparsers)
    return parser


def _add_registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        metavar="PATH",
        help="registry.toml to use (default: $QBTUI_REGISTRY, ./registry.toml, user config dir)",
    )


def dashboard_args(argv: list[str]) -> argparse.Namespace | None:
    """`qbtui [--registry PATH]` (the dashboard) parsed without importing every command's
    module; None for anything else (a command, --help, --version, an error), which the
    whole parser then handles."""
    parser = argparse.ArgumentParser(prog="qbtui", add_help=False, allow_abbrev=False, exit_on_error=False)
    _add_registry_option(parser)
    try:
        args, rest = parser.parse_known_args(argv)
    except argparse.ArgumentError:
        return None
    return None if rest else args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `qbtui` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = dashboard_args(argv) or build_parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        from qbtui.cli.foundation import open_dashboard

        handler = open_dashboard
    output = _WatchedOutput(sys.stdout)
    sys.stdout = output
    try:
        code = int(handler(args) or 0)
        sys.stdout.flush()
        return code
    except QbtuiError as error:
        print(f"qbtui: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_OUTPUT_CLOSED
    except OSError as error:
        if not output.failed:
            raise
        _discard_stdout()
        print(f"qbtui: cannot write the output: {error.strerror}", file=sys.stderr)
        return 1
    finally:
        if sys.stdout is output:
            sys.stdout = output.stream


EXIT_OUTPUT_CLOSED = 141  # as if killed by SIGPIPE: the reader (`| head`) wanted no more


class _WatchedOutput:
    """Standard output that remembers whether a write to it failed (a full disk, a closed pipe)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.failed = False

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            self.failed = True
            raise

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            self.failed = True
            raise

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _discard_stdout() -> None:
    """Point standard output at /dev/null so the exit-time flush cannot print a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
