"""Encoded training inputs on disk: reused by a second run and a resume, invalidated by any key, corrupt entries recomputed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from qbtui.events import EventWriter, read_events
from qbtui.trainer.inputcache import EmbeddingKey, InputCache, LatentKey, cache_root
from qbtui.trainer.loop import _Trainer, train
from tests.trainer.test_train import make_config

pytestmark = pytest.mark.usefixtures("one_torch_thread", "fresh_accelerate_state")


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many photos each VAE encode of the trainer received."""
    calls: list[int] = []
    original = _Trainer._encode_posteriors

    def counting(self, pixels):
        calls.append(pixels.shape[0])
        return original(self, pixels)

    monkeypatch.setattr(_Trainer, "_encode_posteriors", counting)
    return calls


def fast_config(model: Path, data: Path, out: Path, **overrides):
    values = {"max_train_steps": 2, "cache_latents": True, "network_train_unet_only": True, **overrides}
    return make_config(model, data, out, **values)


def cache_note(run_dir: Path) -> str:
    return next(event["cache"] for event in read_events(run_dir / "events.jsonl") if event["type"] == "start")


def test_a_second_run_encodes_nothing_and_trains_the_same(tiny_single_file, tiny_dataset, tmp_path, encoder_calls):
    first = train(fast_config(tiny_single_file, tiny_dataset, tmp_path / "a"), tmp_path / "run-a")
    assert re.fullmatch(
        r"latents: 0 cached, 4 encoded in \d+\.\d s; captions: 0 cached, 4 encoded", cache_note(tmp_path / "run-a")
    )
    assert sum(encoder_calls) == 4
    second = train(fast_config(tiny_single_file, tiny_dataset, tmp_path / "b"), tmp_path / "run-b")
    assert cache_note(tmp_path / "run-b") == "latents: 4 cached, 0 encoded; captions: 4 cached, 0 encoded"
    assert sum(encoder_calls) == 4
    from safetensors.torch import load_file

    a, b = load_file(str(first.lora_path)), load_file(str(second.lora_path))
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_a_resume_reuses_the_cache(tiny_model_dir, tiny_dataset, tmp_path, encoder_calls):
    config = fast_config(tiny_model_dir, tiny_dataset, tmp_path / "out", max_train_steps=3)
    assert train(config, tmp_path / "run", should_stop=lambda: True).status == "stopped"
    assert train(config, tmp_path / "run", resume=True).status == "completed"
    starts = [event for event in read_events(tmp_path / "run" / "events.jsonl") if event["type"] == "start"]
    assert starts[-1]["cache"] == "latents: 4 cached, 0 encoded; captions: 4 cached, 0 encoded"
    assert sum(encoder_calls) == 4


def test_a_changed_photo_or_resolution_is_encoded_again(tiny_model_dir, tiny_dataset, tmp_path, encoder_calls):
    train(fast_config(tiny_model_dir, tiny_dataset, tmp_path / "a"), tmp_path / "run-a")
    photo = next((tiny_dataset / "2_peter").glob("*.jpg"))
    from PIL import Image

    Image.new("RGB", (64, 64), (10, 20, 30)).save(photo, quality=95)
    train(fast_config(tiny_model_dir, tiny_dataset, tmp_path / "b"), tmp_path / "run-b")
    assert cache_note(tmp_path / "run-b").startswith("latents: 3 cached, 1 encoded in ")
    train(fast_config(tiny_model_dir, tiny_dataset, tmp_path / "c", resolution="56,56"), tmp_path / "run-c")
    assert cache_note(tmp_path / "run-c").startswith("latents: 0 cached, 4 encoded in ")
    assert sum(encoder_calls) == 4 + 1 + 4


