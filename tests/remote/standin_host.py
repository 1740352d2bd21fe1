"""The host's `qbtui` in the remote tests: this checkout's qbtui, with the builtin trainer
replaced by the fast stand-in (tests/runs/standins/trainer.py, paced by STANDIN_STEP_S)."""

import sys
from pathlib import Path

import qbtui.runs.backends.builtin as builtin

STANDIN = Path(__file__).resolve().parents[1] / "runs" / "standins" / "trainer.py"
builtin.builtin_command = lambda run_path, processes=1: [sys.executable, str(STANDIN), str(run_path)]

from qbtui.cli import main  # noqa: E402 - after the stand-in is in place

raise SystemExit(main())
