"""Prepare a friend's photos: every image that is not a clean 512x512 JPEG becomes one.

Nothing is deleted or overwritten in place. Per photo, in this order:
  1. the new JPEG is written to a hidden temp file in the training folder and fsynced;
  2. a journal (`.qbtui-prep-<id>.json`) records source, target, kept and caption moves;
  3. the original moves to `<datasets_dir>/<id>/originals/` (os.replace; a clash gets a new name);
  4. the temp file is renamed to the target name; the caption follows a renamed photo
     (a photo split off a stem another photo keeps gets a copy of the caption);
  5. the journal is removed.
A kill at any point leaves the photo untouched (steps 1-2: the next run discards the
temp) or its original kept in `originals/`, with the next run finishing steps 4-5 from
the journal. One prep per friend at a time (an flock on `<id>/.qbtui-prep.lock`).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qbtui.atomicfile import TEMP_SUFFIX, fsync_dir, is_temp_file, write_bytes_atomic, write_text_atomic
from qbtui.dataset.guard import check_can_change, check_inside, unwritable_error
from qbtui.dataset.prep_pool import WorkerDied, render_in_workers
from qbtui.dataset.prep_worker import render_or_error
from qbtui.dataset.problems import Problem, make_problem
from qbtui.dataset.scan import FriendStatus, scan_existing
from qbtui.errors import QbtuiError
from qbtui.registry import CAPTION_SUFFIX, Friend, Settings, friend_root, originals_dir
from qbtui.safefile import NotARegularFileError, open_lock, read_bytes, read_text

JOURNAL_PREFIX = ".qbtui-prep-"
LOCK_NAME = ".qbtui-prep.lock"
ORIGINALS_NAME = "originals"
PREP_CODES = frozenset({"not-512", "not-jpeg", "bad-mode", "transparency", "exif-rotation", "stem-clash"})
SKIP_CODES = frozenset({"unreadable", "zero-bytes", "decompression-bomb"})
JOURNAL_KEYS = frozenset({"source", "temp", "target", "kept", "caption_from", "caption_to"})

Progress = Callable[[int, int, Path], object]


@dataclass(frozen=True)
class PrepAction:
    """One photo to prepare: where it goes, where its original is kept, why."""

    source: Path
    target: Path
    kept: Path
    caption_from: Path | None
    caption_to: Path | None
    reasons: tuple[str, ...]
    frame: tuple[int, int, int, int] | None = None  # the face crop square; None: letterbox
    framing: str = "letterbox"
    caption_copy: tuple[Path, Path] | None = None  # (caption, its copy) for a photo split off a shared stem


@dataclass(frozen=True)
class PrepReport:
    """What prep did (or, with dry_run, would do)."""

    friend_id: str
    dry_run: bool
    done: tuple[PrepAction, ...]
    skipped: tuple[Problem, ...]
    unchanged: int
    recovered: int

    @property
    def changed(self) -> bool:
        return bool(self.done) or self.recovered > 0


def prepare_friend(
    settings: Settings,
    friend: Friend,
    *,
    dry_run: bool = False,
    workers: int = 2,
    progress: Progress | None = None,
    only: Path | None = None,
    mode: str | None = None,
) -> PrepReport:
    """Prepare every photo of the friend that needs it (or only the photo `only`); bad files
    are reported and skipped. `progress(done, total, path)` follows each photo.

    `mode` "face" (default: settings.prep_mode) crops a square around the friend's face;
    "letterbox" (and photos without a face) fit the whole photo onto white.
    """
    from qbtui.dataset.face_prep import with_face_frames

    mode = mode or settings.prep_mode
    status = scan_existing(settings, friend)
    if dry_run:
        check_inside(settings, friend, status.folder)
        actions, skipped = plan_prep(status, originals_dir(settings, friend), only)
        actions = with_face_frames(actions, status, mode, workers)
        return PrepReport(friend.id, True, tuple(actions), tuple(skipped), status.image_count - len(actions) - len(skipped), 0)
    check_can_change(settings, friend, status.folder)
    try:
        with _prep_lock(friend_root(settings, friend)):
            recovered, journal_problems = recover_interrupted(status.folder, friend.id)
            status = scan_existing(settings, friend)
            actions, skipped = plan_prep(status, originals_dir(settings, friend), only)
            actions = with_face_frames(actions, status, mode, workers)
            done, failed = _execute(actions, workers, progress, friend.id)
    except PermissionError as error:
        raise unwritable_error(Path(error.filename or status.folder).parent, friend.id) from None
    unchanged = status.image_count - len(actions) - len(skipped)
    problems = tuple(journal_problems) + tuple(skipped) + tuple(failed)
    return PrepReport(friend.id, False, tuple(done), problems, unchanged, recovered)


@contextmanager
def _prep_lock(root: Path) -> Iterator[None]:
    """Hold `<root>/.qbtui-prep.lock` (an flock); the file is removed again on the way out,
    whatever happened. A lock file removed by the holder before we locked it is not a lock:
    its inode no longer matches the path, so we report a concurrent prep."""
    path = root / LOCK_NAME
    try:
        descriptor = open_lock(path)
    except NotARegularFileError as error:
        raise QbtuiError(f"prep's lock file {error.strerror}", path=path, fix="remove it: qbtui creates it") from None
    with os.fdopen(descriptor, "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not path.exists() or not os.path.samestat(os.fstat(handle.fileno()), path.stat()):
                raise BlockingIOError
        except BlockingIOError:
            raise QbtuiError(
                "another prep of this friend is running", path=root, fix="wait for it to finish, then run prep again"
            ) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


class NameBook:
    """Free file names in a folder, remembering the ones already promised (case-insensitive)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = {path.name.lower() for path in folder.iterdir()} if folder.is_dir() else set()

    def is_free(self, name: str) -> bool:
        return name.lower() not in self.taken

    def claim(self, name: str) -> None:
        self.taken.add(name.lower())

    def free_stem(self, stem: str, suffixes: tuple[str, ...]) -> str:
        """`stem`, else `stem-2`, `stem-3`... such that every `stem+suffix` is free; claimed."""
        candidate, number = stem, 1
        while not all(self.is_free(candidate + suffix) for suffix in suffixes):
            number += 1
            candidate = f"{stem}-{number}"
        for suffix in suffixes:
            self.claim(candidate + suffix)
        return candidate


