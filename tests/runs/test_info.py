"""Run state derived from the run directory: events, pid files, the queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qbtui.events import EventWriter
from qbtui.registry import Settings
from qbtui.rundir import RunDir, new_run_id, write_run_toml
from qbtui.runs.info import list_runs, read_run
from qbtui.runs.liveness import ProcessRecord, read_pid_file, write_pid_file
from qbtui.runs.queue import RunQueue


def make_run(logs_dir, friend="peter", created_at=None, now=None):
    run = RunDir(logs_dir / friend / new_run_id(friend, now))
    run.path.mkdir(parents=True)
    run_table = {
        "run_id": run.run_id,
        "friend": friend,
        "backend": "builtin",
        "preset": "demo",
        "created_at": time.time() if created_at is None else created_at,
    }
    write_run_toml(run, run_table, {"max_train_steps": 60})
    return run


def own_supervisor(run):
    write_pid_file(run.supervisor_pid, ProcessRecord.of(os.getpid()))


def test_running_run_shows_progress_and_recent_losses(tmp_path):
    run = make_run(tmp_path)
    own_supervisor(run)
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=os.getpid())
        events.write("start", run_id=run.run_id, friend="peter", backend="builtin", max_steps=60)
        for step in range(1, 6):
            events.write("step", step=step, max_steps=60, loss=1.0 / step, avg_loss=0.5, it_s=2.0, eta_s=27.5)
    info = read_run(run.path)
    assert (info.state, info.step, info.max_steps, info.it_s) == ("running", 5, 60, 2.0)
    assert info.losses == (1.0, 0.5, 1 / 3, 0.25, 0.2)
    assert info.backend == "builtin" and info.preset == "demo" and info.friend_id == "peter"


def test_an_evaluation_run_counts_its_samples_as_steps_and_a_training_run_does_not(tmp_path):
    for backend, steps in (("eval", 3), ("builtin", 60)):
        run = make_run(tmp_path, friend=f"f{backend}")
        own_supervisor(run)
        with EventWriter(run.events) as events:
            events.write("supervisor", state="started", pid=os.getpid())
            events.write("start", run_id=run.run_id, friend="peter", backend=backend, max_steps=60 if backend != "eval" else 12)
            if backend == "builtin":
                events.write("step", step=60, max_steps=60, loss=0.5)
            for done in range(1, 4):
                events.write("eval", stage="sample", done=done, total=12, lora="final", weight=0.8, faces=1)
        info = read_run(run.path)
        assert info.step == steps, backend


def test_dead_supervisor_means_crashed_with_the_log_tail(tmp_path):
    run = make_run(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    record = ProcessRecord.of(child.pid)
    child.wait()
    write_pid_file(run.supervisor_pid, record or ProcessRecord(child.pid, "1"))
    run.output_log.write_text("".join(f"line {n}\n" for n in range(30)) + "RuntimeError: boom\r\n")
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=child.pid)
        events.write("step", step=3, max_steps=60)
    info = read_run(run.path)
    assert info.state == "crashed"
    assert "supervisor process is gone" in info.error
    assert info.error.endswith("RuntimeError: boom") and "line 11" in info.error and "line 10\n" not in info.error


def test_reused_pid_is_not_taken_for_the_supervisor(tmp_path):
    run = make_run(tmp_path)
    write_pid_file(run.supervisor_pid, ProcessRecord(os.getpid(), "not-my-start-time"))
    assert read_run(run.path).state == "crashed"


def test_done_event_ends_the_run_once_the_backend_exited(tmp_path):
    run = make_run(tmp_path)
    write_pid_file(run.supervisor_pid, ProcessRecord(os.getpid(), "gone"))
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=1)
        events.write("done", status="stopped", lora_path="/loras/x.safetensors")
        events.write("supervisor", state="backend-exited", pid=1, detail="exit code 0")
    info = read_run(run.path)
    assert info.state == "stopped" and str(info.lora_path) == "/loras/x.safetensors"
    assert info.it_s is None and info.eta_s is None


def test_done_without_the_supervisor_finishing_is_a_crash(tmp_path):
    run = make_run(tmp_path)
    write_pid_file(run.supervisor_pid, ProcessRecord(os.getpid(), "gone"))
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=1)
        events.write("done", status="completed", lora_path="/loras/x.safetensors")
    assert read_run(run.path).state == "crashed"


def test_a_resume_opens_a_new_attempt(tmp_path):
    run = make_run(tmp_path)
    write_pid_file(run.supervisor_pid, ProcessRecord(os.getpid(), "an earlier supervisor"))
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=1)
        events.write("step", step=30, max_steps=60)
        events.write("error", message="stopped by you", hint="resume it")
        events.write("done", status="stopped")
        events.write("supervisor", state="backend-exited", pid=1)
    assert read_run(run.path).state == "stopped"
    own_supervisor(run)
    assert read_run(run.path).state == "running", "a new supervisor that has not written yet is a resume starting"
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=os.getpid())
        events.write("step", step=31, max_steps=60)
    info = read_run(run.path)
    assert (info.state, info.step, info.error) == ("running", 31, None)


def test_new_run_without_pid_file_is_starting_then_crashed(tmp_path):
    fresh = make_run(tmp_path)
    stale = make_run(tmp_path, created_at=time.time() - 3600)
    assert read_run(fresh.path).state == "running"
    stale_info = read_run(stale.path)
    assert stale_info.state == "crashed" and "never started" in stale_info.error


def test_queued_run_and_newest_first(tmp_path):
    older = make_run(tmp_path, friend="maria", now=time.time() - 60)
    newer = make_run(tmp_path, friend="peter")
    RunQueue(tmp_path).add(newer)
    settings = Settings(datasets_dir=tmp_path, lora_dir=tmp_path, logs_dir=tmp_path, base_model=tmp_path)
    infos = list_runs(settings)
    assert [i.run_id for i in infos] == [newer.run_id, older.run_id]
    assert infos[0].state == "queued"


def test_broken_run_toml_is_listed_with_the_reason(tmp_path):
    run = make_run(tmp_path)
    run.run_toml.write_text("[run\n")
    settings = Settings(datasets_dir=tmp_path, lora_dir=tmp_path, logs_dir=tmp_path, base_model=tmp_path)
    (info,) = list_runs(settings)
    assert info.state == "crashed" and "run.toml is not valid TOML" in info.error


def test_a_broken_run_toml_leaves_a_live_or_ended_run_its_state_with_a_warning(tmp_path):
    settings = Settings(datasets_dir=tmp_path, lora_dir=tmp_path, logs_dir=tmp_path, base_model=tmp_path)
    live, ended = make_run(tmp_path, friend="peter"), make_run(tmp_path, friend="maria")
    own_supervisor(live)
    write_pid_file(ended.supervisor_pid, ProcessRecord(2**22 + 1, "gone"))
    for run, pid in ((live, os.getpid()), (ended, 2**22 + 1)):
        with EventWriter(run.events) as events:
            events.write("supervisor", state="started", pid=pid)
            events.write("step", step=3, max_steps=60, loss=0.5)
        run.run_toml.write_bytes(b"\x00[[[ garbage \xff")
    with EventWriter(ended.events) as events:
        events.write("done", status="completed", lora_path=str(tmp_path / "qb_maria_lora.safetensors"))
        events.write("supervisor", state="backend-exited", pid=2**22 + 1)
    infos = {info.friend_id: info for info in list_runs(settings)}
    assert (infos["peter"].state, infos["peter"].step) == ("running", 3)
    assert f"{live.run_toml} cannot be read" in infos["peter"].error and f"qbtui stop {live.run_id}" in infos["peter"].error
    assert infos["maria"].state == "completed" and "put run.toml back" in infos["maria"].error


def test_pid_file_round_trip_and_liveness(tmp_path):
    record = ProcessRecord.of(os.getpid())
    write_pid_file(tmp_path / "x.pid", record)
    assert read_pid_file(tmp_path / "x.pid") == record and record.is_alive()
    assert read_pid_file(tmp_path / "missing.pid") is None
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while ProcessRecord.of(zombie.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ProcessRecord.of(zombie.pid) is None, "an exited, unreaped child must count as gone"
    zombie.wait()


LINGERING_THREAD = """
import ctypes, fcntl, os, sys, threading, time
from pathlib import Path
folder = Path(sys.argv[1])
fcntl.flock(os.open(folder / "lock", os.O_RDWR | os.O_CREAT), fcntl.LOCK_EX)
def linger():
    while not (folder / "release").exists():
        time.sleep(0.02)
    os._exit(0)
