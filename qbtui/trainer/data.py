"""Training data in kohya's layout: `train_data_dir/N_name/` folders, N repeats each.

Every image needs a caption file (same stem, `caption_extension`, first line used).
Images are scaled to cover the training size and centre-cropped (prepared images are
already square, so this is a plain resize for them). The epoch order is a seeded shuffle
of every image repeated N times, so a resumed run replays the same order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from qbtui.atomicfile import is_temp_file
from qbtui.errors import QbtuiError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
REPEATS_FOLDER = re.compile(r"^(\d+)_(.+)$")


@dataclass(frozen=True)
class TrainImage:
    path: Path
    caption: str
    repeats: int


@dataclass(frozen=True)
class DataFolder:
    name: str
    repeats: int
    images: tuple[TrainImage, ...]


def find_images(train_data_dir: Path, caption_extension: str) -> list[DataFolder]:
    """Every `N_name` folder with its captioned images; QbtuiError naming the fix otherwise."""
    if not train_data_dir.is_dir():
        raise QbtuiError(
            "the training folder does not exist",
            path=train_data_dir,
            fix="point train_data_dir at the friend's folder that holds the N_name image folder",
        )
    folders = []
    for child in sorted(train_data_dir.iterdir()):
        match = REPEATS_FOLDER.match(child.name)
        if not child.is_dir() or not match:
            continue
        repeats = int(match.group(1))
        images = tuple(
            TrainImage(path, read_caption(path, caption_extension), repeats)
            for path in sorted(child.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and not is_temp_file(path)
        )
        if images and repeats > 0:
            folders.append(DataFolder(child.name, repeats, images))
    if not folders:
        raise QbtuiError(
            "no training images found: kohya's layout needs images inside a folder named N_name",
            path=train_data_dir,
            fix="put the prepared images and captions in e.g. 30_peter/ inside this folder (30 = repeats)",
        )
    return folders


def read_caption(image: Path, caption_extension: str) -> str:
    """The first line of the image's caption file."""
    caption_path = image.with_suffix(caption_extension)
    try:
        text = caption_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QbtuiError(
            f"image {image.name} has no caption file",
            path=caption_path,
            fix=f"write {caption_path.name} starting with the friend's trigger token",
        ) from None
    except UnicodeDecodeError:
        raise QbtuiError("caption is not UTF-8 text", path=caption_path, fix="re-save it as UTF-8") from None
    lines = text.strip().splitlines()
    caption = lines[0].strip() if lines else ""
    if not caption:
        raise QbtuiError("caption is empty", path=caption_path, fix="write the trigger token and a short description")
    return caption


def load_pixels(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """The image as a (3, H, W) tensor in [-1, 1], scaled to cover `size` and centre-cropped."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    width, height = size
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise QbtuiError(f"cannot read image: {error}", path=path, fix="re-export it as JPEG or PNG, or remove it") from None
    image = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(height, width, 3)
    return data.permute(2, 0, 1).float().div(127.5).sub(1.0)


class TrainingData:
    """The images of a run, their per-epoch order, and (optionally cached) model inputs."""

    def __init__(self, folders: list[DataFolder], size: tuple[int, int], seed: int):
        self.folders = folders
        self.images = [image for folder in folders for image in folder.images]
        self.size = size
        self.seed = seed
        self._latents: list[torch.Tensor] | None = None
        self._embeddings: dict[str, torch.Tensor] | None = None
        self._order: list[int] = []
        self._order_epoch = -1

    @property
    def num_train_images(self) -> int:
        """Images times repeats (kohya's `ss_num_train_images`): the length of one epoch."""
        return sum(folder.repeats * len(folder.images) for folder in self.folders)

    def epoch_order(self, epoch: int) -> list[int]:
        """Image indices of one epoch, each image `repeats` times, shuffled by seed and epoch."""
        indices = [i for i, image in enumerate(self.images) for _ in range(image.repeats)]
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        permutation = torch.randperm(len(indices), generator=generator).tolist()
        return [indices[p] for p in permutation]

    def batch_indices(self, step: int, batch_size: int) -> list[int]:
        """The images of `step`: a pure function of seed and step, so a resumed run replays the order.

        Batches run on across epoch ends, as one long stream of shuffled epochs.
        """
        indices = []
        for sample in range(step * batch_size, (step + 1) * batch_size):
            epoch, position = divmod(sample, self.num_train_images)
            if self._order_epoch != epoch:
                self._order, self._order_epoch = self.epoch_order(epoch), epoch
            indices.append(self._order[position])
        return indices

    def tag_frequency(self) -> dict[str, dict[str, int]]:
        """kohya's `ss_tag_frequency`: per folder, how often each comma-separated tag appears."""
        return {
            folder.name: dict(Counter(tag.strip() for image in folder.images for tag in image.caption.split(",") if tag.strip()))
            for folder in self.folders
        }

    def dataset_dirs(self) -> dict[str, dict[str, int]]:
        """kohya's `ss_dataset_dirs`: per folder, repeats and image count."""
        return {folder.name: {"n_repeats": folder.repeats, "img_count": len(folder.images)} for folder in self.folders}

    def pixels(self, indices: list[int]) -> torch.Tensor:
        """A (B, 3, H, W) batch of images read from disk."""
        return torch.stack([load_pixels(self.images[i].path, self.size) for i in indices])

    def cache_latents(self, encode: Callable[[torch.Tensor, torch.Generator], torch.Tensor]) -> None:
        """Run the VAE once per image (seeded) and keep the latents in memory."""
        generator = torch.Generator().manual_seed(self.seed)
        self._latents = [encode(self.pixels([i]), generator)[0].cpu() for i in range(len(self.images))]

    def cache_embeddings(self, embed: Callable[[list[str]], torch.Tensor]) -> None:
        """Run the frozen text encoder once per distinct caption."""
        captions = sorted({image.caption for image in self.images})
        self._embeddings = {caption: embed([caption])[0].cpu() for caption in captions}

    def latents(
        self, indices: list[int], encode: Callable[[torch.Tensor, torch.Generator], torch.Tensor], generator: torch.Generator
    ) -> torch.Tensor:
        """Latents of a batch: from the cache when there is one, else encoded now."""
        if self._latents is not None:
            return torch.stack([self._latents[i] for i in indices])
        return encode(self.pixels(indices), generator)

    def cached_embeddings(self, indices: list[int]) -> torch.Tensor | None:
        """Text-encoder outputs of a batch from the cache, or None when not cached."""
        if self._embeddings is None:
            return None
        return torch.stack([self._embeddings[self.images[i].caption] for i in indices])

    def captions(self, indices: list[int]) -> list[str]:
        return [self.images[i].caption for i in indices]
