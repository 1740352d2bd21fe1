"""The one stop escalation (SIGTERM, grace, SIGKILL) both the manager and the supervisor use."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from qbtui.runs.launch import GroupStop, signal_group, stop_group
from qbtui.runs.liveness import ProcessRecord

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"


@pytest.fixture
def group_leader():
    """A process leading its own group that ignores SIGTERM (only SIGKILL ends it)."""
    process = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    signal_group(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_term_first_then_kill_only_after_the_grace(group_leader):
    stop = GroupStop(group_leader.pid, grace_s=5.0)
    stop.advance(now=100.0)
    assert stop.term_sent_at == 100.0 and not stop.killed
    stop.advance(now=104.0)
    assert not stop.killed and group_leader.poll() is None
    stop.advance(now=105.5)
    assert stop.killed
    assert group_leader.wait(timeout=30) == -signal.SIGKILL


def test_stop_group_waits_out_a_process_that_ignores_sigterm(group_leader):
    record = ProcessRecord.of(group_leader.pid)
    assert record is not None
    started = time.monotonic()
    stop_group(record, grace_s=0.3)
    assert time.monotonic() - started >= 0.3
    assert group_leader.wait(timeout=30) == -signal.SIGKILL


def test_a_group_already_gone_is_no_error():
    process = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    process.wait(timeout=30)
    stop = GroupStop(process.pid, grace_s=0.0)
    stop.advance(now=0.0)
    stop.advance(now=1.0)
    assert stop.killed