threading.Thread(target=linger).start()
(folder / "ready").touch()
ctypes.CDLL(None).pthread_exit(None)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_process_whose_main_thread_ended_is_alive_while_a_thread_still_holds_its_files(tmp_path, wait_for):
    """A trainer exiting shows its leader as a zombie while its threads still hold its locks: not gone yet."""
    child = subprocess.Popen([sys.executable, "-c", LINGERING_THREAD, str(tmp_path)])
    try:
        wait_for((tmp_path / "ready").exists, what="the child's lock")
        record = ProcessRecord.of(child.pid)
        assert record is not None
        wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", what="a zombie leader")
        assert record.is_alive(), "its thread still runs and holds the lock"
        (tmp_path / "release").touch()
        wait_for(lambda: not record.is_alive(), what="the whole process gone")
    finally:
        (tmp_path / "release").touch()
        child.wait(timeout=60)


def test_polling_a_run_parses_only_new_lines(tmp_path, monkeypatch):
    import qbtui.events as events_module

    run = make_run(tmp_path)
    own_supervisor(run)
    with EventWriter(run.events) as events:
        events.write("supervisor", state="started", pid=os.getpid())
        for step in range(1, 101):
            events.write("step", step=step, max_steps=200)
    assert read_run(run.path).step == 100
    parsed = []
    original = events_module.parse_event
    monkeypatch.setattr(events_module, "parse_event", lambda line: parsed.append(line) or original(line))
    settings = Settings(datasets_dir=tmp_path, lora_dir=tmp_path, logs_dir=tmp_path, base_model=tmp_path)
    assert list_runs(settings)[0].step == 100 and parsed == []
    with EventWriter(run.events) as events:
        events.write("step", step=101, max_steps=200)
    assert read_run(run.path).step == 101 and len(parsed) == 1


