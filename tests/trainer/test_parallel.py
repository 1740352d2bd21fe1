"""Data parallelism on the CPU: two torchrun processes (gloo) against one process with the doubled batch.

The two must train the same LoRA: both draw the same global batch, noise and timesteps, and
two averaged half-batch gradients equal one full-batch gradient up to float32 summation order
(about 1e-7 relative). The losses are compared at 1e-4 relative: rounding that small cannot
reach it in a few steps, while one wrong sample, noise draw or unaveraged gradient moves the
loss by 1e-2 or more. The weights: Adam divides each gradient element by its own running
size, so an element whose gradient is near zero (rounding-sized) can move by up to a whole
step (lr = 1e-3) either way. So 99% of the elements are held to 1e-5 (plus 1e-4 relative),
and the trained `lora_up` weights (zero at the start) as a whole to 1e-3 of their norm; ranks
that did not share their gradients would differ by about a step in most elements.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import tomlkit
import torch

from qbtui.events import read_events
from qbtui.runs.backends.builtin import builtin_command
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.loop import train
from qbtui.trainer.state import STATE_FILE

TIMEOUT_S = 600  # a failure bound on a loaded machine, never waited out when things work
LOSS_RTOL = 1e-4
WEIGHT_ATOL, WEIGHT_RTOL, CLOSE_SHARE, NORM_RTOL = 1e-5, 1e-4, 0.99, 1e-3


pytestmark = pytest.mark.usefixtures("one_torch_thread", "fresh_accelerate_state")


def make_config(model: Path, data: Path, out: Path, **overrides) -> TrainConfig:
    values = {
        "resolution": "64,64",
        "network_dim": 4,
        "network_alpha": 2,
        "learning_rate": 1e-3,
        "text_encoder_lr": 5e-4,
        "device": "cpu",
        "trigger": "qb_peter",
        "friend_id": "peter",
        "run_id": "run-1",
        "preset": "demo",
        "lr_scheduler": "constant",
    }
    values.update(overrides)
    return TrainConfig(model, data, out, "qb_peter_lora", **values)


def write_run(run_dir: Path, config: TrainConfig) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    document = tomlkit.document()
    document["train"] = config.to_toml_table()
    (run_dir / "run.toml").write_text(tomlkit.dumps(document), encoding="utf-8")


def start_two_processes(run_dir: Path, *, resume: bool = False) -> subprocess.Popen[bytes]:
    """The supervisor's command for a two-process run, in its own process group as the supervisor starts it."""
    argv = builtin_command(run_dir, processes=2) + (["--resume"] if resume else [])
    log = (run_dir / "output.log").open("ab")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def finish(process: subprocess.Popen[bytes], run_dir: Path) -> None:
    try:
        process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode is not None


def wait_for_step_after(run_dir: Path, step: int) -> None:
    """Until rank 0 logged a step beyond `step` (a condition, bounded by a generous timeout)."""
    deadline = time.monotonic() + TIMEOUT_S
    path = run_dir / "events.jsonl"
    while time.monotonic() < deadline:
        if path.exists() and any(e["type"] == "step" and e["step"] > step for e in read_events(path)):
            return
        time.sleep(0.1)
    raise AssertionError(f"no step after {step} in {TIMEOUT_S} s; output.log:\n{(run_dir / 'output.log').read_text()}")


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return handle.metadata()


def losses(run_dir: Path) -> dict[int, float]:
    steps = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "step"]
    return {e["step"]: e["loss"] for e in steps}


def assert_same_training(two: dict[str, torch.Tensor], one: dict[str, torch.Tensor]) -> None:
    assert two.keys() == one.keys()
    close = torch.cat([torch.isclose(two[k], one[k], rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL).flatten() for k in one])
    print(f"weights within {WEIGHT_ATOL:g} (+{WEIGHT_RTOL:g} relative): {close.float().mean():.2%} of {close.numel()}")
    assert close.float().mean() >= CLOSE_SHARE
    ups = [key for key in one if key.endswith("lora_up.weight")]
    difference = torch.cat([(two[key] - one[key]).flatten() for key in ups]).norm()
    size = torch.cat([one[key].flatten() for key in ups]).norm()
    print(f"lora_up weights: |2 processes - 1 process| / |1 process| = {difference / size:.2e}")
    assert difference <= NORM_RTOL * size


