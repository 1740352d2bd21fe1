"""Dataset engine: scan, prepare, captions, watch. Knows nothing of the UI.

Names are exported lazily so that `import qbtui.dataset` stays fast: Pillow and
watchdog load only when a function that needs them is first used.
"""

from __future__ import annotations

from qbtui.lazy import lazy_exports

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
    "Edit": "edits",
    "UndoRecord": "edits",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
