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
from qbtui.safefile import open_regular, read_text
from qbtui.trainer.inputcache import EmbeddingKey, InputCache, LatentKey, photo_sha256, tokens_sha256

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
        text = read_text(caption_path)
    except FileNotFoundError:
        raise QbtuiError(
            f"image {image.name} has no caption file",
            path=caption_path,
            fix=f"write {caption_path.name} starting with the friend's trigger token",
        ) from None
    except UnicodeDecodeError:
        raise QbtuiError("caption is not UTF-8 text", path=caption_path, fix="re-save it as UTF-8") from None
    except OSError as error:
        raise QbtuiError(
            f"cannot read the caption: {error.strerror}", path=caption_path, fix="replace it with a text file"
        ) from None
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
        with open_regular(path) as handle, Image.open(handle) as opened:
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
        self._posteriors: list[torch.Tensor] | None = None
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

    def encode_posteriors(
        self,
        encode: Callable[[torch.Tensor], torch.Tensor],
        key_for: Callable[[str], LatentKey],
        cache: InputCache,
        batch_size: int = 1,
    ) -> None:
        """The VAE posterior parameters of every image, from `cache` when stored there, else encoded and stored.

        `encode` maps a (B, 3, H, W) pixel batch to (B, 2C, h, w) posterior moments; `key_for`
        gives a photo's cache key from its content hash. The VAE is deterministic, so drawing
        from these later is the same as encoding again.
        """
        keys = [key_for(photo_sha256(image.path)) for image in self.images]
        posteriors: list[torch.Tensor | None] = [cache.get(key) for key in keys]
        missing = [i for i, posterior in enumerate(posteriors) if posterior is None]
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            for i, moments in zip(batch, encode(self.pixels(batch)), strict=True):
                posterior = moments.float().cpu().clone()
                cache.put(keys[i], posterior)
                posteriors[i] = posterior
        self._posteriors = [posterior for posterior in posteriors if posterior is not None]

    def cache_latents(self, sample: Callable[[torch.Tensor, torch.Generator], torch.Tensor]) -> None:
        """Draw one latent per image (seeded, in image order) from its posterior and keep it for every step."""
        generator = torch.Generator().manual_seed(self.seed)
        self._latents = [sample(posterior[None], generator)[0].cpu() for posterior in self._require_posteriors()]

    def cache_embeddings(
        self,
        tokenize: Callable[[list[str]], torch.Tensor],
        embed: Callable[[torch.Tensor], torch.Tensor],
        key_for: Callable[[str], EmbeddingKey],
        cache: InputCache,
    ) -> None:
        """The frozen text encoder's output for each distinct caption, from `cache` when stored there."""
        self._embeddings = {}
        for caption in sorted({image.caption for image in self.images}):
            ids = tokenize([caption])
            key = key_for(tokens_sha256(ids))
            embedding = cache.get(key)
            if embedding is None:
                embedding = embed(ids)[0].cpu()
                cache.put(key, embedding)
            self._embeddings[caption] = embedding

    def latents(
        self, indices: list[int], sample: Callable[[torch.Tensor, torch.Generator], torch.Tensor], generator
    ) -> torch.Tensor:
        """Latents of a batch: the cached draws when latents are cached, else drawn now from the posteriors."""
        if self._latents is not None:
            return torch.stack([self._latents[i] for i in indices])
        posteriors = self._require_posteriors()
        return sample(torch.stack([posteriors[i] for i in indices]), generator)

    def _require_posteriors(self) -> list[torch.Tensor]:
        if self._posteriors is None:
            raise RuntimeError("encode_posteriors must run before latents are drawn")
        return self._posteriors

    def cached_embeddings(self, indices: list[int]) -> torch.Tensor | None:
        """Text-encoder outputs of a batch from the cache, or None when not cached."""
        if self._embeddings is None:
            return None
        return torch.stack([self._embeddings[self.images[i].caption] for i in indices])

    def captions(self, indices: list[int]) -> list[str]:
        return [self.images[i].caption for i in indices]
