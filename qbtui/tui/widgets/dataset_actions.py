"""What the dataset screen's keys do to files, as blocking calls into `qbtui.dataset`.

The screen runs these in thread workers. Each caption change comes back as
`CaptionChange`s (text before and after, read from disk around the engine's call), so
the screen can undo it whatever the engine function returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.errors import QbtuiError
from qbtui.registry import Friend, Settings, dataset_dir
from qbtui.tui.widgets.caption_history import CaptionChange, read_caption_file
from qbtui.tui.widgets.tag_editor import TagEdit

if TYPE_CHECKING:
    from qbtui.dataset import ImageStatus

CAPTION_SUFFIX = ".txt"


def caption_path_for(image: ImageStatus) -> Path:
    """The caption file kohya pairs with the photo (it may not exist yet)."""
    return image.caption_path or image.path.with_suffix(CAPTION_SUFFIX)


def _snapshot(paths: Iterable[Path]) -> dict[Path, str | None]:
    return {path: read_caption_file(path) for path in paths}


def _changed(before: dict[Path, str | None]) -> list[CaptionChange]:
    after = _snapshot(before)
    return [CaptionChange(path, before[path], after[path]) for path in before if before[path] != after[path]]


def _caption_paths(settings: Settings, friend: Friend) -> list[Path]:
    """Every caption a photo of the friend has or would have."""
    from qbtui.dataset import scan_friend

    status = scan_friend(settings, friend)
    return list(dict.fromkeys(caption_path_for(image) for image in status.images))


def _tracked(paths: list[Path], change: Callable[[], object]) -> list[CaptionChange]:
    before = _snapshot(paths)
    change()
    return _changed(before)


def write_caption_text(path: Path, text: str) -> list[CaptionChange]:
    """Save a caption the user typed (atomically, one trailing newline)."""
    from qbtui.dataset import write_caption

    before = read_caption_file(path)
    write_caption(path, text)
    return _changed({path: before})


def token_first_for(settings: Settings, friend: Friend, image: ImageStatus | None) -> list[CaptionChange]:
    """Put the trigger token first in one photo's caption, or in all when `image` is None."""
    from qbtui.dataset import read_caption, token_first, write_caption
    from qbtui.dataset.captions import put_token_first

    if image is None:
        return _tracked(_caption_paths(settings, friend), lambda: token_first(settings, friend))
    path = caption_path_for(image)
    lines = read_caption(path).strip().splitlines()
    if not lines:
        return []
    before = read_caption_file(path)
    write_caption(path, "\n".join([put_token_first(lines[0], friend), *lines[1:]]))
    return _changed({path: before})


def init_captions_for(settings: Settings, friend: Friend, image: ImageStatus | None) -> list[CaptionChange]:
    """Write the caption template where a caption is missing or empty (one photo, or all)."""
    from qbtui.dataset import init_captions, read_caption, write_caption

    if image is None:
        return _tracked(_caption_paths(settings, friend), lambda: init_captions(settings, friend))
    path = caption_path_for(image)
    if read_caption(path).strip():
        return []
    before = read_caption_file(path)
    write_caption(path, friend.caption_template)
    return _changed({path: before})


def apply_tag_edit(settings: Settings, friend: Friend, edit: TagEdit) -> list[CaptionChange]:
    """Add, remove or rename a tag in every caption of the friend."""
    from qbtui.dataset import add_tag, remove_tag, rename_tag

    operations = {
        "add": lambda: add_tag(settings, friend, edit.tag),
        "remove": lambda: remove_tag(settings, friend, edit.tag),
        "rename": lambda: rename_tag(settings, friend, edit.tag, edit.new_tag),
    }
    return _tracked(_caption_paths(settings, friend), operations[edit.operation])


def tag_counts(settings: Settings, friend: Friend) -> list[tuple[str, int]]:
    """How many captions use each tag, most used first (reads every caption)."""
    from qbtui.dataset import tag_frequencies

    return tag_frequencies(settings, friend)


def prep(settings: Settings, friend: Friend, progress: Callable[[int, int], object]) -> str:
    """Prepare every photo that needs it (originals kept); a one-line report.

    `progress(done, total)` is called once before the first photo and after each one.
    """
    from qbtui.dataset import prepare_friend

    progress(0, 1)
    report = prepare_friend(settings, friend, progress=lambda done, total, _path: progress(done, total))
    text = f"prepared {len(report.done)} photo{'s' if len(report.done) != 1 else ''} (originals kept in {friend.id}/originals/)"
    if report.skipped:
        text += f"; skipped {len(report.skipped)}: " + "; ".join(problem.message for problem in report.skipped)
    return text


def to_originals(settings: Settings, friend: Friend, path: Path) -> Path:
    """Move a photo (with its caption) into `originals/`; its new path."""
    from qbtui.dataset import move_to_originals

    return move_to_originals(settings, friend, path)


def add_folder(settings: Settings, friend: Friend) -> str:
    """Create the friend's training folder."""
    folder = dataset_dir(settings, friend)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QbtuiError(
            f"cannot create the folder: {error.strerror}", path=folder, fix="check datasets_dir in [settings]"
        ) from error
    return f"created {folder}"
