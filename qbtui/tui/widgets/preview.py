"""Image preview: Kitty or Sixel graphics where the terminal has them, coloured half-blocks elsewhere.

textual-image decides which graphics protocol the terminal speaks with short terminal
queries when it is imported, which must happen before Textual starts reading the
keyboard: `run_app` calls `prepare_image_protocol(settings.image_protocol)` before
`App.run`. Nothing is queried when the setting is "halfcell", when stdin or stdout is
not a terminal, when TERM is dumb, when the terminal reports no size, or inside tmux
with `allow-passthrough` off; those get upper-half blocks whose foreground is the upper
pixel and whose background the lower one, as do tests and terminals without graphics.
Images are decoded and resized in a thread worker, never on the UI thread.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.events import Resize
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from qbtui.dataset.imageinfo import HEIF_SUFFIXES, ensure_heif_opener
from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.runs.written import FileStamp, file_stamp
from qbtui.safefile import open_regular

if TYPE_CHECKING:
    from PIL import Image

IMAGE_PROTOCOLS = ("auto", "halfcell", "sixel", "kitty")
THUMBNAIL_SIDE = 512
UPPER_HALF_BLOCK = "\u2580"
TMUX_PASSTHROUGH_QUERY = ("tmux", "show-options", "-gv", "allow-passthrough")
TMUX_QUERY_TIMEOUT = 1.0
TMUX_NOTICE = "tmux drops Sixel and Kitty graphics while allow-passthrough is off: run `tmux set -g allow-passthrough on`"
# textual-image logs a warning with a traceback here when the terminal ignores its cell-size query.
CELL_SIZE_LOGGER = "textual_image._terminal"

_active_protocol = "halfcell"
_pending_notice: str | None = None


FACE_MARK = (80, 230, 120)


def prepare_image_protocol(setting: str) -> str:
    """Resolve the `image_protocol` setting to "sixel", "kitty" or "halfcell" and remember it.

    Call before `App.run`. "auto" imports textual-image, whose import queries the
    terminal; "sixel" and "kitty" force that protocol; "halfcell" never queries. Any
    setting falls back to "halfcell", printing nothing, where graphics cannot work; when
    the user would have expected graphics, the reason waits for the first `ImagePreview`
    to show it as a notification.
    """
    global _active_protocol, _pending_notice
    if setting not in IMAGE_PROTOCOLS:
        raise QbtuiError(
            f"unknown image_protocol {setting!r}",
            fix=f"set image_protocol in [settings] of registry.toml to one of: {', '.join(IMAGE_PROTOCOLS)}",
        )
    _active_protocol, _pending_notice = _choose_protocol(setting)
    return _active_protocol


def _choose_protocol(setting: str) -> tuple[str, str | None]:
    """The protocol for `setting` and, when it had to fall back to half-blocks unexpectedly, why."""
    if setting == "halfcell":
        return "halfcell", None
    unfit = _why_no_graphics_terminal()
    if unfit is not None:
        notice = None if setting == "auto" else f'image_protocol = "{setting}" needs a graphics terminal, but {unfit}'
        return "halfcell", notice
    if os.environ.get("TMUX") and not _tmux_passes_graphics_through():
        return "halfcell", TMUX_NOTICE
    return _query_terminal(setting)


def _why_no_graphics_terminal() -> str | None:
    """Why querying the terminal is pointless or unsafe here (None when it is fine), asking nothing of it."""
    stdin, stdout = sys.__stdin__, sys.__stdout__
    if stdin is None or stdout is None or not (stdin.isatty() and stdout.isatty()):
        return "stdin or stdout is not a terminal"
    if os.environ.get("TERM", "dumb") in ("", "dumb"):
        return "TERM is dumb"
    columns, rows = os.get_terminal_size(stdout.fileno())
    if not (columns and rows):
        return "the terminal reports no size"
    return None


def _tmux_passes_graphics_through() -> bool:
    """Whether the enclosing tmux forwards the escape sequences textual-image writes."""
    try:
        shown = subprocess.run(
            TMUX_PASSTHROUGH_QUERY,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TMUX_QUERY_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return shown.stdout.strip() in ("on", "all")


def _query_terminal(setting: str) -> tuple[str, str | None]:
    """Import textual-image, which queries the terminal, keeping its warnings off the screen."""
    cell_size_log = logging.getLogger(CELL_SIZE_LOGGER)
    unanswered = logging.handlers.BufferingHandler(capacity=100)
    cell_size_log.addHandler(unanswered)
    try:
        import textual_image.widget  # noqa: F401  (its import measures the terminal's cell size)
        from textual_image.renderable import Image as DetectedRenderable, SixelImage, TGPImage
    except ValueError as error:
        return "halfcell", f"the terminal's answer to textual-image's graphics query was unreadable ({error})"
    finally:
        cell_size_log.removeHandler(unanswered)
    if setting != "auto":
        return setting, None
    detected = {SixelImage: "sixel", TGPImage: "kitty"}.get(DetectedRenderable, "halfcell")
    if detected != "halfcell" and unanswered.buffer:
        return "halfcell", f'the terminal did not report its cell size; set image_protocol = "{detected}" to force {detected}'
    return detected, None


def take_image_protocol_notice() -> str | None:
    """Why previews fell back to half-blocks against the user's expectation, once (then None)."""
    global _pending_notice
    notice, _pending_notice = _pending_notice, None
    return notice


