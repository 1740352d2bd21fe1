"""The training loop end to end on a tiny model: files, metadata, events, resume, faults."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import tomlkit
import torch

from qbtui import atomicfile
from qbtui.atomicfile import format_bytes
from qbtui.errors import QbtuiError
from qbtui.events import parse_event, read_events
from qbtui.trainer import loop
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.data import TrainingData, find_images
from qbtui.trainer.loop import NAN_HINT, train
from qbtui.trainer.state import STATE_FILE

pytestmark = pytest.mark.usefixtures("one_torch_thread", "fresh_accelerate_state")


def make_config(model: Path, data: Path, out: Path, **overrides) -> TrainConfig:
    values = {
        "resolution": "64,64",
        "network_dim": 4,
        "network_alpha": 2,
        "learning_rate": 1e-3,
        "text_encoder_lr": 5e-4,
        "max_train_steps": 6,
        "device": "cpu",
        "trigger": "qb_peter",
        "friend_id": "peter",
        "run_id": "run-1",
        "preset": "demo",
    }
    values.update(overrides)
    return TrainConfig(model, data, out, "qb_peter_lora", **values)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return handle.metadata()


def events_of(run_dir: Path) -> list[dict]:
    return read_events(run_dir / "events.jsonl")


def test_a_run_writes_checkpoints_final_file_and_well_formed_events(tiny_model_dir, tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", save_every_n_steps=3)
    outcome = train(config, run_dir)
    assert outcome.status == "completed" and outcome.step == 6
    final = tmp_path / "lora" / "qb_peter_lora.safetensors"
    assert outcome.lora_path == final and final.is_file()
    assert (tmp_path / "lora" / "qb_peter_lora-step00000003.safetensors").is_file()

    lines = (run_dir / "events.jsonl").read_text().splitlines()
    events = [parse_event(line) for line in lines]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert (
        events[0]["max_steps"] == 6
        and events[0]["images"] == 4
        and events[0]["train_images"] == 8
        and events[0]["device"] == "cpu"
        and events[0]["attention"] == "AttnProcessor2_0"
        and events[0]["mixed_precision"] == "no"
        and events[0]["precision_reason"] == "full precision (float32), as requested"
    )
    steps = [event for event in events if event["type"] == "step"]
    assert [event["step"] for event in steps] == [1, 2, 3, 4, 5, 6]
    for event in steps:
        assert {"loss", "avg_loss", "lr", "lr_te", "it_s", "eta_s", "max_steps"} <= set(event)
        assert event["loss"] > 0 and event["it_s"] > 0
    assert steps[0]["lr"] == pytest.approx(1e-3) and steps[0]["lr_te"] == pytest.approx(5e-4)
    assert steps[-1]["eta_s"] == 0
    checkpoints = [event for event in events if event["type"] == "checkpoint"]
    assert [event["step"] for event in checkpoints] == [3, 6]
    assert events[-1] == {**events[-1], "status": "completed", "lora_path": str(final)}


def test_lora_file_metadata_is_kohyas_and_all_strings(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=2)
    final = train(config, tmp_path).lora_path
    metadata = read_metadata(final)
    assert all(isinstance(value, str) for value in metadata.values())
    assert metadata["ss_network_module"] == "networks.lora"
    assert metadata["ss_network_dim"] == "4" and metadata["ss_network_alpha"] == "2.0"
    assert metadata["ss_output_name"] == "qb_peter_lora" == final.stem
    assert metadata["ss_base_model_version"] == "sd_v1" and metadata["ss_v2"] == "False"
    assert metadata["ss_steps"] == "2" and metadata["ss_num_train_images"] == "8"
    assert metadata["ss_resolution"] == "(64, 64)"
    assert metadata["ss_learning_rate"] == "0.001" and metadata["ss_text_encoder_lr"] == "0.0005"
    assert json.loads(metadata["ss_tag_frequency"])["2_peter"]["qb_peter person"] == 4
    assert json.loads(metadata["ss_dataset_dirs"]) == {"2_peter": {"n_repeats": 2, "img_count": 4}}
    assert metadata["ss_sd_model_name"] == tiny_model_dir.name and metadata["ss_sd_model_hash"]
    unet_weights = tiny_model_dir / "unet" / "diffusion_pytorch_model.safetensors"
    assert metadata["ss_new_sd_model_hash"] == hashlib.sha256(unet_weights.read_bytes()).hexdigest()
    assert float(metadata["ss_training_started_at"]) <= time.time()
    assert metadata["modelspec.architecture"] == "stable-diffusion-v1/lora"
    assert metadata["modelspec.trigger_phrase"] == "qb_peter"
    assert metadata["modelspec.title"] == "qb_peter_lora"
    data = final.read_bytes()
    header = int.from_bytes(data[:8], "little")
    assert metadata["sshs_model_hash"] == hashlib.sha256(data[8 + header :]).hexdigest()


def test_unet_only_file_has_no_text_encoder_keys(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(
        tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=2, network_train_unet_only=True, cache_latents=True
    )
    tensors = load_tensors(train(config, tmp_path).lora_path)
    assert len(tensors) == 3 * 192
    assert read_metadata(tmp_path / "lora" / "qb_peter_lora.safetensors")["ss_text_encoder_lr"] == ""


def test_samples_every_n_steps_and_at_the_end_at_each_weight(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "lora",
        max_train_steps=4,
        sample_every_n_steps=2,
        sample_prompts=["qb_peter person, illustration in the style of Quentin Blake"],
        sample_steps=2,
    )
    train(config, tmp_path)
    samples = [e for e in events_of(tmp_path) if e["type"] == "sample"]
    assert [(e["step"], e["weight"]) for e in samples] == [(s, w) for s in (2, 4) for w in (0.6, 0.8, 1.0)]
    assert all(Path(e["path"]).is_file() and e["prompt"].startswith("qb_peter") for e in samples)
    kinds = [e["type"] for e in events_of(tmp_path)]
    assert kinds.index("sample") > kinds.index("step") and kinds[-4:] == ["done", "sample", "sample", "sample"]
    # `done` (the supervisor records the LoRA then) comes right after the last step, before the last samples


def fixed_loss(model_dir: Path, data_dir: Path, lora_file: Path | None, dim: int, alpha: float) -> float:
    """The denoising loss on fixed noise and timesteps, with or without the LoRA."""
    from qbtui.trainer.lora import LoRANetwork
    from qbtui.trainer.models import load_base_model

    base = load_base_model(model_dir)
    network = LoRANetwork(base.unet, None, dim=dim, alpha=alpha)
    if lora_file is not None:
        network.load_state_dict(load_tensors(lora_file))
    network.apply_to()
    data = TrainingData(find_images(data_dir, ".txt"), (64, 64), seed=0)
    generator = torch.Generator().manual_seed(123)
    indices = list(range(len(data.images)))
    tokens = base.tokenizer(data.captions(indices), padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        latents = base.vae.encode(data.pixels(indices)).latent_dist.mean * base.vae_scale_factor
        hidden = base.text_encoder(tokens)[0]
        losses = []
        for _ in range(8):
            noise = torch.randn(latents.shape, generator=generator)
            timesteps = torch.randint(0, 1000, (len(indices),), generator=generator)
            noisy = base.noise_scheduler.add_noise(latents, noise, timesteps)
            prediction = base.unet(noisy, timesteps, hidden).sample
            losses.append(torch.nn.functional.mse_loss(prediction, noise).item())
    return sum(losses) / len(losses)


def test_loss_falls_when_overfitting_two_images(tiny_model_dir, tiny_dataset_factory, tmp_path):
    data = tiny_dataset_factory(images=2, repeats=1)
    config = make_config(
        tiny_model_dir,
        data,
        tmp_path / "lora",
        max_train_steps=30,
        learning_rate=1e-2,
        lr_scheduler="constant",
        network_dim=8,
        network_alpha=8,
        network_train_unet_only=True,
        cache_latents=True,
    )
    final = train(config, tmp_path).lora_path
    before = fixed_loss(tiny_model_dir, data, None, 8, 8)
    after = fixed_loss(tiny_model_dir, data, final, 8, 8)
    assert after < 0.8 * before, (before, after)


def test_ten_steps_equal_five_then_stop_resume_five_and_a_crash_resumes_from_the_checkpoint(
    tiny_model_dir, tiny_dataset, tmp_path
):
    straight = make_config(tiny_model_dir, tiny_dataset, tmp_path / "straight", max_train_steps=10, save_every_n_steps=0)
    expected = load_tensors(train(straight, tmp_path / "a").lora_path)

    run_dir = tmp_path / "b"
    split = make_config(tiny_model_dir, tiny_dataset, tmp_path / "split", max_train_steps=10)
    calls = iter(range(100))
    stopped = train(split, run_dir, should_stop=lambda: next(calls) >= 4)
    assert stopped.status == "stopped" and stopped.step == 5
    assert stopped.lora_path == tmp_path / "split" / "qb_peter_lora-step00000005.safetensors"
    assert (run_dir / "state" / STATE_FILE).is_file()
    resumed = train(split, run_dir, resume=True)
    assert resumed.status == "completed" and resumed.step == 10

    actual = load_tensors(resumed.lora_path)
    assert actual.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=1e-6, rtol=1e-5)
    events = events_of(run_dir)
    assert [e["status"] for e in events if e["type"] == "done"] == ["stopped", "completed"]
    assert [e["step"] for e in events if e["type"] == "start"] == [0, 5]
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(1, 11))
    # the running average goes on across the resume (issue 25 item 6): as in the straight run
    averages = [e["avg_loss"] for e in events if e["type"] == "step"]
    assert averages == pytest.approx([e["avg_loss"] for e in events_of(tmp_path / "a") if e["type"] == "step"], rel=1e-4)
    assert load_tensors(stopped.lora_path).keys() == expected.keys()
    first, resumed_metadata = read_metadata(stopped.lora_path), read_metadata(resumed.lora_path)
    assert resumed_metadata["ss_training_started_at"] == first["ss_training_started_at"]
    assert resumed_metadata["ss_session_id"] == first["ss_session_id"]

    crashed_dir = tmp_path / "c"
    crashing = make_config(tiny_model_dir, tiny_dataset, tmp_path / "crash", max_train_steps=10, save_every_n_steps=5)
    steps_seen = iter(range(100))

    def crash_after_seven_steps() -> bool:
        if next(steps_seen) == 6:
            raise RuntimeError("power cut")
        return False

    with pytest.raises(RuntimeError):
        train(crashing, crashed_dir, should_stop=crash_after_seven_steps)
    assert events_of(crashed_dir)[-1]["status"] == "failed"
    recovered = train(crashing, crashed_dir, resume=True)
    assert [e["step"] for e in events_of(crashed_dir) if e["type"] == "start"] == [0, 5]
    for key, value in load_tensors(recovered.lora_path).items():
        torch.testing.assert_close(value, expected[key], atol=1e-6, rtol=1e-5)


def test_resume_refuses_changed_settings_and_missing_state(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=10)
    with pytest.raises(QbtuiError, match="no saved state"):
        train(config, tmp_path / "fresh", resume=True)
    train(config, tmp_path, should_stop=lambda: True)
    config.network_dim = 8
    with pytest.raises(QbtuiError, match="network_dim"):
        train(config, tmp_path, resume=True)
    assert events_of(tmp_path)[-2]["type"] == "error"


def test_nan_loss_stops_with_the_guides_hint_and_keeps_good_checkpoints(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "lora",
        max_train_steps=30,
        learning_rate=1e30,
        text_encoder_lr=1e30,
        save_every_n_steps=1,
        lr_scheduler="constant",
    )
    with pytest.raises(QbtuiError) as caught:
        train(config, tmp_path)
    assert caught.value.fix == NAN_HINT
    events = events_of(tmp_path)
    error = next(e for e in events if e["type"] == "error")
    assert error["hint"] == "switch mixed_precision from fp16 to no (the guide's fix)"
    assert events[-1]["status"] == "failed" and events[-1]["lora_path"] is None
    assert not (tmp_path / "lora" / "qb_peter_lora.safetensors").exists()
    kept = [Path(e["path"]) for e in events if e["type"] == "checkpoint"]
    assert kept, "the first step's checkpoint should have been written before the loss blew up"
    for path in kept:
        assert all(torch.isfinite(t).all() for t in load_tensors(path).values())


def test_a_full_disk_names_the_folder_and_the_room_needed_and_keeps_what_was_saved(
    tiny_model_dir, tiny_dataset, tmp_path, monkeypatch
):
    lora = tmp_path / "lora"
    config = make_config(tiny_model_dir, tiny_dataset, lora, max_train_steps=4, save_every_n_steps=2)
    final = lora / "qb_peter_lora.safetensors"
    write = atomicfile._write_durably

    def no_room_for_the_final_lora(temp: Path, data: bytes) -> None:
        if temp.name.startswith(f".{final.name}."):
            temp.write_bytes(data[:100])  # as far as a full disk lets it get
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(temp, data)

    monkeypatch.setattr(atomicfile, "_write_durably", no_room_for_the_final_lora)
    with pytest.raises(QbtuiError, match="the disk is full"):
        train(config, tmp_path)
    *_, error, done = events_of(tmp_path)
    checkpoint = lora / "qb_peter_lora-step00000004.safetensors"
    needed = format_bytes(checkpoint.stat().st_size)  # the final file is the same size as a checkpoint
    assert error["message"].startswith(f"the disk is full: no space left in {lora} for {final.name} (it needs {needed}, ")
    assert f"make room for {needed} in {lora}" in error["hint"] and "qbtui resume run-1" in error["hint"]
    assert done["status"] == "failed" and not final.exists()
    assert sorted(p.name for p in lora.iterdir()) == [
        "qb_peter_lora-step00000002.safetensors",
        "qb_peter_lora-step00000004.safetensors",
    ]
    assert load_tensors(checkpoint) and (tmp_path / "state" / STATE_FILE).is_file()


def test_missing_base_model_is_an_error_event_with_a_fix(tiny_dataset, tmp_path):
    config = make_config(tmp_path / "nope.safetensors", tiny_dataset, tmp_path / "lora")
    with pytest.raises(QbtuiError):
        train(config, tmp_path)
    error, done = events_of(tmp_path)[-2:]
    assert error["type"] == "error" and "nope.safetensors" in error["message"] and error["hint"]
    assert done["status"] == "failed"


def test_empty_dataset_and_missing_caption_are_errors_with_a_fix(tiny_model_dir, tiny_dataset, tmp_path):
    empty = tmp_path / "empty"
    (empty / "originals").mkdir(parents=True)
    with pytest.raises(QbtuiError, match="N_name") as caught:
        train(make_config(tiny_model_dir, empty, tmp_path / "lora"), tmp_path)
    assert "30_peter" in caught.value.fix
    caption = next((tiny_dataset / "2_peter").glob("*.txt"))
    caption.unlink()
    with pytest.raises(QbtuiError, match="no caption file") as caught:
        find_images(tiny_dataset, ".txt")
    assert caught.value.path == caption


def test_epoch_order_repeats_each_image_and_depends_on_seed_and_epoch(tiny_dataset):
    data = TrainingData(find_images(tiny_dataset, ".txt"), (64, 64), seed=1)
    order = data.epoch_order(0)
    assert sorted(order) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert data.epoch_order(0) == order
    assert data.epoch_order(1) != order or data.epoch_order(2) != order
    stream = [i for step in range(8) for i in data.batch_indices(step, 3)]
    assert stream == order + data.epoch_order(1) + data.epoch_order(2)[:8]


def write_run(run_dir: Path, config: TrainConfig) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    document = tomlkit.document()
    document["train"] = config.to_toml_table()
    (run_dir / "run.toml").write_text(tomlkit.dumps(document), encoding="utf-8")


def trainer_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "qbtui.trainer", str(run_dir)]


def test_sigterm_saves_state_and_a_lora_then_resume_finishes(tiny_model_dir, tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=40)
    write_run(run_dir, config)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(trainer_command(run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        path = run_dir / "events.jsonl"
        if path.exists() and any(e["type"] == "step" for e in read_events(path)):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()
    done = events_of(run_dir)[-1]
    assert done["type"] == "done" and done["status"] == "stopped"
    stopped_at = [e for e in events_of(run_dir) if e["type"] == "step"][-1]["step"]
    assert stopped_at < 40
    assert Path(done["lora_path"]).name == f"qb_peter_lora-step{stopped_at:08d}.safetensors"
    assert Path(done["lora_path"]).is_file() and (run_dir / "state" / STATE_FILE).is_file()
    assert b"stopped at step" in stdout

    assert train(config, run_dir, resume=True).step == 40
    events = events_of(run_dir)
    assert [e["step"] for e in events if e["type"] == "start"] == [0, stopped_at]
    assert events[-1]["status"] == "completed"


def sigterm_while_drawing(run_dir: Path) -> subprocess.CompletedProcess[bytes]:
    """Run the trainer (`stop_while_sampling.py`: its first sample image held) and SIGTERM it while it draws."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(Path(__file__).with_name("stop_while_sampling.py")), str(run_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 240
    while not (run_dir / "drawing").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (run_dir / "drawing").exists(), "the trainer never started drawing samples"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=240)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_sigterm_while_drawing_samples_stops_at_that_step_and_resume_trains_on(tiny_model_dir, tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    config = make_config(
        tiny_model_dir,
        tiny_dataset,
        tmp_path / "lora",
        max_train_steps=8,
        save_every_n_steps=2,
        sample_every_n_steps=3,
        sample_prompts=["qb_peter person, illustration in the style of Quentin Blake"],
        sample_steps=4,
    )
    write_run(run_dir, config)
    finished = sigterm_while_drawing(run_dir)
    assert finished.returncode == 0, finished.stderr.decode()
    events = events_of(run_dir)
    done = events[-1]
    assert done["type"] == "done" and done["status"] == "stopped"
    assert Path(done["lora_path"]).name == "qb_peter_lora-step00000003.safetensors" and Path(done["lora_path"]).is_file()
    # the step-3 samples were abandoned: no event claims them, no image was written
    assert not [e for e in events if e["type"] == "sample"]
    assert not list((tmp_path / "lora" / "sample").glob("*.png"))

    assert train(config, run_dir, resume=True).step == 8
    events = events_of(run_dir)
    assert [e["step"] for e in events if e["type"] == "start"] == [0, 3]  # the state of step 3, not step 2's
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(1, 9))  # no step trained twice
    assert sorted({e["step"] for e in events if e["type"] == "sample"}) == [6, 8]


