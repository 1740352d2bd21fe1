"""Captions: read and write atomically, the friend's template, token first, bulk tag edits.

A caption is comma-separated tags; kohya trains on its first line, so tag edits touch
the first line and keep any others. Bulk edits return the files they changed as a
`CaptionChanges` list; a caption that is not UTF-8 is never rewritten (it holds the
user's words): it is left alone and listed in `.skipped` with its fix, as is a caption
that links out of the datasets folder (never read, never replaced: `outside_caption`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from qbtui.atomicfile import write_text_atomic
from qbtui.dataset.guard import check_can_change
from qbtui.dataset.problems import Problem, make_problem
from qbtui.dataset.scan import link_outside_problem, links_outside, scan_existing, token_pattern
from qbtui.errors import QbtuiError
from qbtui.registry import CAPTION_SUFFIX, Friend, Settings
from qbtui.safefile import NotARegularFileError, read_bytes


def read_caption(path: Path) -> str:
    """The caption's text (a UTF-8 BOM dropped); "" when the file does not exist."""
    path = Path(path)
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return ""
    except NotARegularFileError as error:
        raise QbtuiError(f"the caption {error.strerror}", path=path, fix="remove it and write the caption again") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise QbtuiError(
            f"the caption is not UTF-8 text (byte {error.start})",
            path=path,
            fix="re-save it as UTF-8 in your editor",
        ) from None


def outside_caption(settings: Settings, friend: Friend, path: Path) -> Problem | None:
    """The `link-outside` problem when the caption `path` is a link resolving outside the datasets
    folder (the rule `check` uses): such a caption is never read, written or replaced. None for a
    regular file, a missing one (a dangling link included) or a link inside the datasets folder."""
    path = Path(path)
    if path.exists() and links_outside(path, settings.datasets_dir.resolve()):
        return link_outside_problem(path, friend.id)
    return None


def check_caption_inside(settings: Settings, friend: Friend, path: Path) -> None:
    """QbtuiError naming the caption, its link's target and the fix when `outside_caption` refuses it."""
    problem = outside_caption(settings, friend, path)
    if problem is not None:
        raise QbtuiError(f"{Path(path).name} cannot be edited: it {problem.detail}", path=Path(path), fix=problem.fix)


def write_caption(path: Path, text: str) -> None:
    """Write a caption atomically, trimmed, ending with one newline."""
    write_text_atomic(Path(path), text.strip() + "\n")


def split_tags(line: str) -> list[str]:
    """The non-empty, trimmed tags of one caption line."""
    return [tag.strip() for tag in line.split(",") if tag.strip()]


def join_tags(tags: list[str]) -> str:
    return ", ".join(tags)


def _with_first_line(text: str, first_line: str) -> str:
    lines = text.strip().splitlines()
    return "\n".join([first_line, *lines[1:]])


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def lead_tag(friend: Friend) -> str:
    """The tag captions start with: the template's first, `qb_peter person`."""
    return split_tags(friend.caption_template)[0]


def put_token_first(line: str, friend: Friend) -> str:
    """The caption line with the trigger token leading it; `line` itself when it already does.

    A tag that starts with the token moves to the front. Otherwise the lead tag
    (`qb_ben person`) is put first and taken out of the others, with the token and a
    repeated class word: `smiling qb_ben person, glasses` -> `qb_ben person, smiling, glasses`,
    `person, man` -> `qb_ben person, man`.
    """
    pattern = token_pattern(friend.token)
    tags = split_tags(line)
    if tags and pattern.match(tags[0]):
        return line
    holder = next((index for index, tag in enumerate(tags) if pattern.match(tag)), None)
    if holder is not None:
        first, rest = tags[holder], tags[:holder] + tags[holder + 1 :]
    else:
        first = lead_tag(friend)
        words = r"\s+".join(map(re.escape, first.split()))
        lead_words = re.compile(rf"(?<![\w]){words}(?![\w])", re.IGNORECASE)
        rest = [" ".join(pattern.sub("", lead_words.sub("", tag)).split()) for tag in tags]
    class_words = " ".join(pattern.sub("", first).split()).lower()
    kept: list[str] = []
    for tag in rest:
        folded = tag.lower()
        if tag and folded not in (first.lower(), class_words) and all(folded != seen.lower() for seen in kept):
            kept.append(tag)
    return join_tags([first, *kept])


def caption_with_token_first(text: str, friend: Friend) -> str:
    """A whole caption's text with `put_token_first` applied to its first line (the one
    kohya trains on; the others kept): the rule `t`, ctrl+t and Fix all share."""
    return _with_first_line(text, put_token_first(_first_line(text), friend))


class CaptionChanges(list[Path]):
    """The caption files an edit changed (a plain list of Paths), plus `.skipped`: a
    caption-not-utf8 or link-outside Problem for each caption left alone."""

    def __init__(self, changed: Iterable[Path] = (), skipped: Iterable[Problem] = ()) -> None:
        super().__init__(changed)
        self.skipped: tuple[Problem, ...] = tuple(skipped)


