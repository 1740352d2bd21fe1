"""Shared trainer fixtures: a tiny SD1.5 model in both layouts and a tiny captioned dataset."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread (as torchrun gives each worker): on a shared, loaded CPU, OpenMP spinning makes two threads ~30x slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def fresh_accelerate_state():
    """Accelerate keeps one mixed-precision setting per process; each test's run is its own process in real use."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield


DATASET_COLOURS = [(200, 60, 40), (40, 120, 200), (60, 170, 80), (220, 190, 40), (150, 60, 170), (240, 140, 30)]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD1.5-shaped model as a diffusers folder (model_index.json, tokenizer/ included)."""
    from qbtui.trainer.tiny import build_tiny_sd15

    return build_tiny_sd15(tmp_path_factory.mktemp("tiny-diffusers"), layout="diffusers", seed=0)


@pytest.fixture(scope="session")
def tiny_single_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model (same seed) as one A1111-layout .safetensors file, `tokenizer/` beside it."""
    from qbtui.trainer.tiny import build_tiny_sd15

    return build_tiny_sd15(tmp_path_factory.mktemp("tiny-single-file"), layout="single-file", seed=0)


def make_tiny_dataset(parent: Path, *, images: int = 4, repeats: int = 2, token: str = "qb_peter", name: str = "peter") -> Path:
    """Write `parent/<repeats>_<name>/` with 64x64 JPEGs (a coloured disc on a plain ground) and
    one `.txt` caption each; returns `parent`, the folder kohya's `train_data_dir` points at."""
    from PIL import Image, ImageDraw

    folder = parent / f"{repeats}_{name}"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(images):
        colour = DATASET_COLOURS[index % len(DATASET_COLOURS)]
        image = Image.new("RGB", (64, 64), (245, 240, 230))
        draw = ImageDraw.Draw(image)
        offset = 4 * index
        draw.ellipse((8 + offset, 10, 44 + offset, 46), fill=colour)
        draw.rectangle((20, 48, 44, 60), fill=(30, 30, 30))
        image.save(folder / f"img_{index:02d}.jpg", quality=95)
        (folder / f"img_{index:02d}.txt").write_text(f"{token} person, man, shirt number {index}\n", encoding="utf-8")
    return parent


@pytest.fixture
def tiny_dataset_factory(tmp_path: Path) -> Callable[..., Path]:
    """`make_tiny_dataset` bound to a fresh folder per call: factory(images=2, repeats=1, ...)."""
    counter = itertools.count()

    def factory(**options) -> Path:
        return make_tiny_dataset(tmp_path / f"dataset-{next(counter)}", **options)

    return factory


@pytest.fixture
def tiny_dataset(tiny_dataset_factory: Callable[..., Path]) -> Path:
    """A parent folder holding `2_peter/` with four captioned 64x64 images."""
    return tiny_dataset_factory()