def test_bad_run_toml_exits_non_zero_with_an_error_event(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.toml").write_text('[train]\nnetwork_dim = "many"\n', encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(trainer_command(run_dir), capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 2
    assert "run.toml" in result.stderr and "fix:" in result.stderr and "Traceback" not in result.stderr
    error, done = events_of(run_dir)
    assert error["type"] == "error" and error["hint"] and done["status"] == "failed"


@pytest.mark.parametrize(("prompts", "released"), [([], True), (["qb_peter person"], False)])
def test_cached_models_are_freed_unless_samples_need_them(tiny_model_dir, tiny_dataset, tmp_path, prompts, released):
    from qbtui.events import EventWriter
    from qbtui.trainer.loop import _Trainer

    config = make_config(
        tiny_model_dir, tiny_dataset, tmp_path / "lora", network_train_unet_only=True, cache_latents=True, sample_prompts=prompts
    )
    with EventWriter(tmp_path / "events.jsonl") as events:
        trainer = _Trainer(config, tmp_path, events)
        trainer._set_up()
    assert (trainer.base.vae is None) is released
    assert (trainer.base.text_encoder is None) is released


@pytest.mark.parametrize(("native_bf16", "used"), [(False, "no"), (True, "bf16")])
def test_fp16_on_the_cpu_falls_back_with_a_warning(tiny_model_dir, tiny_dataset, tmp_path, monkeypatch, native_bf16, used):
    real = loop.torch_capabilities
    monkeypatch.setattr(loop, "torch_capabilities", lambda device: replace(real(device), cpu_bf16=native_bf16))
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=1, mixed_precision="fp16")
    final = train(config, tmp_path).lora_path
    warnings = [e["message"] for e in events_of(tmp_path) if e["type"] == "warning"]
    (start,) = [e for e in events_of(tmp_path) if e["type"] == "start"]
    assert start["mixed_precision"] == used and start["precision_reason"] in warnings and "fp16" in start["precision_reason"]
    assert read_metadata(final)["ss_mixed_precision"] == used


