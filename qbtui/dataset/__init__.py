"""Dataset engine: scan, prepare, captions, watch. Knows nothing of the UI.

Names are exported lazily so that `import qbtui.dataset` stays fast: Pillow and
watchdog load only when a function that needs them is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbtui.lazy import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers; tests/test_lazy_exports.py keeps both lists equal
    from qbtui.dataset.cache import ScanCache as ScanCache
    from qbtui.dataset.captions import (
        CaptionChanges as CaptionChanges,
        add_tag as add_tag,
        init_captions as init_captions,
        read_caption as read_caption,
        remove_tag as remove_tag,
        rename_tag as rename_tag,
        tag_frequencies as tag_frequencies,
        token_first as token_first,
        write_caption as write_caption,
    )
    from qbtui.dataset.edits import Edit as Edit, UndoRecord as UndoRecord
    from qbtui.dataset.prep import (
        PrepAction as PrepAction,
        PrepReport as PrepReport,
        move_to_originals as move_to_originals,
        prepare_friend as prepare_friend,
    )
    from qbtui.dataset.problems import CATALOGUE as CATALOGUE, Problem as Problem
    from qbtui.dataset.scan import FriendStatus as FriendStatus, ImageStatus as ImageStatus, scan_friend as scan_friend
    from qbtui.dataset.watch import DatasetWatcher as DatasetWatcher


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

__getattr__ = lazy_exports(__name__, _EXPORTS)
