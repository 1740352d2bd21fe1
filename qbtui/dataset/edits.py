"""Every edit of a friend's photos and captions, one photo or all of them, for the CLI and the TUI.

Each edit returns an `Edit`: what it did in plain words (`notes`), the files it changed,
the problems it left alone (`skipped`: a caption that is not UTF-8 is reported and never
blocks the others) and an `UndoRecord` that `undo()` applies back. Undo restores a file
only where it still holds what the edit wrote, so it never destroys a later change.
Undoing preparation removes the prepared JPEG and moves the original (and a caption
that followed a renamed photo) back from `originals/`; a fix of everything is one record.

Re-encoding a caption that is not UTF-8 reads its bytes as Windows-1252 (Latin-1 where
that fails), writes them back as UTF-8 and keeps the original file, byte for byte, as
`<datasets_dir>/<id>/originals/<name>.not-utf8.txt`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qbtui.atomicfile import write_bytes_atomic
from qbtui.dataset import captions
from qbtui.dataset.prep import NameBook, PrepReport, Progress, move_out, prepare_friend
from qbtui.dataset.problems import Problem
from qbtui.dataset.scan import scan_existing
from qbtui.errors import QbtuiError
from qbtui.registry import CAPTION_SUFFIX, Friend, Settings, dataset_dir, originals_dir
from qbtui.safefile import read_bytes

# The order `fix` applies actions in: each one prepares the ground for the next.
FIX_ORDER = ("add-folder", "prep", "re-encode", "caption-init", "token-first")
NOT_UTF8_SUFFIX = ".not-utf8"
FALLBACK_ENCODINGS = ("cp1252", "latin-1")
MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class FileChange:
    """One file's bytes before and after an edit (None: the file did not exist)."""

    path: Path
    before: bytes | None
    after: bytes | None


@dataclass(frozen=True)
class UndoRecord:
    """What undoing an edit needs: contents to put back and moves to reverse."""

    label: str
    changes: tuple[FileChange, ...] = ()
    moves: tuple[tuple[Path, Path], ...] = ()
    created_dirs: tuple[Path, ...] = ()  # folders the edit created: removed by undo when it empties them

    def __bool__(self) -> bool:
        return bool(self.changes or self.moves)


@dataclass(frozen=True)
class Edit:
    """What one edit did."""

    label: str
    notes: tuple[str, ...]
    changed: tuple[Path, ...] = ()
    skipped: tuple[Problem, ...] = ()
    undo: UndoRecord = field(default_factory=lambda: UndoRecord(""))
    error: QbtuiError | None = None
    prep: PrepReport | None = None

    @property
    def summary(self) -> str:
        """The notes, then each problem left alone, as lines for a person."""
        lines = list(self.notes)
        lines += [f"left alone: {problem.path.name if problem.path else ''}: {problem.fix}" for problem in self.skipped]
        if self.error is not None:
            lines.append(f"stopped: {self.error.message}")
        return "\n".join(lines)


@dataclass(frozen=True)
class UndoResult:
    """What an undo put back, and what it left because the file changed since."""

    label: str
    restored: tuple[Path, ...]
    left: tuple[Path, ...]


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def caption_path_of(image: Path) -> Path:
    """The caption file kohya pairs with a photo (it may not exist yet)."""
    return image.with_suffix(CAPTION_SUFFIX)


def _read(path: Path) -> bytes | None:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        return None


def _tracked(
    label: str,
    settings: Settings,
    friend: Friend,
    paths: Iterable[Path],
    change: Callable[[], captions.CaptionChanges],
    verb: str,
) -> Edit:
    """Run a caption change, recording every file's bytes before and after it (a caption linked
    out of the datasets folder is not read: the change leaves it alone)."""
    before = {path: _read(path) for path in dict.fromkeys(paths) if captions.outside_caption(settings, friend, path) is None}
    result = change()
    changes = []
    for path in result:
        before.setdefault(path, None)
        changes.append(FileChange(path, before[path], _read(path)))
    changes = [change for change in changes if change.before != change.after]
    note = f"{verb}: {plural(len(changes), 'caption')} changed"
    return Edit(label, (note,), tuple(change.path for change in changes), result.skipped, UndoRecord(label, tuple(changes)))


def _all_caption_paths(settings: Settings, friend: Friend) -> list[Path]:
    return [caption_path_of(image.path) for image in scan_existing(settings, friend).images]


def _paths(settings: Settings, friend: Friend, image: Path | None) -> list[Path]:
    return [caption_path_of(image)] if image is not None else _all_caption_paths(settings, friend)