def test_bf16_trains_with_half_precision_base_weights(tiny_model_dir, tiny_dataset, tmp_path):
    config = make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora", max_train_steps=2, mixed_precision="bf16")
    final = train(config, tmp_path).lora_path
    tensors = load_tensors(final)
    assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in tensors.values())
    assert any(t.abs().sum() > 0 for k, t in tensors.items() if "lora_up" in k)
    assert read_metadata(final)["ss_mixed_precision"] == "bf16"


def test_gradient_checkpointing_and_batches_give_the_same_training(tiny_model_dir, tiny_dataset, tmp_path):
    plain = make_config(tiny_model_dir, tiny_dataset, tmp_path / "plain", max_train_steps=2, train_batch_size=3)
    checkpointed = make_config(
        tiny_model_dir, tiny_dataset, tmp_path / "ckpt", max_train_steps=2, train_batch_size=3, gradient_checkpointing=True
    )
    expected = load_tensors(train(plain, tmp_path / "a").lora_path)
    actual = load_tensors(train(checkpointed, tmp_path / "b").lora_path)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=1e-5, rtol=1e-4)
    assert read_metadata(tmp_path / "ckpt" / "qb_peter_lora.safetensors")["ss_num_batches_per_epoch"] == "3"

    from qbtui.events import EventWriter
    from qbtui.trainer.loop import _Trainer

    with EventWriter(tmp_path / "events.jsonl") as events:
        trainer = _Trainer(checkpointed, tmp_path, events)
        trainer._set_up()
    assert trainer.base.unet.is_gradient_checkpointing
    assert trainer.base.text_encoder.is_activation_checkpointing