def test_two_processes_train_as_one_with_the_doubled_batch_and_only_rank_0_writes(tiny_model_dir, tiny_dataset, tmp_path):
    steps = 8
    run_dir = tmp_path / "two"
    config = make_config(
        tiny_model_dir, tiny_dataset, tmp_path / "lora-two", max_train_steps=steps, save_every_n_steps=4, num_processes=2
    )
    write_run(run_dir, config)
    process = start_two_processes(run_dir)
    finish(process, run_dir)
    assert process.returncode == 0, (run_dir / "output.log").read_text()

    single = make_config(
        tiny_model_dir, tiny_dataset, tmp_path / "lora-one", max_train_steps=steps, save_every_n_steps=4, train_batch_size=2
    )
    train(single, tmp_path / "one")

    two_curve, one_curve = losses(run_dir), losses(tmp_path / "one")
    print("\nstep  loss(2 processes x batch 1)  loss(1 process x batch 2)")
    for step in sorted(one_curve):
        print(f"{step:4d}  {two_curve[step]:.8f}                  {one_curve[step]:.8f}")
    assert list(two_curve) == list(range(1, steps + 1))
    assert [two_curve[s] for s in one_curve] == pytest.approx(list(one_curve.values()), rel=LOSS_RTOL)
    final_two = tmp_path / "lora-two" / "qb_peter_lora.safetensors"
    assert_same_training(load_tensors(final_two), load_tensors(tmp_path / "lora-one" / "qb_peter_lora.safetensors"))

    events = read_events(run_dir / "events.jsonl")
    kinds = [e["type"] for e in events]
    assert kinds.count("start") == 1 and kinds.count("done") == 1
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [4, 8]
    (start,) = [e for e in events if e["type"] == "start"]
    assert (start["processes"], start["batch_per_device"], start["effective_batch"]) == (2, 1, 2)
    assert sorted(p.name for p in (tmp_path / "lora-two").iterdir()) == [
        "qb_peter_lora-step00000004.safetensors",
        "qb_peter_lora-step00000008.safetensors",
        "qb_peter_lora.safetensors",
    ]
    assert sorted(p.name for p in (run_dir / "state").iterdir()) == [STATE_FILE]
    metadata = read_metadata(final_two)
    assert (metadata["ss_batch_size_per_device"], metadata["ss_total_batch_size"]) == ("1", "2")
    assert (
        metadata["ss_num_batches_per_epoch"]
        == read_metadata(tmp_path / "lora-one" / "qb_peter_lora.safetensors")["ss_num_batches_per_epoch"]
    )


def stop_group_after_a_step(process: subprocess.Popen[bytes], run_dir: Path, after: int) -> int:
    """SIGTERM the whole group, as the supervisor stops a run, once a step beyond `after` is logged; the step stopped at."""
    wait_for_step_after(run_dir, after)
    os.killpg(process.pid, signal.SIGTERM)
    finish(process, run_dir)
    done = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "done"][-1]
    assert done["status"] == "stopped", (run_dir / "output.log").read_text()
    return int(Path(done["lora_path"]).name.removesuffix(".safetensors").rsplit("step", 1)[1])


def test_two_processes_stop_together_and_resume_as_one_uninterrupted_run(tiny_model_dir, tiny_dataset, tmp_path):
    run_dir = tmp_path / "two"
    # More steps than can pass before the stop lands: the run is always stopped mid-way.
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora-two", max_train_steps=100_000, num_processes=2)
    write_run(run_dir, config)
    first_stop = stop_group_after_a_step(start_two_processes(run_dir), run_dir, after=0)
    assert (run_dir / "state" / STATE_FILE).is_file()
    second_stop = stop_group_after_a_step(start_two_processes(run_dir, resume=True), run_dir, after=first_stop)

    events = read_events(run_dir / "events.jsonl")
    assert [e["step"] for e in events if e["type"] == "start"] == [0, first_stop]
    assert [e["status"] for e in events if e["type"] == "done"] == ["stopped", "stopped"]
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(1, second_stop + 1))
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [first_stop, second_stop]

    single = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora-one", max_train_steps=100_000, train_batch_size=2)
    calls = iter(range(1, 100_001))
    stopped = train(single, tmp_path / "one", should_stop=lambda: next(calls) >= second_stop)
    assert stopped.step == second_stop
    two_curve, one_curve = losses(run_dir), losses(tmp_path / "one")
    assert [two_curve[s] for s in one_curve] == pytest.approx(list(one_curve.values()), rel=LOSS_RTOL)
    assert_same_training(load_tensors(tmp_path / "lora-two" / stopped.lora_path.name), load_tensors(stopped.lora_path))


def test_resume_refuses_another_process_count_and_old_states_count_as_one(tiny_model_dir, tiny_dataset, tmp_path):
    from qbtui.errors import QbtuiError
    from qbtui.trainer.state import load_state, save_state

    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=4)
    train(config, tmp_path / "run", should_stop=lambda: True)
    state = load_state(tmp_path / "run" / "state", config)
    assert state.settings["processes"] == 1
    with pytest.raises(QbtuiError, match="processes"):
        load_state(tmp_path / "run" / "state", config, processes=2)
    del state.settings["processes"]  # a state saved before the process count was recorded
    save_state(tmp_path / "run" / "state", state)
    assert load_state(tmp_path / "run" / "state", config).step == 1


def test_the_process_count_must_be_positive(tiny_model_dir, tiny_dataset, tmp_path):
    from qbtui.errors import QbtuiError

    with pytest.raises(QbtuiError, match="num_processes"):
        make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", num_processes=0)


def test_a_run_launched_with_fewer_processes_than_asked_says_so(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=1, num_processes=2)
    train(config, tmp_path / "run")
    events = read_events(tmp_path / "run" / "events.jsonl")
    assert any(e["type"] == "warning" and "asks for 2 process(es) but 1 were launched" in e["message"] for e in events)
    (start,) = [e for e in events if e["type"] == "start"]
    assert (start["processes"], start["effective_batch"]) == (1, 1)
