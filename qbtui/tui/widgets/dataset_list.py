"""The dataset screen's image list: one line per photo with its status (ok or problem codes)."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from qbtui.dataset import FriendStatus, ImageStatus


def image_line(image: ImageStatus) -> Content:
    """`✓ photo.jpg`, or `✗ photo.png not-jpeg +2` coloured by the worst severity."""
    if not image.problems:
        return Content.from_markup("[$success]✓[/] $name", name=image.path.name)
    worst = "error" if any(problem.severity == "error" for problem in image.problems) else "warning"
    marker = "✗" if worst == "error" else "!"
    codes = image.problems[0].code + (f" +{len(image.problems) - 1}" if len(image.problems) > 1 else "")
    return Content.from_markup(f"[${worst}]{marker}[/] $name [dim]$codes[/]", name=image.path.name, codes=codes)


class DatasetImageList(OptionList):
    """Photos of one friend; the highlighted one is the screen's selection."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: tuple[ImageStatus, ...] = ()

    def show_status(self, status: FriendStatus) -> None:
        """Replace the lines, keeping the highlight on the same file (or the same row)."""
        selected = self.selected_path
        row = self.highlighted
        self.images = status.images
        self.set_options(Option(image_line(image), id=str(image.path)) for image in self.images)
        paths = [image.path for image in self.images]
        if selected in paths:
            self.highlighted = paths.index(selected)
        elif self.images:
            self.highlighted = min(row or 0, len(self.images) - 1)

    @property
    def selected(self) -> ImageStatus | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self.images):
            return None
        return self.images[self.highlighted]

    @property
    def selected_path(self) -> Path | None:
        image = self.selected
        return image.path if image else None

    def next_problem(self) -> ImageStatus | None:
        """Highlight the next photo with a problem after the current one, wrapping around."""
        count = len(self.images)
        start = self.highlighted if self.highlighted is not None else -1
        for step in range(1, count + 1):
            row = (start + step) % count
            if self.images[row].problems:
                self.highlighted = row
                return self.images[row]
        return None
