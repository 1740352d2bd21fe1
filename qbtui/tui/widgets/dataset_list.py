"""The dataset screen's list: one line per photo with its status, then the loose files
(an orphan caption, a file that is not a photo) with their problem, so each is reachable."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from qbtui.dataset import FriendStatus, ImageStatus, Problem
from qbtui.printable import printable


def _worst(problems: tuple[Problem, ...]) -> tuple[str, str]:
    worst = "error" if any(problem.severity == "error" for problem in problems) else "warning"
    return worst, "✗" if worst == "error" else "!"


def image_line(image: ImageStatus) -> Content:
    """`✓ photo.jpg`, or `✗ photo.png not a JPEG +2` coloured by the worst severity."""
    if not image.problems:
        return Content.from_markup("[$success]✓[/] $name", name=printable(image.path.name))
    worst, marker = _worst(image.problems)
    words = image.problems[0].label + (f" +{len(image.problems) - 1}" if len(image.problems) > 1 else "")
    return Content.from_markup(f"[${worst}]{marker}[/] $name [dim]$words[/]", name=printable(image.path.name), words=words)


def loose_line(problem: Problem) -> Content:
    """`! notes.pdf not an image` for a file in the folder that is not a photo."""
    worst, marker = _worst((problem,))
    name = printable(problem.path.name) if problem.path else "?"
    return Content.from_markup(f"[${worst}]{marker}[/] $name [dim]$words[/]", name=name, words=problem.label)


def loose_files(status: FriendStatus) -> tuple[Problem, ...]:
    """The folder's problems that name one file inside it (they get a row of their own)."""
    return tuple(problem for problem in status.problems if problem.path is not None and problem.path.parent == status.folder)


class DatasetImageList(OptionList):
    """Photos of one friend, then loose files; the highlighted row is the screen's selection."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: tuple[ImageStatus, ...] = ()
        self.loose: tuple[Problem, ...] = ()

    def show_status(self, status: FriendStatus) -> None:
        """Replace the lines, keeping the highlight on the same file (or the same row)."""
        selected = self.selected_path
        row = self.highlighted
        self.images = status.images
        self.loose = loose_files(status)
        self.set_options(
            [Option(image_line(image), id=str(image.path)) for image in self.images]
            + [Option(loose_line(problem), id=f"loose:{problem.path}") for problem in self.loose]
        )
        paths = [image.path for image in self.images] + [problem.path for problem in self.loose]
        if selected in paths:
            self.highlighted = paths.index(selected)
        elif paths:
            self.highlighted = min(row or 0, len(paths) - 1)

    @property
    def selected(self) -> ImageStatus | None:
        """The highlighted photo (None on a loose file's row)."""
        if self.highlighted is None or not 0 <= self.highlighted < len(self.images):
            return None
        return self.images[self.highlighted]

    @property
    def selected_loose(self) -> Problem | None:
        """The highlighted loose file's problem (None on a photo's row)."""
        index = (self.highlighted if self.highlighted is not None else -1) - len(self.images)
        return self.loose[index] if 0 <= index < len(self.loose) else None

    @property
    def selected_path(self) -> Path | None:
        image, loose = self.selected, self.selected_loose
        return image.path if image else loose.path if loose else None

    def next_problem(self) -> Path | None:
        """Highlight the next row with a problem after the current one, wrapping around."""
        flags = [bool(image.problems) for image in self.images] + [True] * len(self.loose)
        count = len(flags)
        start = self.highlighted if self.highlighted is not None else -1
        for step in range(1, count + 1):
            row = (start + step) % count
            if flags[row]:
                self.highlighted = row
                return self.selected_path
        return None