def active_image_protocol() -> str:
    """The protocol `prepare_image_protocol` chose ("halfcell" when it was never called)."""
    return _active_protocol


def load_preview_image(path: Path, max_side: int = THUMBNAIL_SIDE) -> Image.Image:
    """Decode (JPEGs at a reduced scale, HEIC from phones too), apply EXIF rotation, flatten transparency on white,
    shrink to fit `max_side`."""
    from PIL import Image, ImageOps

    if path.suffix.lower() in HEIF_SUFFIXES:
        ensure_heif_opener()
    try:
        with open_regular(path) as handle, Image.open(handle) as opened:
            opened.draft("RGB", (max_side, max_side))
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((max_side, max_side))
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                flattened = Image.new("RGB", image.size, (255, 255, 255))
                flattened.paste(image, mask=image.getchannel("A"))
                return flattened
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise QbtuiError(
            f"cannot read image: {error}", path=path, fix="re-export it as JPEG or PNG, or move it to originals/"
        ) from error


def mark_face(image: Image.Image, face: tuple[float, float, float, float] | None) -> Image.Image:
    """The image with a bright frame around the face box (shares of its width and height)."""
    if face is None:
        return image
    from PIL import ImageDraw

    width, height = image.size
    box = (face[0] * width, face[1] * height, face[2] * width, face[3] * height)
    line = max(2, round(max(width, height) / 80))
    ImageDraw.Draw(image).rectangle(box, outline=FACE_MARK, width=line)
    return image


@dataclass(frozen=True)
class HalfBlocks:
    """A Rich renderable: one row of cells per two rows of pixels."""

    pixels: Image.Image

    @classmethod
    def fit(cls, image: Image.Image, width: int, height: int) -> HalfBlocks:
        """Scale `image` to fit `width` x `height` cells, keeping its aspect ratio.

        A cell is about twice as tall as wide, so each cell holds one pixel across and
        two down, and pixels stay square.
        """
        from PIL import Image

        scale = min(width / image.width, 2 * height / image.height)
        size = (max(1, round(image.width * scale)), max(2, round(image.height * scale)))
        resized = image.resize(size, Image.Resampling.LANCZOS)
        if resized.height % 2:
            padded = Image.new("RGB", (resized.width, resized.height + 1), resized.getpixel((0, resized.height - 1)))
            padded.paste(resized)
            resized = padded
        return cls(resized)

    @property
    def cell_width(self) -> int:
        return self.pixels.width

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.cell_width, self.cell_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        data: Any = self.pixels.load()
        for row in range(0, self.pixels.height, 2):
            for column in range(self.pixels.width):
                upper = Color.from_rgb(*data[column, row])
                lower = Color.from_rgb(*data[column, row + 1])
                yield Segment(UPPER_HALF_BLOCK, Style(color=upper, bgcolor=lower))
            yield Segment.line()