def test_a_corrupt_entry_is_recomputed_not_fatal(tiny_model_dir, tiny_dataset, tmp_path, encoder_calls):
    train(fast_config(tiny_model_dir, tiny_dataset, tmp_path / "a"), tmp_path / "run-a")
    entries = sorted(cache_root().rglob("*.safetensors"))
    assert len(entries) == 8  # four posteriors, four captions
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    entries[1].write_bytes(b"not a safetensors file")
    outcome = train(fast_config(tiny_model_dir, tiny_dataset, tmp_path / "b"), tmp_path / "run-b")
    assert outcome.status == "completed"
    note = cache_note(tmp_path / "run-b")
    assert note.endswith("; 2 unreadable cache entries recomputed")
    encoded = int(note.split("latents: ")[1].split(" cached, ")[1].split(" encoded")[0])
    assert sum(encoder_calls) == 4 + encoded
    assert len(sorted(cache_root().rglob("*.safetensors"))) == 8


def test_every_key_field_names_a_different_entry(tmp_path):
    cache = InputCache(tmp_path)
    key = LatentKey("photo", "model", 512, 512, "float32")
    cache.put(key, torch.ones(8, 64, 64))
    assert torch.equal(cache.get(key), torch.ones(8, 64, 64))
    variants = [
        LatentKey("other photo", "model", 512, 512, "float32"),
        LatentKey("photo", "other model", 512, 512, "float32"),
        LatentKey("photo", "model", 512, 768, "float32"),
        LatentKey("photo", "model", 512, 512, "float16"),
        LatentKey("photo", "model", 512, 512, "float32", pixels="random-crop,flip"),
    ]
    assert all(cache.get(variant) is None for variant in variants)
    embedding = EmbeddingKey("tokens", "model", "float32", "no")
    assert cache.get(embedding) is None and cache.get(EmbeddingKey("tokens", "model", "float32", "bf16")) is None
    assert cache.hits == 1 and cache.rejected == 0


def test_an_entry_stored_under_another_key_is_rejected(tmp_path):
    cache = InputCache(tmp_path)
    right, wrong = LatentKey("a", "m", 64, 64, "float32"), LatentKey("b", "m", 64, 64, "float32")
    cache.put(wrong, torch.zeros(8, 8, 8))
    cache.path_for(right).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(right).write_bytes(cache.path_for(wrong).read_bytes())
    assert cache.get(right) is None and cache.rejected == 1


def test_latents_drawn_from_cached_posteriors_match_encoding_each_time(tiny_model_dir):
    from qbtui.trainer.models import load_base_model

    base = load_base_model(tiny_model_dir)
    pixels = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = base.vae.encode(pixels).latent_dist.sample(generator=torch.Generator().manual_seed(3))
        moments = base.vae.encode(pixels).latent_dist.parameters
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

    drawn = DiagonalGaussianDistribution(moments.clone()).sample(generator=torch.Generator().manual_seed(3))
    assert torch.equal(drawn, expected)


def test_the_cpu_encodes_photos_channels_last_and_stores_them_contiguous(tiny_model_dir, tiny_dataset, tmp_path, monkeypatch):
    from diffusers import AutoencoderKL

    layouts: list[bool] = []
    real_encode = AutoencoderKL.encode

    def spying(vae, pixels, *positional, **named):
        weight = vae.encoder.conv_in.weight
        layouts.append(all(t.is_contiguous(memory_format=torch.channels_last) for t in (pixels, weight)))
        return real_encode(vae, pixels, *positional, **named)

    monkeypatch.setattr(AutoencoderKL, "encode", spying)
    trainer = _Trainer(fast_config(tiny_model_dir, tiny_dataset, tmp_path / "lora"), tmp_path, EventWriter(tmp_path / "e.jsonl"))
    trainer._set_up()
    assert layouts and all(layouts)
    posteriors = trainer.data._require_posteriors()
    assert posteriors and all(p.is_contiguous() for p in posteriors)
    assert len(list(cache_root().rglob("*.safetensors"))) >= len(posteriors)  # stored (safetensors needs contiguous)