# --- captions -----------------------------------------------------------------------
def read_for_editing(settings: Settings, friend: Friend, image: Path) -> str:
    """The photo's caption as text to edit, or the friend's template when it has none; a caption
    linked out of the datasets folder is a QbtuiError naming the link, its target and the fix."""
    path = caption_path_of(image)
    captions.check_caption_inside(settings, friend, path)
    try:
        text = captions.read_caption(path)
    except QbtuiError as error:
        raise QbtuiError(
            error.message,
            path=path,
            fix=f"re-encode it first (f on the Dataset screen, or `qbtui captions {friend.id} --reencode`); the original is kept",
        ) from None
    return text.strip() if text.strip() else friend.caption_template


class ChangedOnDisk(QbtuiError):
    """The caption file changed on disk after the person began editing it: writing would lose that change."""


def caption_on_disk(settings: Settings, friend: Friend, path: Path) -> bytes | None:
    """The caption file's bytes as they are now (None when it does not exist): what an edit starts from.
    A caption linked out of the datasets folder is a QbtuiError (`read_for_editing`'s)."""
    captions.check_caption_inside(settings, friend, path)
    return _read(Path(path))


def save_caption(settings: Settings, friend: Friend, path: Path, text: str, *, began_from: bytes | None) -> Edit:
    """Write a caption a person typed (atomically, one trailing newline). `began_from`: the file's bytes
    when the edit began (`caption_on_disk`, None: no file); when the file changed since, ChangedOnDisk
    and nothing is written. A caption linked out of the datasets folder is refused: nothing is read or written."""
    path = Path(path)
    captions.check_caption_inside(settings, friend, path)
    label = f"edit {path.name}"
    before = _read(path)
    if before != began_from:
        raise ChangedOnDisk(
            f"{path.name} changed on disk since you began editing it: your text was not written over it",
            path=path,
            fix="your text stays in the editor: ctrl+s again writes it over the file, esc then d discards it",
        )
    captions.write_caption(path, text)
    change = FileChange(path, before, _read(path))
    changes = (change,) if change.before != change.after else ()
    return Edit(label, (f"saved {path.name}",), tuple(c.path for c in changes), (), UndoRecord(label, changes))


def token_first(settings: Settings, friend: Friend, image: Path | None = None) -> Edit:
    """Put the trigger token first in the photo's caption, or in every caption."""
    label = f"token first in {caption_path_of(image).name}" if image else "token first in every caption"
    paths = _paths(settings, friend, image)
    return _tracked(
        label, settings, friend, paths, lambda: captions.token_first(settings, friend, only=image), f"{friend.token} first"
    )


def init_captions(settings: Settings, friend: Friend, image: Path | None = None) -> Edit:
    """Write the caption template where the photo's (or any) caption is missing or empty."""
    label = f"caption for {image.name}" if image else "missing captions"
    paths = _paths(settings, friend, image)
    return _tracked(
        label, settings, friend, paths, lambda: captions.init_captions(settings, friend, only=image), "template written"
    )


def reencode_caption(settings: Settings, friend: Friend, caption: Path) -> Edit:
    """Rewrite a caption that is not UTF-8 as UTF-8; the original is kept in originals/."""
    caption = Path(caption)
    folder = dataset_dir(settings, friend)
    if caption.parent != folder or caption.suffix.lower() != CAPTION_SUFFIX or caption.is_symlink():
        raise QbtuiError(
            f"{caption} is not a caption in {friend.name}'s training folder", path=caption, fix=f"pick one in {folder}"
        )
    data = read_bytes(caption)
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        return Edit(f"re-encode {caption.name}", (f"{caption.name} is already UTF-8",))
    text = _decode_legacy(data)
    originals = originals_dir(settings, friend)
    originals.mkdir(parents=True, exist_ok=True)
    stem = _cut_to_bytes(caption.stem, MAX_NAME_BYTES - len(NOT_UTF8_SUFFIX + CAPTION_SUFFIX) - len("-99")) + NOT_UTF8_SUFFIX
    kept = originals / (NameBook(originals).free_stem(stem, (CAPTION_SUFFIX,)) + CAPTION_SUFFIX)
    write_bytes_atomic(kept, data)
    captions.write_caption(caption, text)
    label = f"re-encode {caption.name}"
    # Undo puts the original bytes back and drops the copy kept of them.
    changes = (FileChange(kept, None, data), FileChange(caption, data, _read(caption)))
    note = f"re-encoded {caption.name} as UTF-8 (original kept as originals/{kept.name})"
    return Edit(label, (note,), (caption,), (), UndoRecord(label, changes))