class _Captions:
    """The friend's existing captions read as text, and those that could not be."""

    def __init__(self, settings: Settings, friend: Friend, only: Path | None = None) -> None:
        self.settings = settings
        self.friend = friend
        self.texts: dict[Path, str] = {}
        self.skipped: list[Problem] = []
        for path in _caption_paths(settings, friend, only):
            outside = outside_caption(settings, friend, path)
            if outside is not None:
                self.skipped.append(outside)
                continue
            if not path.exists():
                continue
            try:
                self.texts[path] = read_caption(path)
            except QbtuiError as error:
                self.skipped.append(make_problem("caption-not-utf8", f"{path}: {error.message}; left unchanged", path, friend.id))

    def rewrite_first_lines(self, edit: Callable[[str], str]) -> CaptionChanges:
        changed: list[Path] = []
        for path, text in self.texts.items():
            old_line = _first_line(text)
            new_line = edit(old_line)
            if new_line != old_line:
                if not changed:
                    _check_writable(self.settings, self.friend, path.parent)
                write_caption(path, _with_first_line(text, new_line))
                changed.append(path)
        return CaptionChanges(changed, self.skipped)


def _caption_paths(settings: Settings, friend: Friend, only: Path | None = None) -> list[Path]:
    """The caption path of every image (or of the photo `only`), whether or not the file exists."""
    status = scan_existing(settings, friend)
    images = [image for image in status.images if only is None or image.path == only]
    return list(dict.fromkeys(image.path.with_suffix(CAPTION_SUFFIX) for image in images))


def _check_writable(settings: Settings, friend: Friend, folder: Path) -> None:
    """QbtuiError when the training folder links out of the datasets folder or is read-only."""
    check_can_change(settings, friend, folder, originals=False)


def init_captions(settings: Settings, friend: Friend, only: Path | None = None) -> CaptionChanges:
    """Write the friend's template where a caption is missing or empty (every photo's, or the
    photo `only`'s); returns those files."""
    captions = _Captions(settings, friend, only)
    unreadable = {problem.path for problem in captions.skipped}
    written: list[Path] = []
    for path in _caption_paths(settings, friend, only):
        if path in unreadable or captions.texts.get(path, "").strip():
            continue
        if not written:
            _check_writable(settings, friend, path.parent)
        write_caption(path, friend.caption_template)
        written.append(path)
    return CaptionChanges(written, captions.skipped)


def token_first(settings: Settings, friend: Friend, only: Path | None = None) -> CaptionChanges:
    """Put the trigger token first in every caption (or the photo `only`'s); returns the files changed."""
    return _Captions(settings, friend, only).rewrite_first_lines(lambda line: put_token_first(line, friend) if line else line)


def tag_problem(tag: str) -> str | None:
    """Why `tag` cannot be one caption tag, or None when it can."""
    tag = tag.strip()
    if not tag:
        return "type a tag"
    if "," in tag or "\n" in tag:
        return f"{tag!r} holds a comma or a line break: one tag at a time"
    return None


def _checked_tag(tag: str) -> str:
    problem = tag_problem(tag)
    if problem is not None:
        raise QbtuiError(f"{tag.strip()!r} is not a single tag: {problem}", fix="give one tag without commas, e.g. 'glasses'")
    return tag.strip()


def add_tag(settings: Settings, friend: Friend, tag: str) -> CaptionChanges:
    """Append `tag` to every caption that lacks it; returns the files changed."""
    tag = _checked_tag(tag)

    def edit(line: str) -> str:
        tags = split_tags(line)
        if any(existing.lower() == tag.lower() for existing in tags):
            return line
        return join_tags([*tags, tag])

    return _Captions(settings, friend).rewrite_first_lines(edit)


def remove_tag(settings: Settings, friend: Friend, tag: str) -> CaptionChanges:
    """Remove `tag` (any case) from every caption; the trigger token cannot be removed."""
    tag = _checked_tag(tag)
    if token_pattern(friend.token).search(tag):
        raise QbtuiError(
            f"{tag!r} holds the trigger token {friend.token}",
            fix="rename the tag instead, keeping the token, or edit single captions",
        )

    def edit(line: str) -> str:
        tags = split_tags(line)
        kept = [existing for existing in tags if existing.lower() != tag.lower()]
        return join_tags(kept) if len(kept) != len(tags) else line

    return _Captions(settings, friend).rewrite_first_lines(edit)


def rename_tag(settings: Settings, friend: Friend, old: str, new: str) -> CaptionChanges:
    """Rename a tag in every caption (merging with `new` where both are present)."""
    old, new = _checked_tag(old), _checked_tag(new)
    pattern = token_pattern(friend.token)
    if pattern.search(old) and not pattern.search(new):
        raise QbtuiError(
            f"renaming {old!r} to {new!r} would drop the trigger token {friend.token}",
            fix=f"keep {friend.token} in the new name",
        )

    def edit(line: str) -> str:
        tags = split_tags(line)
        if not any(existing.lower() == old.lower() for existing in tags):
            return line
        renamed: list[str] = []
        for existing in tags:
            candidate = new if existing.lower() == old.lower() else existing
            if all(candidate.lower() != seen.lower() for seen in renamed):
                renamed.append(candidate)
        return join_tags(renamed)

    return _Captions(settings, friend).rewrite_first_lines(edit)


def tag_frequencies(settings: Settings, friend: Friend) -> list[tuple[str, int]]:
    """How many captions use each tag (any case), most used first; unreadable captions are left out."""
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for text in _Captions(settings, friend).texts.values():
        for tag in dict.fromkeys(tag.lower() for tag in split_tags(_first_line(text))):
            counts[tag] += 1
        for tag in split_tags(_first_line(text)):
            spelling.setdefault(tag.lower(), tag)
    return sorted(((spelling[key], count) for key, count in counts.items()), key=lambda item: (-item[1], item[0].lower()))
