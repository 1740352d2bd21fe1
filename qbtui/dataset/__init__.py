"""Dataset engine: scan, prepare, captions, watch. Knows nothing of the UI.

Names are exported lazily so that `import qbtui.dataset` stays fast: Pillow and
watchdog load only when a function that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Problem": "problems",
    "CATALOGUE": "problems",
    "ImageStatus": "scan",
    "FriendStatus": "scan",
    "scan_friend": "scan",
    "ScanCache": "cache",
    "PrepReport": "prep",
    "PrepAction": "prep",
    "prepare_friend": "prep",
    "move_to_originals": "prep",
    "CaptionChanges": "captions",
    "init_captions": "captions",
    "token_first": "captions",
    "add_tag": "captions",
    "remove_tag": "captions",
    "rename_tag": "captions",
    "tag_frequencies": "captions",
    "read_caption": "captions",
    "write_caption": "captions",
    "DatasetWatcher": "watch",
    "apply_fix": "fixes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qbtui.dataset' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"qbtui.dataset.{module}"), name)
    globals()[name] = value
    return value
