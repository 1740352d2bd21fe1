"""The queue across devices: queued runs start on the first free place, here or on a host
(a throwaway sshd as [hosts.box], max_runs 1)."""

from __future__ import annotations

from qbtui.cli.runs import runs_table
from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.info import list_runs, read_run
from qbtui.runs.placement import ANYWHERE, HERE
from qbtui.runs.queue import RunQueue, list_queue
from tests.runs.conftest import draw_dataset

FINAL = ("completed", "stopped", "failed", "crashed")
LONG = 100_000  # steps: the run goes on until the test stops it


def with_ben(registry: Registry) -> Registry:
    """The registry with a third friend, Ben, and his ready dataset."""
    draw_dataset(registry.path.parent / "datasets" / "ben" / "30_ben", "qb_ben")
    registry.path.write_text(registry.path.read_text() + '\n[friends.ben]\nname = "Ben"\ntoken = "qb_ben"\nrepeats = 30\n')
    return Registry.load(registry.path)


def queue(registry: Registry, friend: str, steps: int):
    return manager.start_run(registry, friend, steps=steps, queue=True)


def warnings_of(run_path) -> list[str]:
    return [event["message"] for event in read_events(RunDir(run_path).events) if event["type"] == "warning"]


def test_queued_runs_take_this_machine_then_the_host_and_the_third_waits_for_a_free_place(
    host_registry, wait_for, wait_for_state
):
    registry = with_ben(host_registry)
    here = queue(registry, "peter", LONG)
    assert (here.state, here.where) == ("running", HERE)
    on_host = queue(registry, "maria", LONG)
    assert (on_host.state, on_host.host, on_host.where) == ("running", "box", "box")
    waiting = queue(registry, "ben", 4)
    assert (waiting.state, waiting.where) == ("queued", ANYWHERE)
    assert list_queue(registry.settings) == [waiting.run_id]
    wait_for(lambda: read_run(on_host.path).step >= 1, timeout=120, what="the host run's first step mirrored here")
    table = runs_table(list_runs(registry.settings))
    assert {line.split()[0]: line.split()[2] for line in table.splitlines()[1:]} == {
        here.run_id: "here",
        on_host.run_id: "box",
        waiting.run_id: "anywhere",
    }

    assert manager.stop_run(registry.settings, here.run_id, timeout=60).state == "stopped"
    done = wait_for_state(waiting.path, FINAL, timeout=120)
    assert (done.state, done.where, done.host) == ("completed", HERE, None)
    assert read_run(on_host.path).state == "running"  # the host's one slot stayed taken
    assert manager.stop_run(registry.settings, on_host.run_id, timeout=180).state == "stopped"


def test_a_run_ending_on_the_host_starts_the_next_one_pinned_there(host_registry, wait_for_state):
    first = queue(host_registry, "peter", LONG)
    assert first.where == HERE
    on_host = manager.start_run(host_registry, "maria", steps=6, queue=True, target="box")
    assert on_host.where == "box"
    registry = with_ben(host_registry)
    pinned = manager.start_run(registry, "ben", steps=4, queue=True, target="box")
    assert (pinned.state, pinned.where) == ("queued", "box")
    assert wait_for_state(on_host.path, FINAL, timeout=180).state == "completed"
    done = wait_for_state(pinned.path, FINAL, timeout=180)
    assert (done.state, done.host) == ("completed", "box")
    manager.stop_run(registry.settings, first.run_id, timeout=60)


def test_a_host_that_does_not_answer_is_skipped_and_the_run_waits_with_a_warning(host_registry, sshd, wait_for, wait_for_state):
    sshd.stop()
    here = queue(host_registry, "peter", LONG)
    placed = queue(host_registry, "maria", 4)
    assert placed.host == "box"  # the queue placed it there; the follower finds the host gone
    wait_for(lambda: read_run(placed.path).state == "queued", timeout=120, what="the run back in the queue")
    (warning,) = warnings_of(placed.path)
    assert warning.startswith("could not start on host box (") and "waits in the queue" in warning
    assert list_queue(host_registry.settings) == [placed.run_id]
    assert RunQueue(host_registry.settings.logs_dir).unreachable_hosts() == {"box"}
    assert read_run(placed.path).where == ANYWHERE

    assert manager.stop_run(host_registry.settings, here.run_id, timeout=60).state == "stopped"
    done = wait_for_state(placed.path, FINAL, timeout=120)
    assert (done.state, done.where) == ("completed", HERE)