class ImagePreview(Widget):
    """Shows one image file, or a short message when there is none or it cannot be read."""

    DEFAULT_CSS = """
    ImagePreview {
        height: 1fr;
        align: center middle;
    }
    ImagePreview > #preview-art {
        width: auto;
        height: auto;
        color: $text-muted;
    }
    ImagePreview > #preview-art.-message {
        width: 100%;
        max-height: 100%;
        text-wrap: wrap;
        text-overflow: fold;
    }
    ImagePreview > #preview-graphic {
        width: auto;
        height: auto;
        max-width: 100%;
        max-height: 100%;
    }
    """

    path: reactive[Path | None] = reactive(None, init=False)

    def __init__(self, *, protocol: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.protocol = protocol or active_image_protocol()
        self._thumbnail: Image.Image | None = None
        self.shown: Path | None = None
        self.face: tuple[float, float, float, float] | None = None
        self._stamp: FileStamp | None = None  # the file as it was when last decoded

    def compose(self) -> ComposeResult:
        yield Static("no image", id="preview-art")
        if self.protocol != "halfcell":
            yield self._graphic_widget()

    def on_mount(self) -> None:
        notice = take_image_protocol_notice()
        if notice is not None:
            self.notify(notice, title="Image previews use half-blocks", timeout=10, markup=False)

    def _graphic_widget(self) -> Widget:
        from textual_image.widget import SixelImage, TGPImage

        widget_class = SixelImage if self.protocol == "sixel" else TGPImage
        graphic = widget_class(id="preview-graphic")
        graphic.display = False
        return graphic

    def show(self, path: Path | None, face: tuple[float, float, float, float] | None = None) -> None:
        """Show `path` with a frame around `face` (shares of the width and height), if given."""
        if face != self.face:
            self.face = face
            if path is not None and path == self.path:
                self._decode(path, self._cells())
        self.path = path

    def watch_path(self, path: Path | None) -> None:
        self._thumbnail = None
        if path is None:
            self._show_message("no image")
            return
        self._stamp = file_stamp(path)
        self._decode(path, self._cells())

    def reload_if_changed(self) -> None:
        """Decode the picture again when its file changed on disk (another inode, mtime or size)."""
        if self.path is not None and file_stamp(self.path) != self._stamp:
            self.watch_path(self.path)

    def on_resize(self, event: Resize) -> None:
        if self._thumbnail is not None and self.protocol == "halfcell":
            self._rescale(self._thumbnail, self.path, self._cells())

    def _cells(self) -> tuple[int, int]:
        return max(1, self.content_size.width), max(1, self.content_size.height)

    @work(thread=True, exclusive=True, group="preview")
    def _decode(self, path: Path, cells: tuple[int, int]) -> None:
        try:
            thumbnail = mark_face(load_preview_image(path), self.face)
        except QbtuiError as error:
            reason = error.message.replace(f"{path}: ", "")  # the name is on the line above
            self._deliver(self._show_message, f"cannot preview {printable(path.name)}:\n{printable(reason)}")
            return
        art = HalfBlocks.fit(thumbnail, *cells) if self.protocol == "halfcell" else None
        self._deliver(self._show_image, path, thumbnail, art, cells)

    @work(thread=True, exclusive=True, group="preview")
    def _rescale(self, thumbnail: Image.Image, path: Path | None, cells: tuple[int, int]) -> None:
        art = HalfBlocks.fit(thumbnail, *cells)
        self._deliver(self._show_image, path, thumbnail, art, cells)

    def _deliver(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback` on the UI thread, unless the preview was removed meanwhile (a re-laid-out thumbnail)."""
        try:
            app = self.app
        except RuntimeError:  # Textual's NoActiveAppError: the preview left the DOM
            return
        app.call_from_thread(callback, *args)

    def _show_image(self, path: Path, thumbnail: Image.Image, art: HalfBlocks | None, cells: tuple[int, int]) -> None:
        if path != self.path:
            return
        self._thumbnail = thumbnail
        self.shown = path
        if art is not None:
            self.query_one("#preview-art", Static).remove_class("-message").update(art)
            if cells != self._cells():
                self._rescale(thumbnail, path, self._cells())
            return
        self.query_one("#preview-art", Static).display = False
        graphic: Any = self.query_one("#preview-graphic")
        graphic.image = thumbnail
        graphic.display = True

    def _show_message(self, text: str) -> None:
        """`text` wrapped to the preview's width (a narrow preview still names the file and why)."""
        self.shown = None
        art = self.query_one("#preview-art", Static).add_class("-message")
        art.update(text)
        art.display = True
        if self.protocol != "halfcell":
            self.query_one("#preview-graphic").display = False
