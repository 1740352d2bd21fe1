"""Runs on a host over a real SSH connection (a throwaway sshd on 127.0.0.1)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.remote.ssh import Transport
from qbtui.remote.start import start_remote_run
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.info import read_run
from qbtui.runs.liveness import read_pid_file
from tests.remote.sshd import start_sshd

FINAL = ("completed", "stopped", "failed", "crashed")


def steps_of(run_path: Path) -> list[int]:
    return [event["step"] for event in read_events(RunDir(run_path).events) if event["type"] == "step"]


def host_run_dir(registry: Registry, run_path: Path) -> Path:
    work = Path(registry.hosts["box"].work_dir)
    return work / "logs" / run_path.parent.name / run_path.name


def test_a_host_run_survives_a_lost_connection_and_comes_back_recorded(host_registry, sshd, tmp_path, wait_for, wait_for_state):
    info = start_remote_run(host_registry, "peter", "box", steps=24)
    assert info.host == "box" and info.state == "running"
    wait_for(lambda: len(steps_of(info.path)) >= 3, timeout=120, what="the first steps mirrored here")
    sshd.stop()
    Transport(host_registry.hosts["box"]).close()  # the shared connection dies with the server
    disconnected = wait_for_state(info.path, ("disconnected",), timeout=120)
    assert "box" in (disconnected.error or "")
    remote = host_run_dir(host_registry, info.path)
    wait_for(lambda: 24 in steps_of(remote), timeout=120, what="the run going on while disconnected")
    back = start_sshd(tmp_path / "sshd", port=sshd.port)
    try:
        done = wait_for_state(info.path, FINAL, timeout=180)
    finally:
        back.stop()
    assert done.state == "completed", done.error
    assert steps_of(info.path) == list(range(1, 25))  # none lost, none doubled
    assert steps_of(info.path) == steps_of(remote)
    lora = host_registry.settings.lora_dir / "qb_peter_lora.safetensors"
    assert done.lora_path == lora and lora.read_bytes() == (remote.parents[3] / "loras" / lora.name).read_bytes()
    (training,) = Registry.load(host_registry.path).friend("peter").trainings
    assert training.run_id == info.run_id and training.steps == 24


def test_stop_and_resume_go_over_ssh(host_registry, wait_for, wait_for_state):
    info = start_remote_run(host_registry, "peter", "box", steps=40)
    wait_for(lambda: len(steps_of(info.path)) >= 2, timeout=120, what="steps mirrored here")
    stopped = manager.stop_run(host_registry.settings, info.run_id, timeout=120)
    assert stopped.state == "stopped"
    remote = host_run_dir(host_registry, info.path)
    reached = int((remote / "state" / "step.txt").read_text())
    assert 2 <= reached < 40
    manager.resume_run(host_registry, info.run_id)
    done = wait_for_state(info.path, FINAL, timeout=180)
    assert done.state == "completed" and done.step == 40
    assert steps_of(info.path) == list(range(1, 41))


def test_a_killed_supervisor_on_the_host_shows_as_crashed_here(host_registry, wait_for, wait_for_state):
    info = start_remote_run(host_registry, "peter", "box", steps=200)
    wait_for(lambda: len(steps_of(info.path)) >= 2, timeout=120, what="steps mirrored here")
    record = read_pid_file(host_run_dir(host_registry, info.path) / "supervisor.pid")
    os.kill(record.pid, signal.SIGKILL)
    crashed = wait_for_state(info.path, FINAL, timeout=120)
    assert crashed.state == "crashed"
    assert "box" in (crashed.error or "") and f"qbtui resume {info.run_id}" in crashed.error
    assert read_run(info.path).host == "box"


def test_a_host_run_lands_its_lora_at_done_and_its_likeness_choice_at_the_end(host_registry, wait_for, wait_for_state):
    text = host_registry.path.read_text().replace("STANDIN_STEP_S=0.3", "STANDIN_STEP_S=0.05 STANDIN_MODE=eval")
    host_registry.path.write_text(text)
    registry = Registry.load(host_registry.path)
    info = start_remote_run(registry, "peter", "box", steps=6)
    remote = host_run_dir(registry, info.path)
    lora = registry.settings.lora_dir / "qb_peter_lora.safetensors"
    wait_for(
        lambda: any(event["type"] == "eval" for event in read_events(RunDir(info.path).events)),
        timeout=120,
        what="the likeness pass mirrored here while it runs",
    )
    assert lora.is_file() and read_run(info.path).state == "running"  # the LoRA landed at `done`, the pass goes on
    (training,) = Registry.load(registry.path).friend("peter").trainings
    assert training.run_id == info.run_id and training.chosen_weight is None
    (remote / "release-eval").touch()
    done = wait_for_state(info.path, FINAL, timeout=180)
    assert done.state == "completed", done.error
    (training,) = Registry.load(registry.path).friend("peter").trainings
    assert (training.chosen_lora, training.chosen_weight, training.likeness) == (lora.name, 0.8, 0.35)
    local_eval = (info.path / "eval.json").read_text()
    assert str(info.path / "eval" / "final_w0.80_p00_s1000.png") in local_eval and str(remote) not in local_eval
    assert (info.path / "eval" / "final_w0.80_p00_s1000.png").is_file()


def test_a_broken_eval_json_from_the_host_is_a_warning_not_a_crash(host_registry, wait_for, wait_for_state):
    text = host_registry.path.read_text().replace(
        "STANDIN_STEP_S=0.3", "STANDIN_STEP_S=0.05 STANDIN_MODE=eval STANDIN_EVAL_JSON=broken"
    )
    host_registry.path.write_text(text)
    registry = Registry.load(host_registry.path)
    info = start_remote_run(registry, "peter", "box", steps=4)
    remote = host_run_dir(registry, info.path)
    wait_for(remote.is_dir, timeout=120, what="the run created on the host")
    (remote / "release-eval").touch()
    done = wait_for_state(info.path, FINAL, timeout=180)
    assert done.state == "completed", done.error
    (training,) = Registry.load(registry.path).friend("peter").trainings
    assert training.run_id == info.run_id and training.chosen_weight is None
    warnings = [event["message"] for event in read_events(RunDir(info.path).events) if event["type"] == "warning"]
    assert any("the likeness choice was not recorded" in message for message in warnings)


def test_a_host_run_records_its_likeness_choice_while_the_host_still_scores(host_registry, wait_for, wait_for_state):
    """`STANDIN_MODE=choice`: after `done` the host's trainer chooses its step-3 checkpoint at 0.8 and pauses
    (release-final); the local row holds that choice while the host run goes on, then a better final cell
    (after release-final, pausing again at release-end) updates the same row."""
    text = host_registry.path.read_text().replace("STANDIN_STEP_S=0.3", "STANDIN_STEP_S=0.05 STANDIN_MODE=choice")
    host_registry.path.write_text(text)
    registry = Registry.load(host_registry.path)
    info = start_remote_run(registry, "peter", "box", steps=6)
    remote = host_run_dir(registry, info.path)
    checkpoint = registry.settings.lora_dir / "qb_peter_lora-step00000003.safetensors"

    def chosen(name: str):
        def row():
            trainings = Registry.load(registry.path).friend("peter").trainings
            return trainings if trainings and trainings[0].chosen_lora == name else None

        return row

    (training,) = wait_for(chosen(checkpoint.name), timeout=120, what="the checkpoint's choice recorded at done")
    assert read_run(info.path).state == "running" and not (remote / "release-final").exists()  # the host still scores
    assert (training.run_id, training.chosen_weight, training.likeness) == (info.run_id, 0.8, 0.45)
    assert checkpoint.is_file()
    sample = info.path / "eval" / "3_w0.80_p00_s1000.png"
    assert training.chosen_sample == str(sample) and sample.is_file()
    assert str(remote) not in (info.path / "eval.json").read_text()

    (remote / "release-final").touch()
    (training,) = wait_for(chosen("qb_peter_lora.safetensors"), timeout=120, what="the better final cell recorded")
    assert read_run(info.path).state == "running"
    assert (training.run_id, training.chosen_weight, training.likeness) == (info.run_id, 0.8, 0.35)

    (remote / "release-end").touch()
    assert wait_for_state(info.path, FINAL, timeout=180).state == "completed"
    (training,) = Registry.load(registry.path).friend("peter").trainings  # still one row, the same choice
    assert (training.chosen_lora, training.likeness) == ("qb_peter_lora.safetensors", 0.35)
    assert not [event for event in read_events(RunDir(info.path).events) if event["type"] == "warning"]


def test_a_choice_the_host_cannot_hand_over_is_a_warning_and_the_next_one_is_recorded(host_registry, wait_for, wait_for_state):
    """The host's eval.json is cut off at the first `eval chosen`: a warning naming it, the training stays
    recorded and the run goes on; the next choice (the final cell) is recorded into the same row."""
    text = host_registry.path.read_text().replace(
        "STANDIN_STEP_S=0.3", "STANDIN_STEP_S=0.05 STANDIN_MODE=choice STANDIN_EVAL_JSON=broken"
    )
    host_registry.path.write_text(text)
    registry = Registry.load(host_registry.path)
    info = start_remote_run(registry, "peter", "box", steps=6)
    remote = host_run_dir(registry, info.path)

    def warnings() -> list[str]:
        return [event["message"] for event in read_events(RunDir(info.path).events) if event["type"] == "warning"]

    (warning,) = wait_for(warnings, timeout=120, what="the warning about the first choice")
    assert "the likeness choice was not recorded (it is tried again when the run on box ends)" in warning
    assert str(info.path / "eval.json") in warning and "fix:" in warning
    assert not (info.path / "eval.json").exists()  # the host's cut-off file is not left here
    assert read_run(info.path).state == "running"
    (training,) = Registry.load(registry.path).friend("peter").trainings
    assert training.run_id == info.run_id and training.chosen_weight is None

    (remote / "release-final").touch()
    (remote / "release-end").touch()
    assert wait_for_state(info.path, FINAL, timeout=180).state == "completed"
    (training,) = Registry.load(registry.path).friend("peter").trainings
    assert (training.run_id, training.chosen_lora, training.likeness) == (info.run_id, "qb_peter_lora.safetensors", 0.35)
