"""Attacks on runs (issue 10): ids that escape logs/, bad event lines, killed supervisors, deleted run folders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qbtui.cli import main
from qbtui.errors import QbtuiError
from qbtui.events import EventWriter, read_events
from qbtui.rundir import RunDir, run_dir_for, write_run_toml
from qbtui.runs import manager
from qbtui.runs.info import read_run
from qbtui.runs.liveness import ProcessRecord, read_pid_file, write_pid_file

ESCAPING_IDS = [
    "20260101-000000-ada/../../../outside/fake-abcd",
    "20260101-000000-../outside-abcd",
    "20260101-000000-.-abcd",
    "20260101-000000-ada-abcd\n",
]


def qbtui(workspace, *args):
    return main(["--registry", str(workspace.path), *args])


@pytest.fixture
def victim():
    """A live process that no qbtui command may signal."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def plant_fake_run(logs_dir, run_id, pid):
    """A run folder with a live supervisor pid where `logs_dir / friend / run_id` leads (outside logs/)."""
    friend = run_id.strip().rsplit("-", 1)[0].split("-", 2)[2]
    run = RunDir(Path(os.path.normpath(logs_dir / friend / run_id)))
    (logs_dir / friend.split("/")[0]).mkdir(parents=True, exist_ok=True)
    run.path.mkdir(parents=True, exist_ok=True)
    write_run_toml(run, {"run_id": run_id, "friend": "ada", "backend": "builtin", "created_at": 0}, {})
    write_pid_file(run.supervisor_pid, ProcessRecord.of(pid))
    return run


@pytest.mark.parametrize("run_id", ESCAPING_IDS)
@pytest.mark.parametrize("command", ["stop", "resume", "logs"])
def test_a_run_id_is_one_path_component(workspace, capsys, victim, run_id, command):
    plant_fake_run(workspace.settings.logs_dir, run_id, victim.pid)
    assert qbtui(workspace, command, run_id) == 2
    assert "neither a run id nor a friend id" in capsys.readouterr().err
    assert victim.poll() is None, "the process named by a pid file outside logs/ was signalled"
    with pytest.raises(QbtuiError, match="is not a run id"):
        run_dir_for(workspace.settings.logs_dir, run_id)


def test_a_run_folder_symlinked_out_of_logs_is_refused(workspace, tmp_path, capsys, victim):
    outside = tmp_path / "outside"
    outside.mkdir()
    logs_dir = workspace.settings.logs_dir
    logs_dir.mkdir(parents=True, exist_ok=True)
    (logs_dir / "peter").symlink_to(outside)
    run_id = "20260101-000000-peter-abcd"
    plant_fake_run(logs_dir, run_id, victim.pid)
    with pytest.raises(QbtuiError, match="resolves outside the logs folder"):
        run_dir_for(logs_dir, run_id)
    assert qbtui(workspace, "stop", run_id) == 2
    assert "resolves outside the logs folder" in capsys.readouterr().err
    assert victim.poll() is None


BAD_EVENT_LINES = [
    '{"t":1,"type":"error","message":null}',
    '{"t":1,"type":"step","step":3,"loss":"abc"}',
    '{"t":1,"type":"done","status":"completed","lora_path":5}',
    '{"t":1e400,"type":"warning","message":"x"}',
    '{"t":1,"type":"step","step":3,"loss":1' + "0" * 400 + "}",
    '{"t":1,"type":"error","message":"\\ud800"}',
    '{"t":1,"type":"checkpoint","path":"a\\u0000b"}',
    '{"t":1,"type":"error","message":"m","log_tail":[1]}',
]


@pytest.mark.parametrize("line", BAD_EVENT_LINES)
def test_a_bad_event_line_is_skipped_and_counted(workspace, capsys, line):
    run = RunDir(workspace.settings.logs_dir / "peter" / "20260101-000000-peter-abcd")
    run.path.mkdir(parents=True)
    write_run_toml(run, {"run_id": run.run_id, "friend": "peter", "backend": "builtin", "created_at": 0}, {})
    good = '{"t":2,"type":"step","step":4,"max_steps":8,"loss":0.5}'
    run.events.write_text(f"{good}\n{line}\n{good.replace('4', '5', 1)}\n")
    assert qbtui(workspace, "runs", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["bad_lines"], listed["step"], listed["loss"]) == (1, 5, 0.5)
    assert qbtui(workspace, "logs", run.run_id) == 0
    out, err = capsys.readouterr()
    assert "step 4/8" in out and "step 5/8" in out
    assert "skipped 1 line(s)" in err and "events.jsonl" in err
    assert qbtui(workspace, "runs") == 0


