"""The trainer's stop flag: a stop never fails on a broken stream, and the supervisor's end is a stop (issue 10 item 5)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from qbtui.trainer import __main__ as trainer_main


def test_a_stop_with_a_broken_stderr_still_stops(monkeypatch):
    read_end, write_end = os.pipe()
    os.close(read_end)
    broken = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stderr", broken)
    stop = trainer_main.StopFlag()
    stop._handle(signal.SIGTERM, None)
    assert stop()
    trainer_main.say("done")
    with contextlib.suppress(BrokenPipeError):
        broken.close()


def test_the_supervisor_ending_is_a_stop(monkeypatch, capsys):
    stop = trainer_main.StopFlag()
    assert not stop()
    monkeypatch.setattr(os, "getppid", lambda: stop.parent + 1)
    assert stop() and stop()
    assert capsys.readouterr().err.count("the supervisor ended") == 1
