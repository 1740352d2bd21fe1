"""Detached runs end to end with stand-in backends: start, stop, resume, faults, queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from qbtui.errors import QbtuiError
from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.rundir import RunDir, read_run_toml, write_run_toml
from qbtui.runs import launch, manager
from qbtui.runs.info import read_run
from qbtui.runs.liveness import read_pid_file
from qbtui.runs.queue import list_queue

FINAL = ("completed", "stopped", "failed", "crashed")


def trainings(registry: Registry, friend: str):
    return Registry.load(registry.path).friend(friend).trainings


def test_builtin_run_completes_and_is_recorded_once(workspace, wait_for_state):
    info = workspace_start(workspace, "peter")
    assert info.state == "running" and info.backend == "builtin" and info.preset == "quick"
    done = wait_for_state(info.path, FINAL)
    assert done.state == "completed" and done.step == done.max_steps == 8
    assert done.lora_path.name == "qb_peter_lora.safetensors"
    (training,) = trainings(workspace, "peter")
    assert (training.run_id, training.steps, training.images, training.preset, training.backend, training.lora_file) == (
        info.run_id,
        8,
        20,
        "quick",
        "builtin",
        "qb_peter_lora.safetensors",
    )
    run = RunDir(info.path)
    table = read_run_toml(run)
    assert table["run"]["dataset_fingerprint"] and table["run"]["qbtui_version"]
    assert table["train"]["max_train_steps"] == 8 and table["train"]["run_id"] == info.run_id
    assert "step 8/8" in run.output_log.read_text()
    kinds = [(e["type"], e.get("state") or e.get("status")) for e in read_events(run.events)]
    assert kinds[0] == ("supervisor", "started") and kinds[-1] == ("supervisor", "backend-exited")
    assert kinds.count(("done", "completed")) == 1


def workspace_start(registry, friend, **kwargs):
    return manager.start_run(registry, friend, **kwargs)


def test_supervisor_is_in_its_own_session_and_ignores_sighup(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.3")
    info = workspace_start(workspace, "peter")
    supervisor = wait_for(lambda: read_pid_file(RunDir(info.path).supervisor_pid), what="supervisor pid")
    assert os.getsid(supervisor.pid) == supervisor.pid != os.getsid(0)
    backend = wait_for(lambda: read_pid_file(RunDir(info.path).backend_pid), what="backend pid")
    assert os.getpgid(backend.pid) == backend.pid != supervisor.pid
    os.kill(supervisor.pid, signal.SIGHUP)
    assert wait_for_state(info.path, FINAL).state == "completed"


def test_the_app_killed_mid_run_leaves_the_run_going(workspace, monkeypatch, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.15")
    app = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(os.path.dirname(__file__))!r})
            from qbtui.registry import Registry
            from qbtui.runs import manager
            manager.builtin_command = lambda p, processes=1: [sys.executable, {str(os.path.dirname(__file__) + "/standins/trainer.py")!r}, str(p)]
            info = manager.start_run(Registry.load({str(workspace.path)!r}), "peter")
            print(info.path, flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    run_path = app.stdout.readline().strip()
    os.killpg(app.pid, signal.SIGKILL)
    app.wait()
    assert read_run(run_path).state == "running"
    done = wait_for_state(run_path, FINAL)
    assert done.state == "completed" and len(trainings(workspace, "peter")) == 1


def test_second_run_for_one_friend_is_refused(workspace, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.3")
    first = workspace_start(workspace, "peter")
    with pytest.raises(QbtuiError, match="already has a running run") as error:
        workspace_start(workspace, "peter")
    assert first.run_id in str(error.value)
    manager.stop_run(workspace.settings, first.run_id)


def test_two_racing_train_calls_start_one_run(workspace, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.3")
    outcomes: list[object] = []

    def train():
        try:
            outcomes.append(workspace_start(Registry.load(workspace.path), "peter"))
        except QbtuiError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=train) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [o for o in outcomes if not isinstance(o, QbtuiError)]
    assert len(started) == 1 and len(outcomes) == 2
    manager.stop_run(workspace.settings, "peter")


def test_stop_keeps_state_and_resume_finishes_the_run(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.15")
    info = workspace_start(workspace, "peter")
    wait_for(lambda: read_run(info.path).step >= 2, what="step 2")
    stopped = manager.stop_run(workspace.settings, "peter")
    assert stopped.state == "stopped" and 2 <= stopped.step < 8
    assert (RunDir(info.path).state_dir / "step.txt").exists()
    assert trainings(workspace, "peter") == ()
    monkeypatch.setenv("STANDIN_STEP_S", "0.02")
    resumed = manager.resume_run(workspace, info.run_id)
    assert resumed.state == "running"
    done = wait_for_state(info.path, FINAL)
    assert done.state == "completed" and done.step == 8
    steps = [e["step"] for e in read_events(RunDir(info.path).events) if e["type"] == "step"]
    assert steps == list(range(1, 9)), "the resume continued where the stop left off"
    assert len(trainings(workspace, "peter")) == 1
    with pytest.raises(QbtuiError, match="already completed"):
        manager.resume_run(workspace, info.run_id)


def test_stop_right_after_start_is_a_clean_stop(workspace, monkeypatch, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    info = workspace_start(workspace, "peter")
    stopped = manager.stop_run(workspace.settings, info.run_id)
    assert stopped.state == "stopped", "a stop before the supervisor is ready must not kill it half-started"


def test_stop_escalates_to_sigkill_after_the_grace(workspace, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_MODE", "ignore-term")
    monkeypatch.setenv("STANDIN_STEP_S", "2")  # 16 s of steps: the stop lands long before the end, even on a busy machine
    run_id = manager.new_run_id("peter")
    plan = manager.plan_run(workspace, "peter", run_id=run_id)
    plan.stop_grace_s = 0.5
    info = manager.submit_run(workspace.settings, plan)
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    stopped = manager.stop_run(workspace.settings, run_id, timeout=60)
    assert stopped.state == "stopped"
    backend = read_pid_file(RunDir(info.path).backend_pid)
    assert not backend.is_alive()


def test_backend_crash_gives_an_error_with_the_last_20_log_lines(workspace, monkeypatch, wait_for_state):
    monkeypatch.setenv("STANDIN_MODE", "crash")
    info = workspace_start(workspace, "peter")
    done = wait_for_state(info.path, FINAL)
    assert done.state == "failed" and "exited with code 1" in done.error
    (error,) = [e for e in read_events(RunDir(info.path).events) if e["type"] == "error"]
    assert len(error["log_tail"]) == 20 and error["log_tail"][-1].startswith("RuntimeError: the stand-in trainer crashed")
    assert trainings(workspace, "peter") == ()


def test_a_killed_supervisor_leaves_a_stopped_resumable_run(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.15")
    info = workspace_start(workspace, "peter")
    run = RunDir(info.path)
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    supervisor = read_pid_file(run.supervisor_pid)
    backend = read_pid_file(run.backend_pid)
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_for(lambda: not backend.is_alive(), timeout=10, what="the orphaned backend to save and end")
    stopped = read_run(info.path)
    assert stopped.state == "stopped" and f"qbtui resume {info.run_id}" in stopped.error
    log = run.output_log.read_text()
    assert "stand-in trainer from step 1" in log
    assert "stand-in stopping after step" in log, "the trainer's output after its supervisor died reaches output.log"
    assert (run.state_dir / "step.txt").is_file() and stopped.lora_path.is_file()
    assert trainings(workspace, "peter") == ()
    monkeypatch.setenv("STANDIN_STEP_S", "0.01")
    manager.resume_run(workspace, info.run_id)
    done = wait_for_state(info.path, ("completed", "failed", "crashed"))
    assert done.state == "completed" and done.step == 8
    assert len(trainings(workspace, "peter")) == 1


def test_registry_edited_by_hand_during_a_run_keeps_the_edit(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    info = workspace_start(workspace, "peter")
    wait_for(lambda: read_run(info.path).step >= 1, what="step 1")
    text = workspace.path.read_text().replace('notes = "hand-written note"', 'notes = "edited while training"  # mine')
    workspace.path.write_text(text)
    wait_for_state(info.path, FINAL)
    final = workspace.path.read_text()
    assert 'notes = "edited while training"  # mine' in final and "# a short run for the stand-in backends" in final
    assert len(trainings(workspace, "peter")) == 1


def test_dataset_not_ready_is_refused_with_the_problems(workspace, wait_for_state):
    (workspace.settings.datasets_dir / "maria" / "30_maria" / "photo00.txt").unlink()
    with pytest.raises(QbtuiError, match="not ready to train") as error:
        workspace_start(workspace, "maria")
    assert "photo00" in str(error.value) and "--force" in error.value.fix
    assert not (workspace.settings.logs_dir / "maria").exists(), "a refused run leaves no directory"
    forced = workspace_start(workspace, "maria", force=True)
    assert wait_for_state(forced.path, FINAL).state == "completed"


def test_queue_runs_the_next_friend_after_the_current_one(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_STEP_S", "0.1")
    first = workspace_start(workspace, "peter")
    with pytest.raises(QbtuiError, match="--queue"):
        workspace_start(workspace, "maria")
    queued = workspace_start(workspace, "maria", queue=True)
    assert queued.state == "queued" and list_queue(workspace.settings) == [queued.run_id]
    assert wait_for_state(first.path, FINAL).state == "completed"
    wait_for(lambda: read_run(queued.path).state != "queued", what="the queued run to start")
    assert wait_for_state(queued.path, FINAL).state == "completed"
    assert list_queue(workspace.settings) == []
    assert len(trainings(workspace, "maria")) == 1


def test_stopping_a_queued_run_cancels_it(workspace, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.3")
    first = workspace_start(workspace, "peter")
    queued = workspace_start(workspace, "maria", queue=True)
    assert manager.stop_run(workspace.settings, queued.run_id).state == "stopped"
    assert list_queue(workspace.settings) == [] and not queued.path.exists()
    manager.stop_run(workspace.settings, first.run_id)


def test_missing_base_model_is_refused_before_anything_is_written(workspace):
    (workspace.path.parent / "models" / "base").unlink()
    with pytest.raises(QbtuiError, match="base model is missing") as error:
        workspace_start(workspace, "peter")
    assert error.value.path == workspace.settings.base_model
    assert not workspace.settings.logs_dir.exists()


def test_unknown_backend_and_missing_runs_are_clear_errors(workspace):
    with pytest.raises(QbtuiError, match="unknown backend"):
        workspace_start(workspace, "peter", backend="comfy")
    with pytest.raises(QbtuiError, match="no runs for 'peter'"):
        manager.stop_run(workspace.settings, "peter")
    with pytest.raises(QbtuiError, match="no run 20260101-000000-peter-abcd"):
        manager.resume_run(workspace, "20260101-000000-peter-abcd")


def test_command_for_shows_both_backends(workspace):
    builtin = manager.command_for(workspace, "peter", "quick", "builtin")
    assert builtin[-1].endswith("logs/peter/<run id>")
    kohya = manager.command_for(workspace, "peter", "quick", "kohya")
    assert kohya[:2] == ["PYTORCH_ENABLE_MPS_FALLBACK=1", "PYTHONUNBUFFERED=1"]
    assert kohya[2].endswith("kohya-venv/bin/accelerate") and kohya[-1] == "--sdpa"


def test_rewritten_run_toml_is_what_the_supervisor_runs(workspace, wait_for_state):
    run_id = manager.new_run_id("peter")
    plan = manager.plan_run(workspace, "peter", run_id=run_id)
    run = manager.create_run(workspace.settings, plan)
    data = read_run_toml(run)
    data["run"]["command"] = [sys.executable, "-c", "import sys; print('custom'); sys.exit(3)"]
    write_run_toml(run, data["run"], data["train"])
    launch.launch_supervisor(run)
    done = wait_for_state(run.path, FINAL)
    assert done.state == "failed" and "custom" in run.output_log.read_text()


def test_a_failing_supervisor_reports_itself_crashed(workspace, wait_for_state):
    plan = manager.plan_run(workspace, "peter", run_id=manager.new_run_id("peter"))
    plan.env = ["not", "a", "table"]
    info = manager.submit_run(workspace.settings, plan)
    crashed = wait_for_state(info.path, FINAL)
    assert crashed.state == "crashed" and crashed.error.startswith("the supervisor failed")
    assert "last lines of supervisor.log" in crashed.error and "Traceback" in crashed.error


def test_an_unreadable_run_toml_fails_the_run_with_the_reason(workspace, wait_for_state):
    plan = manager.plan_run(workspace, "peter", run_id=manager.new_run_id("peter"))
    run = manager.create_run(workspace.settings, plan)
    data = read_run_toml(run)
    del data["run"]["command"]
    write_run_toml(run, data["run"], data["train"])
    launch.launch_supervisor(run)
    failed = wait_for_state(run.path, FINAL)
    assert failed.state == "failed" and "run.toml [run] has no command" in failed.error


def test_the_backend_gets_mps_fallback_unless_the_user_set_it(workspace, wait_for_state, monkeypatch):
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK", raising=False)
    run = manager.create_run(workspace.settings, manager.plan_run(workspace, "peter", run_id=manager.new_run_id("peter")))
    data = read_run_toml(run)
    probe = "import os; print('fallback=' + os.environ['PYTORCH_ENABLE_MPS_FALLBACK'])"
    data["run"]["command"] = [sys.executable, "-c", probe]
    write_run_toml(run, data["run"], data["train"])
    launch.launch_supervisor(run)
    wait_for_state(run.path, FINAL)
    assert "fallback=1" in run.output_log.read_text()
