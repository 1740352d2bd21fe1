"""ComfyUI-LoRA-Manager's `<stem>.metadata.json`, written once so it shows the trigger phrase and weight.

LoRA Manager shows trigger words only from its own sidecar's `civitai.trainedWords` and reads
the weight from `usage_tips` (`{"strength": 0.8}`). On its scan it loads a sidecar it finds
(`MetadataManager.load_metadata`: every required field of `BaseModelMetadata` must be there, or
it skips the LoRA), computes the SHA-256 when `sha256` is empty and saves the file back with
every key kept. So qbtui writes a complete sidecar with an empty hash, only where none exists:
from then on the file is LoRA Manager's (and the person's), and qbtui never rewrites it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from qbtui.atomicfile import fsync_dir, temp_path_for

SUFFIX = ".metadata.json"
BASE_MODEL = "SD 1.5"  # LoRA Manager's name for kohya's `sd_v1`


def sidecar_path(lora_path: Path) -> Path:
    """`qb_peter_lora.metadata.json` beside `qb_peter_lora.safetensors`."""
    return lora_path.with_name(lora_path.stem + SUFFIX)


def sidecar_values(
    lora_path: Path, *, trigger: str, weight: float, description: str, notes: str, picture: Path
) -> dict[str, Any]:
    """Every field LoRA Manager requires, the trigger phrase as `civitai.trainedWords`, the weight as `usage_tips`.

    `preview_url` names the picture even before it exists: LoRA Manager looks again for a
    picture whose `preview_url` is missing (`_normalize_metadata_paths`), never for an empty one.
    """
    return {
        "file_name": lora_path.stem,
        "model_name": lora_path.stem,
        "file_path": lora_path.absolute().as_posix(),
        "size": lora_path.stat().st_size,
        "modified": time.time(),
        "sha256": "",
        "base_model": BASE_MODEL,
        "preview_url": picture.absolute().as_posix(),
        "notes": notes,
        "from_civitai": False,
        "civitai": {"trainedWords": [trigger]},
        "trainedWords": [trigger],
        "tags": [],
        "modelDescription": description,
        "usage_tips": json.dumps({"strength": weight}),
    }


def create_sidecar(path: Path, values: dict[str, Any]) -> bool:
    """Write `values` to `path` if nothing is there (not even a symlink); False when something is.

    The JSON goes to a temp file first and is hard-linked into place, so the sidecar appears
    whole or not at all, and a file that appeared meanwhile is never replaced.
    """
    if path.exists() or path.is_symlink():
        return False
    temp = temp_path_for(path)
    try:
        with open(temp, "x", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True
