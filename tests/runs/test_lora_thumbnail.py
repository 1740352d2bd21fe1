"""The card picture inside the LoRA: `modelspec.thumbnail` written into the header, the tensors and A1111's hash untouched."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from qbtui.cards import QUIET_SKIPS, update_thumbnail
from qbtui.errors import QbtuiError
from qbtui.lora_header import STILL_WRITING, THUMBNAIL_KEY, read_metadata, set_metadata
from qbtui.trainer.metadata import save_lora


def a1111_addnet_hash(path: Path) -> str:
    """AUTOMATIC1111 modules/hashes.py `addnet_hash_safetensors`: SHA-256 of the file after its 8 + n header bytes,
    read in 1 MiB blocks (what `Lora hashes` and civitai match on; kohya's `sshs_model_hash`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(0)
        n = int.from_bytes(handle.read(8), "little")
        handle.seek(n + 8)
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture
def lora(tmp_path) -> Path:
    tensors = {
        "lora_unet_a.lora_down.weight": torch.randn(4, 320, generator=torch.Generator().manual_seed(1)),
        "lora_unet_a.lora_up.weight": torch.randn(320, 4, generator=torch.Generator().manual_seed(2)),
        "lora_unet_a.alpha": torch.tensor(2.0),
    }
    metadata = {"ss_output_name": "qb_ada_lora", "modelspec.trigger_phrase": "qb_ada person", "ss_tag_frequency": '{"a": 1}'}
    return save_lora(tmp_path / "loras" / "qb_ada_lora.safetensors", tensors, metadata)


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "sample.png"
    Image.new("RGB", (512, 384), (40, 120, 200)).save(path)
    return path


def test_the_thumbnail_goes_into_the_header_and_the_addnet_hash_and_tensors_do_not_change(lora, sample):
    before_hash, before_tensors, before_metadata = a1111_addnet_hash(lora), load_file(lora), read_metadata(lora)
    assert before_metadata["sshs_model_hash"] == before_hash
    outcome = update_thumbnail(lora, sample)
    assert (outcome.path, outcome.action) == (lora, "written")
    metadata = read_metadata(lora)
    uri = metadata.pop(THUMBNAIL_KEY)
    assert uri.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (256, 192)
        assert thumbnail.getpixel((128, 96)) == pytest.approx((40, 120, 200), abs=3)
    assert metadata == before_metadata, "every other key kept"
    assert a1111_addnet_hash(lora) == before_hash == metadata["sshs_model_hash"]
    after = load_file(lora)
    assert after.keys() == before_tensors.keys() and all(torch.equal(after[k], before_tensors[k]) for k in after)
    assert (8 + int.from_bytes(lora.read_bytes()[:8], "little")) % 8 == 0, "tensor data stays 8-byte aligned"
    written = lora.read_bytes()
    assert update_thumbnail(lora, sample).action == "unchanged" and lora.read_bytes() == written
    assert not [path for path in lora.parent.iterdir() if path != lora], "no temp file left"


def test_a_new_choice_replaces_the_thumbnail(lora, sample, tmp_path):
    update_thumbnail(lora, sample)
    chosen = tmp_path / "chosen.png"
    Image.new("RGB", (64, 64), (250, 10, 10)).save(chosen)
    assert update_thumbnail(lora, chosen).action == "written"
    uri = read_metadata(lora)[THUMBNAIL_KEY]
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumbnail:
        assert thumbnail.size == (64, 64) and thumbnail.getpixel((32, 32))[0] > 240


def test_a_symlink_a_fifo_or_a_broken_file_is_left_alone(lora, sample, tmp_path):
    link = tmp_path / "link.safetensors"
    link.symlink_to(lora)
    before = lora.read_bytes()
    assert update_thumbnail(link, sample).action == "skipped" and lora.read_bytes() == before
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(QbtuiError, match="not a regular file"):
        set_metadata(fifo, {"a": "b"})
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"lora" * 1000)
    outcome = update_thumbnail(broken, sample)
    assert outcome.action == "skipped" and "too large" in outcome.detail and broken.read_bytes() == b"lora" * 1000


def test_a_lora_still_being_written_keeps_its_bytes(lora, sample):
    """sd-scripts announces a checkpoint (`saving checkpoint:`) before it writes it: a file shorter than its header says
    is left alone (the run's next card pass writes its thumbnail), so the writer's bytes are never cut off."""
    whole = lora.read_bytes()
    lora.write_bytes(whole[:-100])
    outcome = update_thumbnail(lora, sample)
    assert outcome.action == "skipped" and outcome.detail == STILL_WRITING and outcome.detail in QUIET_SKIPS
    assert lora.read_bytes() == whole[:-100]
    lora.write_bytes(whole)
    assert update_thumbnail(lora, sample).action == "written"
