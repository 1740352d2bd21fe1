"""`python -m qbtui.trainer RUN_DIR [--resume]`: train the run described by RUN_DIR/run.toml.

SIGTERM or Ctrl-C (or the end of the process that started it) finishes the current step,
saves a resumable state in RUN_DIR/state/, writes a LoRA file and exits 0 with `done`
"stopped". Its output goes to RUN_DIR/output.log through descriptors the supervisor opened
on that file (when the supervisor runs it), so it never depends on a pipe to a process that
may be gone. Failures are `error` events plus a
message (and, for unexpected ones, the traceback) on stderr, with exit code 1 (2 for a
QbtuiError, as the CLI uses).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.errors import QbtuiError
from qbtui.modelenv import prepare_model_environment
from qbtui.trainer.stopflag import StopFlag, say

if TYPE_CHECKING:
    from qbtui.trainer.config import TrainConfig


def read_run_config(run_dir: Path) -> TrainConfig:
    """The `[train]` table of RUN_DIR/run.toml as a TrainConfig."""
    from qbtui.rundir import RunDir, read_train_table
    from qbtui.trainer.config import TrainConfig

    run = RunDir(run_dir)
    return TrainConfig.from_toml_table(read_train_table(run), path=run.run_toml)


def report_unreadable_config(run_dir: Path, error: QbtuiError) -> None:
    """Tell the event stream's readers why the run never started."""
    from qbtui.events import EventWriter
    from qbtui.rundir import RunDir

    if not run_dir.is_dir():
        return
    with EventWriter(RunDir(run_dir).events) as events:
        events.write("error", message=error.describe().splitlines()[0], hint=error.fix or "")
        events.write("done", status="failed", lora_path=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qbtui.trainer", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the run directory holding run.toml")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/state/")
    args = parser.parse_args(argv)
    prepare_model_environment()
    stop = StopFlag()
    stop.install()
    try:
        config = read_run_config(args.run_dir)
    except QbtuiError as error:
        report_unreadable_config(args.run_dir, error)
        say(f"error: {error.describe()}")
        return 2
    try:
        from qbtui.trainer.loop import train

        outcome = train(config, args.run_dir, resume=args.resume, should_stop=stop)
    except QbtuiError as error:
        say(f"error: {error.describe()}")
        return 2
    except Exception:  # noqa: BLE001 - the error event is written; the traceback goes to stderr for output.log
        say(traceback.format_exc().rstrip())
        return 1
    say(f"{outcome.status} at step {outcome.step}: {outcome.lora_path}", stdout=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
