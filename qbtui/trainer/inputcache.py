"""Encoded training inputs kept on disk: the VAE's posterior per photo, the frozen text encoder's output per caption.

Entries live in the user cache folder (`locations.user_cache_dir()/trainer-inputs/`), not beside
the photos: they are results qbtui can always recompute (what a cache folder is for), so the
friend's folder stays the user's photos and captions only (no hidden folder for the scanner,
the watcher, a photo-sync app or a read-only or symlinked dataset to trip over), and entries are
named by content, so renaming or moving a friend's folder, or two friends sharing a photo, still
hits. Deleting the folder is always safe.

An entry's name is the SHA-256 of everything its tensor depends on (`LatentKey`, `EmbeddingKey`):
change any of them (the photo's bytes, the weights file, the resolution, the dtype, the crop,
the tokens) and it is a different entry. Entries are safetensors files written atomically, with
their key repeated in the metadata; one that is unreadable, truncated or does not match its key
is recomputed and replaced, never trusted and never fatal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from qbtui.atomicfile import write_bytes_atomic
from qbtui.safefile import read_bytes

CACHE_FOLDER = "trainer-inputs"
# Bump when the meaning of a stored tensor changes (what the encoder returns, how pixels are made).
FORMAT = 1
# How `data.load_pixels` turns a photo into pixels; part of every latent key.
PIXEL_PIPELINE = "exif-transpose,rgb,fit-centre-crop,lanczos,[-1,1]"
TENSOR_NAME = "value"
KEY_METADATA = "qbtui_key"


@dataclass(frozen=True)
class LatentKey:
    """What one photo's VAE posterior depends on."""

    photo_sha256: str
    model_sha256: str  # the file the VAE's weights come from
    width: int
    height: int
    dtype: str  # the VAE's weight dtype
    pixels: str = PIXEL_PIPELINE
    kind: str = "vae-posterior"
    format: int = FORMAT


@dataclass(frozen=True)
class EmbeddingKey:
    """What one caption's text-encoder output depends on (its token ids, not its text: the tokenizer is in them)."""

    tokens_sha256: str
    model_sha256: str  # the file the text encoder's weights come from
    dtype: str
    precision: str  # the mixed precision the encoder ran under
    kind: str = "text-embedding"
    format: int = FORMAT


def cache_root() -> Path:
    from qbtui.locations import user_cache_dir

    return user_cache_dir() / CACHE_FOLDER


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo_sha256(path: Path) -> str:
    """SHA-256 of a photo's bytes (photos are small: read whole)."""
    return bytes_sha256(read_bytes(path))


def tokens_sha256(ids: torch.Tensor) -> str:
    return bytes_sha256(ids.to(torch.int64).contiguous().numpy().tobytes())


class InputCache:
    """Tensors on disk by key; counts what it found and what it had to store."""

    def __init__(self, root: Path | None = None):
        self.root = root or cache_root()
        self.hits = 0
        self.stored = 0
        self.rejected = 0  # entries present but unreadable or not matching their key

    def path_for(self, key: LatentKey | EmbeddingKey) -> Path:
        text = _key_text(key)
        digest = bytes_sha256(text.encode("utf-8"))
        return self.root / digest[:2] / f"{digest}.safetensors"

    def get(self, key: LatentKey | EmbeddingKey) -> torch.Tensor | None:
        """The stored tensor, or None when there is none or it cannot be trusted."""
        from safetensors import SafetensorError
        from safetensors.torch import load

        path = self.path_for(key)
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            return None
        except OSError:
            self.rejected += 1
            return None
        try:
            tensor = load(data)[TENSOR_NAME]
            stored_key = _stored_key(data)
        except (SafetensorError, KeyError, ValueError, RuntimeError):
            self.rejected += 1
            return None
        if stored_key != _key_text(key) or not torch.isfinite(tensor).all():
            self.rejected += 1
            return None
        self.hits += 1
        return tensor

    def put(self, key: LatentKey | EmbeddingKey, tensor: torch.Tensor) -> None:
        """Store `tensor` under `key` atomically; a cache that cannot be written only loses its speed-up."""
        from safetensors.torch import save

        path = self.path_for(key)
        data = save({TENSOR_NAME: tensor.detach().cpu().contiguous()}, metadata={KEY_METADATA: _key_text(key)})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, data)
        except OSError:
            return
        self.stored += 1


def _key_text(key: LatentKey | EmbeddingKey) -> str:
    return json.dumps(asdict(key), sort_keys=True)


def _stored_key(data: bytes) -> str | None:
    """The key an entry's header says it holds."""
    header_size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_size])
    return header.get("__metadata__", {}).get(KEY_METADATA)


def component_sha256(model_path: Path, component: str) -> str:
    """SHA-256 of what a base model's component ("vae", "text_encoder") is read from, remembered per size and mtime.

    A single file holds every component; a diffusers folder has a weights file per component
    (every file of the component's folder is hashed when the usual one is not there).
    """
    from qbtui.trainer.models import FOLDER_WEIGHTS_FILES, file_sha256

    if model_path.is_file():
        return file_sha256(model_path)
    folder = model_path / component
    usual = folder / dict(FOLDER_WEIGHTS_FILES)[component]
    if usual.is_file():
        return file_sha256(usual)
    files = sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []
    return bytes_sha256("".join(f"{path.name}:{file_sha256(path)}\n" for path in files).encode("utf-8"))