def _cut_to_bytes(text: str, limit: int) -> str:
    """`text` cut so its file-system encoding fits in `limit` bytes (whole characters only)."""
    while len(os.fsencode(text)) > limit:
        text = text[:-1]
    return text


def _decode_legacy(data: bytes) -> str:
    for encoding in FALLBACK_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def reencode_captions(settings: Settings, friend: Friend, image: Path | None = None) -> Edit:
    """Re-encode the photo's caption, or every caption that is not UTF-8."""
    bad = [
        problem.path
        for problem in scan_existing(settings, friend).all_problems()
        if problem.code == "caption-not-utf8"
        and problem.path is not None
        and (image is None or problem.path == caption_path_of(image))
    ]
    return combine("re-encode captions", [reencode_caption(settings, friend, path) for path in bad])


def _bulk(label: str, settings: Settings, friend: Friend, change: Callable[[], captions.CaptionChanges], verb: str) -> Edit:
    return _tracked(label, settings, friend, _all_caption_paths(settings, friend), change, verb)


def add_tag(settings: Settings, friend: Friend, tag: str) -> Edit:
    """Append `tag` to every caption lacking it."""
    return _bulk(f"add tag {tag!r}", settings, friend, lambda: captions.add_tag(settings, friend, tag), f"added {tag!r}")


def remove_tag(settings: Settings, friend: Friend, tag: str) -> Edit:
    """Remove `tag` from every caption (never the trigger token)."""
    return _bulk(f"remove tag {tag!r}", settings, friend, lambda: captions.remove_tag(settings, friend, tag), f"removed {tag!r}")


def rename_tag(settings: Settings, friend: Friend, old: str, new: str) -> Edit:
    """Rename a tag in every caption."""
    label = f"rename tag {old!r} to {new!r}"
    return _bulk(label, settings, friend, lambda: captions.rename_tag(settings, friend, old, new), f"renamed {old!r}")


# --- files --------------------------------------------------------------------------
def move_to_originals(settings: Settings, friend: Friend, path: Path) -> Edit:
    """Move a file (a photo with its caption) out of the training folder into originals/."""
    path = Path(path)
    created = _new_originals(settings, friend)
    moves = tuple(move_out(settings, friend, path))
    label = f"move {path.name} to originals"
    names = " and ".join(source.name for source, _target in moves)
    note = f"moved {names} to originals/" + (f" (as {moves[0][1].name})" if moves[0][1].name != path.name else "")
    undo = UndoRecord(label, moves=moves, created_dirs=created)
    return Edit(label, (note,), tuple(source for source, _ in moves), (), undo)


def _new_originals(settings: Settings, friend: Friend) -> tuple[Path, ...]:
    """The friend's `originals/`, when it is not there yet (so the edit about to run creates it)."""
    folder = originals_dir(settings, friend)
    return () if os.path.lexists(folder) else (folder,)


def prepare(
    settings: Settings,
    friend: Friend,
    *,
    image: Path | None = None,
    progress: Progress | None = None,
    workers: int = 2,
    dry_run: bool = False,
    mode: str | None = None,
) -> Edit:
    """Prepare the photo (or every photo) that needs it; the summary counts what happened
    (`.prep` holds the full report). `mode`: "face" or "letterbox" (default: settings.prep_mode)."""
    created = _new_originals(settings, friend)
    report = prepare_friend(settings, friend, workers=workers, progress=progress, only=image, dry_run=dry_run, mode=mode)
    verb = "would prepare" if dry_run else "prepared"
    notes = [f"{verb} {plural(len(report.done), 'photo')} (originals kept in {friend.id}/originals/)"]
    if report.recovered:
        notes.append(f"finished {plural(report.recovered, 'photo')} an interrupted prep left half done")
    label = f"prepare {image.name}" if image else "prepare photos"
    changed = tuple(action.target for action in report.done)
    undo = UndoRecord(label) if dry_run else _prep_undo(label, report, created)
    return Edit(label, tuple(notes), changed, report.skipped, undo, prep=report)


def _prep_undo(label: str, report: PrepReport, created_dirs: tuple[Path, ...] = ()) -> UndoRecord:
    """Undo of a prep: the prepared JPEG goes (while it holds what prep wrote), then the
    caption that followed a renamed photo and the original move back from originals/; a
    caption copied to a split photo goes too."""
    copies = tuple(action.caption_copy[1] for action in report.done if action.caption_copy is not None)
    prepared = tuple(action.target for action in report.done) + copies
    changes = tuple(FileChange(path, None, _read(path)) for path in prepared)
    moves: list[tuple[Path, Path]] = []
    for action in report.done:
        moves.append((action.source, action.kept))
        if action.caption_from is not None and action.caption_to is not None:
            moves.append((action.caption_from, action.caption_to))
    return UndoRecord(label, changes, tuple(moves), created_dirs)


