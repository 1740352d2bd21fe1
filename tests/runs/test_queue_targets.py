"""Where a queued run may start: its target, chosen when it is queued."""

from __future__ import annotations

import pytest

from qbtui.errors import QbtuiError
from qbtui.registry import Registry
from qbtui.runs import manager
from qbtui.runs.placement import ANYWHERE, HERE

FINAL = ("completed", "stopped", "failed", "crashed")


@pytest.fixture
def with_host(workspace):
    """The workspace with a [hosts.gpu1] (never reached: these runs wait or stay here)."""
    workspace.path.write_text(workspace.path.read_text() + '\n[hosts.gpu1]\nssh = "gpu1.invalid"\n')
    return Registry.load(workspace.path)


def test_a_queued_run_may_start_anywhere_unless_pinned(with_host, monkeypatch, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.5")
    first = manager.start_run(with_host, "peter", steps=400, queue=True, target=HERE)
    assert (first.state, first.where, first.target) == ("running", HERE, HERE)
    pinned = manager.start_run(with_host, "maria", queue=True, target=HERE)
    assert (pinned.state, pinned.where) == ("queued", HERE), "a run pinned here waits for this machine"
    manager.stop_run(with_host.settings, pinned.run_id)
    manager.stop_run(with_host.settings, first.run_id)
    assert wait_for_state(first.path, FINAL).state == "stopped"


def test_a_kohya_run_is_queued_for_this_machine(with_host, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.5")
    first = manager.start_run(with_host, "peter", steps=400)
    kohya = manager.start_run(with_host, "maria", backend="kohya", queue=True)
    assert (kohya.state, kohya.target) == ("queued", HERE)
    with pytest.raises(QbtuiError, match="builtin trainer"):
        manager.start_run(with_host, "maria", backend="kohya", queue=True, target="gpu1")
    manager.stop_run(with_host.settings, kohya.run_id)
    manager.stop_run(with_host.settings, first.run_id)


def test_an_unknown_target_is_refused_naming_the_places(with_host):
    with pytest.raises(QbtuiError, match=f"use one of: {HERE}, {ANYWHERE}, gpu1"):
        manager.start_run(with_host, "peter", queue=True, target="gpu9")
