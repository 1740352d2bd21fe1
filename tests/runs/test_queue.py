"""The queue folder: order, moves, cancel, survives as files."""

from __future__ import annotations

import time

import pytest

from qbtui.errors import QbtuiError
from qbtui.registry import Settings
from qbtui.rundir import RunDir, new_run_id, write_run_toml
from qbtui.runs.queue import UNREACHABLE_SKIP_S, RunQueue, cancel, list_queue, move


@pytest.fixture
def settings(tmp_path):
    return Settings(datasets_dir=tmp_path, lora_dir=tmp_path, logs_dir=tmp_path / "logs", base_model=tmp_path)


def queued_run(settings, friend):
    run = RunDir(settings.logs_dir / friend / new_run_id(friend))
    run.state_dir.mkdir(parents=True)
    write_run_toml(run, {"run_id": run.run_id, "friend": friend, "created_at": time.time()}, {})
    RunQueue(settings.logs_dir).add(run)
    return run


def test_queue_keeps_order_and_moves(settings):
    a, b, c = (queued_run(settings, name).run_id for name in ("anna", "ben", "cleo"))
    assert list_queue(settings) == [a, b, c]
    assert move(settings, c, -1) == [a, c, b]
    assert list_queue(settings) == [a, c, b], "the new order is on disk"
    assert move(settings, a, 10) == [c, b, a]
    assert move(settings, a, -10) == [a, c, b]
    assert RunQueue(settings.logs_dir).remove(a) and not RunQueue(settings.logs_dir).remove(a)
    assert list_queue(settings) == [c, b]


def test_cancel_removes_the_entry_and_the_unstarted_run(settings):
    first, second = queued_run(settings, "anna"), queued_run(settings, "ben")
    cancel(settings, first.run_id)
    assert list_queue(settings) == [second.run_id] and not first.path.exists()
    with pytest.raises(QbtuiError, match="is not queued"):
        cancel(settings, first.run_id)
    with pytest.raises(QbtuiError, match="is not queued"):
        move(settings, first.run_id, 1)


def test_cancel_keeps_a_run_that_has_started(settings):
    run = queued_run(settings, "anna")
    run.supervisor_pid.write_text("1 0\n")
    cancel(settings, run.run_id)
    assert run.run_toml.exists()


def test_a_run_put_back_goes_to_the_head_of_the_queue_however_often(settings):
    run_queue = RunQueue(settings.logs_dir)
    a, b = queued_run(settings, "anna"), queued_run(settings, "ben")
    for friend in ("cleo", "dora", "emil"):
        run = RunDir(settings.logs_dir / friend / new_run_id(friend))
        run_queue.put_back(run)
        assert list_queue(settings)[0] == run.run_id
    assert list_queue(settings)[-2:] == [a.run_id, b.run_id] and len(list_queue(settings)) == 5


def test_a_host_that_did_not_answer_is_skipped_for_a_while(settings):
    run_queue = RunQueue(settings.logs_dir)
    assert run_queue.unreachable_hosts() == set()
    run_queue.mark_unreachable("gpu1", "ssh: connection refused")
    assert run_queue.unreachable_hosts() == {"gpu1"}
    assert run_queue.unreachable_hosts(now=time.time() + UNREACHABLE_SKIP_S + 1) == set()
    assert list_queue(settings) == [], "the marks are no queue entries"


def test_a_broken_run_toml_makes_only_that_run_wait(settings, monkeypatch):
    from qbtui.runs import launch

    broken, fine = queued_run(settings, "anna"), queued_run(settings, "ben")
    broken.run_toml.write_text("[train]\nmax_train_steps = 3\n", encoding="utf-8")  # hand-edited: no [run]
    plan = {run.run_id: decision for run, decision in launch.plan_queue(settings.logs_dir)}
    assert plan[broken.run_id].place is None and "no [run] table" in plan[broken.run_id].reason
    assert str(broken.run_toml) in plan[broken.run_id].reason
    assert plan[fine.run_id].place == "here"
    started: list[str] = []
    monkeypatch.setattr(launch, "launch_supervisor", lambda run, **_: started.append(run.run_id))
    assert [run.run_id for run in launch.start_next_queued(settings.logs_dir)] == [fine.run_id] == started
    assert list_queue(settings) == [broken.run_id]