def add_folder(settings: Settings, friend: Friend) -> Edit:
    """Create the friend's training folder."""
    folder = dataset_dir(settings, friend)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QbtuiError(
            f"cannot create the folder: {error.strerror}", path=folder, fix="check datasets_dir in [settings]"
        ) from error
    return Edit("create the training folder", (f"created {folder}",))


# --- fixes --------------------------------------------------------------------------
def combine(label: str, edits: list[Edit], error: QbtuiError | None = None) -> Edit:
    """Several edits as one: notes, changes and undo joined in order."""
    return Edit(
        label,
        tuple(note for edit in edits for note in edit.notes),
        tuple(path for edit in edits for path in edit.changed),
        tuple(problem for edit in edits for problem in edit.skipped),
        UndoRecord(
            label,
            tuple(change for edit in edits for change in edit.undo.changes),
            tuple(move for edit in edits for move in edit.undo.moves),
            tuple(folder for edit in edits for folder in edit.undo.created_dirs),
        ),
        error or next((edit.error for edit in edits if edit.error), None),
        next((edit.prep for edit in edits if edit.prep), None),
    )


def fixable_actions(problems: Iterable[Problem]) -> list[str]:
    """The actions `fix` would apply for these problems, in the order it applies them."""
    found = {problem.action for problem in problems}
    return [action for action in FIX_ORDER if action in found]


def fix(settings: Settings, friend: Friend, image: Path | None = None, *, progress: Progress | None = None) -> Edit:
    """Everything qbtui can fix by itself for the photo (or for all): create the folder,
    prepare, re-encode, write missing captions, put the token first (in that order; moving
    files to originals/ is never part of it). A failing step stops the later ones; what
    the earlier ones did is still in the result (and its undo)."""
    from qbtui.dataset.scan import scan_friend

    status = scan_friend(settings, friend, fingerprints=False)
    if image is None:
        problems = status.all_problems()
    else:
        problems = [problem for row in status.images if row.path == image for problem in row.problems]
    label = f"fix {image.name}" if image else "fix all"
    edits: list[Edit] = []
    try:
        for action in fixable_actions(problems):
            if action == "add-folder":
                edits.append(add_folder(settings, friend))
            elif action == "prep":
                edits.append(prepare(settings, friend, image=image, progress=progress))
                image = _prepared_path(edits[-1], image)
            elif action == "re-encode":
                edits.append(reencode_captions(settings, friend, image))
            elif action == "caption-init":
                edits.append(init_captions(settings, friend, image))
            elif action == "token-first":
                edits.append(token_first(settings, friend, image))
    except QbtuiError as error:
        return combine(label, edits, error)
    if not edits:
        return Edit(label, ("nothing qbtui can fix by itself here",))
    return combine(label, edits)


def _prepared_path(edit: Edit, image: Path | None) -> Path | None:
    """Where the photo is after prep (a PNG becomes a JPEG)."""
    if image is None or edit.prep is None:
        return image
    return next((action.target for action in edit.prep.done if action.source == image), image)


# --- undo ---------------------------------------------------------------------------
def undo(record: UndoRecord) -> UndoResult:
    """Put back what an edit changed, newest first, wherever nobody changed it since (an edit writes
    regular files: a link found there now was put there since, so it is left, never read or replaced)."""
    restored: list[Path] = []
    left: list[Path] = []
    for change in reversed(record.changes):
        if change.path.is_symlink() or _read(change.path) != change.after:
            left.append(change.path)
        elif change.before is None:
            change.path.unlink(missing_ok=True)
            restored.append(change.path)
        else:
            write_bytes_atomic(change.path, change.before)
            restored.append(change.path)
    for source, target in reversed(record.moves):
        if source.exists() or not target.exists():
            left.append(source)
            continue
        os.replace(target, source)
        restored.append(source)
    for folder in record.created_dirs:
        _remove_if_empty(folder)
    return UndoResult(record.label, tuple(restored), tuple(left))


def _remove_if_empty(folder: Path) -> None:
    """Remove a folder an edit created once undo has emptied it; a link or a folder with anything in it stays."""
    if folder.is_symlink() or not folder.is_dir():
        return
    try:
        folder.rmdir()
    except OSError:  # not empty: something else was put there
        return
