"""A LoRA's safetensors header metadata, read and rewritten without touching its tensors (no torch).

A safetensors file is an 8-byte little-endian header length, a JSON header (`__metadata__`
holds string keys and values) and the tensor bytes. `set_metadata` writes a new header in
front of the very same tensor bytes, through a temp file renamed over the original, so
A1111's "addnet" LoRA hash (SHA-256 of the bytes after the header), kohya's
`sshs_model_hash` and every offset inside the header stay as they were.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import stat
from pathlib import Path

from qbtui.atomicfile import fsync_dir, temp_path_for
from qbtui.errors import QbtuiError

METADATA = "__metadata__"
THUMBNAIL_KEY = "modelspec.thumbnail"
THUMBNAIL_SIDE = 256
THUMBNAIL_QUALITY = 85
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
ALIGNMENT = 8  # safetensors pads its header with spaces so the tensor data starts 8-byte aligned
STILL_WRITING = "still being written; left as it is"
FIX = "train it again, or restore the file: it is not a complete safetensors file"


def _open_regular(path: Path):
    """`path` opened for reading only if it is a regular file (never blocks on a FIFO, never follows a symlink)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise QbtuiError("not a regular file; left as it is", path=path, fix="point qbtui at the LoRA file itself")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class StillWriting(QbtuiError):
    """The file is shorter than its header says, or changed while its copy was made: a writer is not done with it."""

    def __init__(self, path: Path):
        super().__init__(STILL_WRITING, path=path, fix="run `qbtui cards` once the training has written it")


def _data_length(header: dict) -> int:
    """Where the last tensor's bytes end, after the header."""
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != METADATA and isinstance(entry, dict)]
    try:
        return max((int(end) for end in ends), default=0)
    except (TypeError, ValueError):
        return 0


def read_header(path: Path) -> tuple[dict, int]:
    """The parsed JSON header and the offset where the tensor data begins."""
    with _open_regular(path) as handle:
        return _read_header(handle, path)


def _read_header(handle, path: Path) -> tuple[dict, int]:
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise QbtuiError("too short for a safetensors file", path=path, fix=FIX)
    length = int.from_bytes(prefix, "little")
    if length > MAX_HEADER_BYTES:
        raise QbtuiError(f"safetensors header of {length} bytes is too large", path=path, fix=FIX)
    raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise QbtuiError("the safetensors header is not valid JSON", path=path, fix=FIX) from None
    if len(raw) < length or not isinstance(header, dict):
        raise QbtuiError("the safetensors header is cut short", path=path, fix=FIX)
    return header, 8 + length


def read_metadata(path: Path) -> dict[str, str]:
    """The header's `__metadata__` (strings, as every safetensors writer stores them)."""
    metadata = read_header(path)[0].get(METADATA) or {}
    return {str(key): str(value) for key, value in metadata.items()}


def encode_header(header: dict) -> bytes:
    """The 8-byte length and the JSON header, padded with spaces to the safetensors alignment."""
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % ALIGNMENT)
    return len(raw).to_bytes(8, "little") + raw


def set_metadata(path: Path, values: dict[str, str]) -> bool:
    """Put `values` into the header's metadata, keeping the tensor bytes; False when they were already there.

    The new file is written beside the old one, fsynced and renamed over it; a symlink is refused,
    and so is a file still being written (shorter than its header says, as sd-scripts' checkpoint
    is while it writes it) or changed while it was copied (`StillWriting`).
    """
    if path.is_symlink():
        raise QbtuiError("a symlink; left as it is", path=path, fix="point qbtui at the LoRA file itself")
    with _open_regular(path) as source:
        header, data_start = _read_header(source, path)
        opened = os.fstat(source.fileno())
        if opened.st_size < data_start + _data_length(header):
            raise StillWriting(path)
        metadata = dict(header.get(METADATA) or {})
        if all(metadata.get(key) == value for key, value in values.items()):
            return False
        header[METADATA] = {**metadata, **values}
        temp = temp_path_for(path)
        try:
            with open(temp, "xb") as target:
                target.write(encode_header(header))
                source.seek(data_start)
                shutil.copyfileobj(source, target, 1 << 20)
                target.flush()
                os.fsync(target.fileno())
            os.chmod(temp, opened.st_mode & 0o7777)
            now = os.stat(path, follow_symlinks=False)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (opened.st_ino, opened.st_size, opened.st_mtime_ns):
                raise StillWriting(path)  # replaced or written to meanwhile: the newer file stays
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    fsync_dir(path.parent)
    return True


def thumbnail_uri(picture: Path) -> str:
    """A `data:image/jpeg;base64,...` URI of `picture` at most 256 px a side (SwarmUI and ComfyUI take only data URIs)."""
    from PIL import Image

    with Image.open(picture) as image:
        small = image.convert("RGB")
        small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