def test_dataset_fingerprint_follows_the_training_folders(tmp_path):
    from qbtui.rundir import dataset_fingerprint

    folder = tmp_path / "peter" / "30_peter"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"123")
    first = dataset_fingerprint(tmp_path / "peter")
    (tmp_path / "peter" / "originals").mkdir()
    (tmp_path / "peter" / "originals" / "old.jpg").write_bytes(b"x")
    assert dataset_fingerprint(tmp_path / "peter") == first, "kohya ignores originals/, so does the fingerprint"
    (folder / "a.txt").write_text("qb_peter person")
    assert dataset_fingerprint(tmp_path / "peter") != first


@pytest.mark.skipif(shutil.which("ps") is None, reason="no ps command here")
def test_ps_fallback_used_on_macos_tells_the_same_story(monkeypatch):
    from qbtui.runs import liveness

    monkeypatch.setattr(liveness.sys, "platform", "darwin")
    started = liveness.process_start_time(os.getpid())
    assert started and started == liveness.process_start_time(os.getpid())
    assert len(started.split()) == 5, "lstart reads like 'Wed Nov 25 03:42:46 2026'"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert liveness.process_start_time(child.pid) is None


def test_a_fifo_run_toml_is_skipped_with_a_warning_and_a_fifo_events_file_is_named(tmp_path):
    settings = Settings(datasets_dir=tmp_path, lora_dir=tmp_path, logs_dir=tmp_path, base_model=tmp_path)
    skipped, piped = make_run(tmp_path, friend="peter"), make_run(tmp_path, friend="maria")
    skipped.run_toml.unlink()
    os.mkfifo(skipped.run_toml)
    os.mkfifo(piped.events)
    warnings: list[str] = []
    infos = list_runs(settings, warnings)
    assert warnings == [
        f"{skipped.run_toml}: is a FIFO (named pipe), not a regular file: the run is skipped "
        "(fix: put the run's run.toml back in its place, or delete the run's folder)"
    ]
    assert [info.friend_id for info in infos] == ["maria"]
    assert f"{piped.events}: is a FIFO (named pipe), not a regular file" in (infos[0].error or "")
