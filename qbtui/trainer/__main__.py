"""`python -m qbtui.trainer RUN_DIR [--resume]`: train the run described by RUN_DIR/run.toml.

SIGTERM or Ctrl-C finishes the current step, saves a resumable state in RUN_DIR/state/,
writes a LoRA file and exits 0 with `done` "stopped". Failures are `error` events plus a
message (and, for unexpected ones, the traceback) on stderr, with exit code 1 (2 for a
QbtuiError, as the CLI uses).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from qbtui.errors import QbtuiError


def read_run_config(run_dir: Path):
    """The `[train]` table of RUN_DIR/run.toml as a TrainConfig."""
    import tomlkit

    from qbtui.trainer.config import TrainConfig

    path = run_dir / "run.toml"
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QbtuiError("run.toml is missing", path=path, fix="start runs with `qbtui train`, which writes it") from None
    except tomlkit.exceptions.ParseError as error:
        raise QbtuiError(f"run.toml is not valid TOML: {error}", path=path, fix="repair or recreate the run") from None
    if "train" not in document:
        raise QbtuiError("run.toml has no [train] table", path=path, fix="recreate the run with `qbtui train`")
    return TrainConfig.from_toml_table(document["train"], path=path)


def report_unreadable_config(run_dir: Path, error: QbtuiError) -> None:
    """Tell the event stream's readers why the run never started."""
    from qbtui.events import EventWriter

    if not run_dir.is_dir():
        return
    with EventWriter(run_dir / "events.jsonl") as events:
        events.write("error", message=error.describe().splitlines()[0], hint=error.fix or "")
        events.write("done", status="failed", lora_path=None)


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop checks it after each step."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if not self.requested:
            print(f"{signal.Signals(signum).name}: finishing this step, then saving state", file=sys.stderr, flush=True)
        self.requested = True

    def __call__(self) -> bool:
        return self.requested


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qbtui.trainer", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the run directory holding run.toml")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/state/")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    stop = StopFlag()
    stop.install()
    try:
        config = read_run_config(args.run_dir)
    except QbtuiError as error:
        report_unreadable_config(args.run_dir, error)
        print(f"error: {error.describe()}", file=sys.stderr)
        return 2
    try:
        from qbtui.trainer.loop import train

        outcome = train(config, args.run_dir, resume=args.resume, should_stop=stop)
    except QbtuiError as error:
        print(f"error: {error.describe()}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 - the error event is written; the traceback goes to stderr for output.log
        traceback.print_exc()
        return 1
    print(f"{outcome.status} at step {outcome.step}: {outcome.lora_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