def test_writers_store_any_text_and_number(tmp_path):
    with EventWriter(tmp_path / "events.jsonl") as events:
        events.write("error", message="bad name \udcff.jpg", hint=None, log_tail=["\udcff"])
        events.write("step", step=1, loss=float("nan"), it_s=float("inf"))
    error, step = read_events(tmp_path / "events.jsonl")
    assert error["message"] == "bad name \ufffd.jpg" and step["loss"] is None


def test_deleting_a_run_folder_mid_run_keeps_its_friend_and_the_device_taken(workspace, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_STEP_S", "0.5")
    info = manager.start_run(workspace, "peter")
    run = RunDir(info.path)
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    supervisor, backend = read_pid_file(run.supervisor_pid), read_pid_file(run.backend_pid)
    shutil.rmtree(run.path)
    with pytest.raises(QbtuiError, match=f"{info.run_id} still holds peter's training"):
        manager.start_run(workspace, "peter")
    with pytest.raises(QbtuiError, match=f"{info.run_id} still holds the device"):
        manager.start_run(workspace, "maria")
    queued = manager.start_run(workspace, "maria", queue=True)
    assert queued.state == "queued"
    assert supervisor.is_alive() and backend.is_alive(), "the refusals came while the first run was still going"
    os.kill(supervisor.pid, signal.SIGTERM)
    wait_for(lambda: not supervisor.is_alive() and not backend.is_alive(), what="the folderless run to stop")
    assert read_run(queued.path).state in ("running", "completed"), "the queue moved on once the device was free"
    wait_for(lambda: read_run(queued.path).state == "completed", what="the queued run to complete")
    again = manager.start_run(workspace, "peter")
    assert again.state == "running"


def test_a_trainer_saving_after_its_supervisor_was_killed_still_holds_the_friend(workspace, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_STEP_S", "0.3")
    monkeypatch.setenv("STANDIN_MODE", "ignore-term")
    info = manager.start_run(workspace, "peter")
    run = RunDir(info.path)
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    backend = read_pid_file(run.backend_pid)
    os.kill(read_pid_file(run.supervisor_pid).pid, signal.SIGKILL)
    wait_for(lambda: not read_pid_file(run.supervisor_pid).is_alive(), what="the supervisor to die")
    assert backend.is_alive() and read_run(info.path).state == "running"
    with pytest.raises(QbtuiError, match=r"already has a running run|still holds"):
        manager.start_run(workspace, "peter")
    shutil.rmtree(run.path)
    with pytest.raises(QbtuiError, match=f"{info.run_id} still holds peter's training"):
        manager.start_run(workspace, "peter")
    os.killpg(backend.pid, signal.SIGKILL)
    wait_for(lambda: not backend.is_alive(), what="the trainer to end")
    assert manager.start_run(workspace, "peter").state == "running"


def run_cli(workspace, *args):
    """A `qbtui` command in a process of its own (nothing remembered from this one)."""
    argv = [sys.executable, "-m", "qbtui", "--registry", str(workspace.path), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_garbage_in_a_live_runs_run_toml_leaves_it_running_and_stoppable(workspace, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_STEP_S", "1")
    info = manager.start_run(workspace, "peter")
    run = RunDir(info.path)
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    run.run_toml.write_bytes(b"\x00garbage [[[ \xff\n")
    listed = run_cli(workspace, "runs")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(info.run_id))
    assert " running " in row, row
    assert f"{run.run_toml} cannot be read" in listed.stderr and f"qbtui stop {info.run_id}" in listed.stderr
    stopped = run_cli(workspace, "stop", info.run_id)
    assert stopped.returncode == 0, stopped.stderr
    assert f"run {info.run_id} is stopped" in stopped.stdout
    assert not read_pid_file(run.supervisor_pid).is_alive() and not read_pid_file(run.backend_pid).is_alive()
    after = run_cli(workspace, "runs", "--json")
    (listed_after,) = [entry for entry in json.loads(after.stdout) if entry["run_id"] == info.run_id]
    assert listed_after["state"] == "stopped" and "run.toml back" in listed_after["error"]
    assert manager.start_run(workspace, "maria").state == "running", "the device is free again"