def plan_prep(status: FriendStatus, originals: Path, only: Path | None = None) -> tuple[list[PrepAction], list[Problem]]:
    """The photos to prepare (all, or only the photo `only`), with targets and kept names
    chosen; unreadable ones skipped."""
    folder = status.folder
    names = NameBook(folder)
    kept_names = NameBook(originals)
    by_stem: dict[str, list[Path]] = {}
    for image in status.images:
        by_stem.setdefault(image.path.stem, []).append(image.path)
    actions: list[PrepAction] = []
    skipped: list[Problem] = []
    for image in status.images:
        codes = {problem.code for problem in image.problems}
        if only is not None and image.path != only:
            continue
        if codes & SKIP_CODES:
            skipped.extend(problem for problem in image.problems if problem.code in SKIP_CODES)
            continue
        source = image.path
        same_stem = by_stem[source.stem]
        keeper = _keeper(same_stem)
        if source == keeper:
            codes.discard("stem-clash")
        reasons = tuple(sorted(codes & PREP_CODES))
        if not reasons:
            continue
        if source == keeper and (source.suffix.lower() == ".jpg" or names.is_free(source.stem + ".jpg")):
            target = folder / (source.stem + ".jpg")
            names.claim(target.name)
            caption_from = caption_to = None
            caption_copy = None
        else:
            stem = names.free_stem(source.stem, (".jpg", CAPTION_SUFFIX))
            target = folder / (stem + ".jpg")
            caption = source.with_suffix(CAPTION_SUFFIX)
            moves_caption = len(same_stem) == 1 and image.caption_path is not None
            caption_from = caption if moves_caption else None
            caption_to = target.with_suffix(CAPTION_SUFFIX) if moves_caption else None
            shared = image.caption_path if not moves_caption else None
            caption_copy = (shared, target.with_suffix(CAPTION_SUFFIX)) if shared is not None else None
        kept = originals / _kept_name(kept_names, source)
        actions.append(PrepAction(source, target, kept, caption_from, caption_to, reasons, caption_copy=caption_copy))
    return actions, skipped


def _keeper(same_stem: list[Path]) -> Path:
    """Of photos sharing a stem, the one that keeps it: the .jpg if any, else the first."""
    return next((path for path in same_stem if path.suffix.lower() == ".jpg"), same_stem[0])


def _kept_name(book: NameBook, source: Path) -> str:
    return book.free_stem(source.stem, (source.suffix,)) + source.suffix


def _execute(
    actions: list[PrepAction], workers: int, progress: Progress | None, friend_id: str
) -> tuple[list[PrepAction], list[Problem]]:
    done: list[PrepAction] = []
    failed: list[Problem] = []
    try:
        for count, (index, rendered) in enumerate(_render_all(actions, workers), start=1):
            action = actions[index]
            if isinstance(rendered, bytes):
                done.append(commit_prepared(action, rendered))
            else:
                failed.append(
                    make_problem("unreadable", f"{action.source}: could not be prepared: {rendered}", action.source, friend_id)
                )
            if progress is not None:
                progress(count, len(actions), action.source)
    except WorkerDied as error:
        raise QbtuiError(
            f"a worker process died after {len(done)} of {len(actions)} photos ({error}; out of memory?)",
            path=actions[0].source.parent,
            fix=f"run `qbtui prep {friend_id} --workers 1`; the photos already prepared are kept",
        ) from None
    return done, failed


