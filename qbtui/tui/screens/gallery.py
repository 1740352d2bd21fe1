"""Gallery: every past drawing (newest first) from the drawings index, with its picture and prompt."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from qbtui.draw.gallery import Drawing, read_gallery
from qbtui.printable import printable
from qbtui.tui.host import host
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.steady_footer import SteadyFooter


class GalleryScreen(Screen[None]):
    """Past drawings on the left; the highlighted one's picture and prompt on the right."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="gallery.back"),
        Binding("ctrl+y", "copy", "Copy prompt", id="gallery.copy"),
    ]

    DEFAULT_CSS = """
    GalleryScreen #gallery-body {
        height: 1fr;
    }
    GalleryScreen #gallery-list {
        width: 2fr;
        height: 1fr;
    }
    GalleryScreen #gallery-side {
        width: 3fr;
        height: 1fr;
    }
    GalleryScreen #gallery-prompt {
        height: auto;
        max-height: 6;
        color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.drawings: list[Drawing] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="gallery-body"):
            yield OptionList(id="gallery-list")
            with Vertical(id="gallery-side"):
                yield ImagePreview(id="gallery-preview")
                yield Static("", id="gallery-prompt")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.title = "Drawings"
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        drawings = read_gallery(host(self).workspace.settings)
        self.app.call_from_thread(self._show, drawings)

    def _show(self, drawings: list[Drawing]) -> None:
        self.drawings = drawings
        options = self.query_one("#gallery-list", OptionList)
        options.clear_options()
        if not drawings:
            self.query_one("#gallery-prompt", Static).update(
                Content(f"no drawings yet in {host(self).workspace.settings.drawings_folder}: draw one from the prompt helper")
            )
            return
        options.add_options(
            Option(Content(f"{time.strftime('%m-%d %H:%M', time.localtime(d.t))}  {printable(d.scene)}  #{d.seed}"), id=str(i))
            for i, d in enumerate(drawings)
        )
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        drawing = self.drawings[int(event.option.id or 0)]
        self.query_one("#gallery-preview", ImagePreview).path = drawing.path
        self.query_one("#gallery-prompt", Static).update(Content(f"{printable(drawing.path.name)}\n{printable(drawing.prompt)}"))

    def action_copy(self) -> None:
        options = self.query_one("#gallery-list", OptionList)
        if options.highlighted is None or not self.drawings:
            return
        self.app.copy_to_clipboard(self.drawings[options.highlighted].prompt)
        self.notify("prompt copied to the clipboard", title="Drawings")

    def action_back(self) -> None:
        self.app.pop_screen()