def test_device_choice():
    from qbtui.trainer.devices import pick_device

    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device("auto") == expected
    assert pick_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(QbtuiError, match="'cuda' is not available") as caught:
            pick_device("cuda")
        assert "auto" in caught.value.fix


def test_out_of_memory_is_an_error_event_with_the_guides_advice(tiny_model_dir, tiny_dataset, tmp_path, monkeypatch):
    from qbtui.trainer import loop

    def exhausted(self, step):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loop._Trainer, "_train_step", exhausted)
    with pytest.raises(QbtuiError, match="out of memory"):
        train(make_config(tiny_model_dir, tiny_dataset, tmp_path / "lora"), tmp_path)
    error, done = events_of(tmp_path)[-2:]
    assert "out of memory" in error["message"] and "train_batch_size 1" in error["hint"]
    assert done["status"] == "failed"


def test_an_unreadable_image_names_the_file(tiny_dataset, tmp_path):
    broken = tiny_dataset / "2_peter" / "img_00.jpg"
    broken.write_bytes(b"not a jpeg")
    data = TrainingData(find_images(tiny_dataset, ".txt"), (64, 64), seed=0)
    with pytest.raises(QbtuiError, match="cannot read image") as caught:
        data.pixels([0])
    assert caught.value.path == broken and caught.value.fix