def _render_all(actions: list[PrepAction], workers: int) -> Iterator[tuple[int, bytes | str]]:
    """(index into `actions`, JPEG or error) per photo: in this process for one photo or one
    worker, else in worker processes (see prep_pool), in the order they finish."""
    sources = [action.source for action in actions]
    frames = [action.frame for action in actions]
    if workers <= 1 or len(sources) < 2:
        yield from enumerate(map(render_or_error, sources, frames))
        return
    yield from render_in_workers(sources, workers, frames)


def commit_prepared(action: PrepAction, jpeg: bytes) -> PrepAction:
    """Put the prepared JPEG in place and keep the original, in the crash-safe order."""
    folder = action.source.parent
    token = secrets.token_hex(6)
    temp = folder / f"{JOURNAL_PREFIX}{token}.jpg.qbtui-tmp"
    journal = folder / f"{JOURNAL_PREFIX}{token}.json"
    target = action.target
    if target != action.source and target.exists() and not target.samefile(action.source):
        target = folder / (NameBook(folder).free_stem(target.stem, (".jpg", CAPTION_SUFFIX)) + ".jpg")
    caption_to = target.with_suffix(CAPTION_SUFFIX) if action.caption_from is not None else None
    with open(temp, "xb") as handle:
        handle.write(jpeg)
        handle.flush()
        os.fsync(handle.fileno())
    record = {
        "source": action.source.name,
        "temp": temp.name,
        "target": target.name,
        "kept": f"{action.kept.parent.name}/{action.kept.name}",
        "caption_from": action.caption_from.name if action.caption_from else None,
        "caption_to": caption_to.name if caption_to else None,
    }
    write_text_atomic(journal, json.dumps(record))
    action.kept.parent.mkdir(parents=True, exist_ok=True)
    os.replace(action.source, action.kept)
    fsync_dir(action.kept.parent)
    _finish(_journal_paths(folder, journal, record))
    journal.unlink()
    caption_copy = _copy_caption(action.caption_copy, target)
    fsync_dir(folder)
    return PrepAction(
        action.source,
        target,
        action.kept,
        action.caption_from,
        caption_to,
        action.reasons,
        action.frame,
        action.framing,
        caption_copy,
    )


def _copy_caption(planned: tuple[Path, Path] | None, target: Path) -> tuple[Path, Path] | None:
    """Give a photo split off a shared stem a copy of that stem's caption (never over an
    existing caption): the one rule prep and Fix all share, so the split photo is not left
    without a caption. The (caption, copy) written, or None."""
    if planned is None:
        return None
    caption, copy = planned[0], target.with_suffix(CAPTION_SUFFIX)
    if copy.exists() or not caption.is_file() or caption.is_symlink():
        return None
    write_bytes_atomic(copy, read_bytes(caption))
    return caption, copy


def _finish(paths: dict[str, Path | None]) -> None:
    """Steps 4 and 5 of a journal whose original is already kept."""
    temp, target = paths["temp"], paths["target"]
    assert temp is not None and target is not None
    if temp.exists():
        if target.exists():
            target = target.with_name(NameBook(target.parent).free_stem(target.stem, (".jpg", CAPTION_SUFFIX)) + ".jpg")
        os.replace(temp, target)
    caption_from, caption_to = paths["caption_from"], paths["caption_to"]
    if caption_from is not None and caption_to is not None and caption_from.exists() and not caption_to.exists():
        os.replace(caption_from, caption_to)


class ForeignJournal(ValueError):
    """A journal file qbtui did not write as it stands: unreadable, malformed or naming foreign files."""


