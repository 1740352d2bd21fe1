"""`python stop_while_sampling.py RUN_DIR [--resume]`: the trainer (`python -m qbtui.trainer`) with its first
sample image (a checkpoint's identity sample or a `sample_every_n_steps` one) held until a stop signal
has arrived, and a `drawing` file in RUN_DIR meanwhile: a test signals a trainer that is drawing
samples, with no race. Everything after the hold is the real sampler."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from qbtui.trainer import __main__ as trainer_main, sampling, stopflag

HOLD_S = 300.0  # the longest the first image waits for the signal


def main(argv: list[str]) -> int:
    run_dir = Path(argv[0])
    signalled: list[int] = []
    handle = stopflag.StopFlag._handle
    render = sampling.render

    def noted(self: stopflag.StopFlag, signum: int, frame: object) -> None:
        signalled.append(signum)
        handle(self, signum, frame)

    def held(*args, **kwargs):
        if not signalled:
            (run_dir / "drawing").write_text("the first sample image waits for a stop signal\n", encoding="utf-8")
            deadline = time.monotonic() + HOLD_S
            while not signalled and time.monotonic() < deadline:
                time.sleep(0.01)
        return render(*args, **kwargs)

    stopflag.StopFlag._handle = noted  # type: ignore[method-assign]
    sampling.render = held
    return trainer_main.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