def _journal_paths(folder: Path, journal: Path, record: object) -> dict[str, Path | None]:
    """The journal's files as paths, each checked to be one qbtui created in this friend's folder.

    Names are relative (a file of the training folder; `kept` one of `originals/`), their
    folders must resolve there (a link to a file is moved or removed as a link, never
    followed); the temp file must be the journal's own. Anything else raises
    ForeignJournal, and the journal is then left alone.
    """
    if not isinstance(record, dict) or set(record) != JOURNAL_KEYS:
        raise ForeignJournal(f"it must hold exactly the keys {', '.join(sorted(JOURNAL_KEYS))}")
    token = journal.name.removeprefix(JOURNAL_PREFIX).removesuffix(".json")
    if (record["caption_from"] is None) != (record["caption_to"] is None):
        raise ForeignJournal("caption_from and caption_to must both be set or both be null")
    real_folder = folder.resolve()
    paths: dict[str, Path | None] = {}
    for key in sorted(JOURNAL_KEYS):
        value = record[key]
        if value is None and key.startswith("caption"):
            paths[key] = None
            continue
        if not isinstance(value, str):
            raise ForeignJournal(f"{key} must be a file name, not {value!r}")
        base = folder.parent / ORIGINALS_NAME if key == "kept" else folder
        if Path(value).is_absolute() and Path(value).parent == base:
            value = str(Path(value).relative_to(folder.parent if key == "kept" else folder))
        parts = value.split("/")
        expected = [ORIGINALS_NAME, parts[-1]] if key == "kept" else [parts[-1]]
        if parts != expected or parts[-1] in ("", ".", "..") or "\0" in value:
            where = f"{ORIGINALS_NAME}/NAME" if key == "kept" else "a file name of the training folder"
            raise ForeignJournal(f"{key} {value!r} is not {where}")
        real_base = real_folder.parent / ORIGINALS_NAME if key == "kept" else real_folder
        if os.path.realpath(base) != str(real_base):
            raise ForeignJournal(f"{key} {value!r} lies in a linked folder, outside the friend's folder")
        paths[key] = base / parts[-1]
    temp = paths["temp"]
    if temp is None or temp.name != f"{JOURNAL_PREFIX}{token}.jpg{TEMP_SUFFIX}":
        raise ForeignJournal(f"its temp file {record['temp']!r} is not the one this journal's prep writes")
    return paths


def _journal_problem(journal: Path, reason: str, friend_id: str) -> Problem:
    return make_problem(
        "bad-journal",
        f"{journal}: not a prep journal qbtui wrote ({reason}); left alone",
        journal,
        friend_id,
        fix=f"delete it (`rm {journal}`) if no prep of yours was interrupted; qbtui does not use it",
    )


def recover_interrupted(folder: Path, friend_id: str = "") -> tuple[int, list[Problem]]:
    """Finish or undo preps a crash interrupted: how many photos were finished, and a
    `bad-journal` problem for each journal left alone (malformed, or naming files qbtui
    did not create in this friend's folder)."""
    finished = 0
    problems: list[Problem] = []
    for journal in sorted(folder.glob(f"{JOURNAL_PREFIX}*.json")):
        try:
            if not journal.is_file() or journal.is_symlink():
                raise ForeignJournal("it is not a plain file")
            paths = _journal_paths(folder, journal, json.loads(read_text(journal)))
        except (OSError, ValueError) as error:
            problems.append(_journal_problem(journal, str(error), friend_id))
            continue
        kept, temp = paths["kept"], paths["temp"]
        assert kept is not None and temp is not None
        if kept.exists():
            _finish(paths)
            finished += 1
        else:
            temp.unlink(missing_ok=True)
        journal.unlink()
    for leftover in folder.iterdir():
        if JOURNAL_PREFIX in leftover.name and is_temp_file(leftover.name) and not leftover.is_symlink():
            leftover.unlink(missing_ok=True)
    fsync_dir(folder)
    return finished, problems


def move_to_originals(settings: Settings, friend: Friend, path: Path) -> Path:
    """Move a file out of the training folder into `originals/` (a clash gets a new name).

    An image takes its caption along unless another photo shares its stem. Returns
    the image's new path.
    """
    return move_out(settings, friend, path)[0][1]


def move_out(settings: Settings, friend: Friend, path: Path) -> list[tuple[Path, Path]]:
    """`move_to_originals`, returning every (from, to) move made: the file first, then its caption."""
    path = Path(path)
    root = friend_root(settings, friend)
    if path.parent.parent != root or not path.parent.name.endswith(f"_{friend.id}"):
        raise QbtuiError(f"{path} is not in {friend.name}'s training folder", path=path, fix=f"pick a file under {root}")
    if not path.is_file():
        raise QbtuiError(f"{path} does not exist", path=path, fix="rescan the dataset and pick an existing file")
    check_can_change(settings, friend, path.parent)
    originals = originals_dir(settings, friend)
    originals.mkdir(parents=True, exist_ok=True)
    book = NameBook(originals)
    kept = originals / _kept_name(book, path)
    caption = path.with_suffix(CAPTION_SUFFIX)
    takes_caption = (
        path.suffix.lower() != CAPTION_SUFFIX
        and caption.exists()
        and not any(other != path and other.stem == path.stem and other != caption for other in path.parent.iterdir())
    )
    os.replace(path, kept)
    moves = [(path, kept)]
    if takes_caption:
        kept_caption = originals / _kept_name(book, kept.with_suffix(CAPTION_SUFFIX))
        os.replace(caption, kept_caption)
        moves.append((caption, kept_caption))
    fsync_dir(originals)
    fsync_dir(path.parent)
    return moves
