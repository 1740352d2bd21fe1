"""Save / Discard / Cancel before unsaved text would be lost (s, d; escape cancels)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class UnsavedScreen(ModalScreen[str]):
    """Dismisses with "save", "discard" or "cancel"."""

    BINDINGS = [
        Binding("s,ctrl+s", "answer('save')", "Save", id="unsaved.save"),
        Binding("d", "answer('discard')", "Discard", id="unsaved.discard"),
        Binding("escape,c", "answer('cancel')", "Cancel", id="unsaved.cancel"),
    ]

    DEFAULT_CSS = """
    UnsavedScreen {
        align: center middle;
    }
    UnsavedScreen > #unsaved {
        width: 60;
        border: round $warning;
    }
    UnsavedScreen #unsaved-question {
        height: auto;
        margin-bottom: 1;
    }
    UnsavedScreen #unsaved-buttons {
        height: auto;
        align-horizontal: right;
    }
    UnsavedScreen Button {
        margin-left: 1;
        min-width: 8;
    }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name_shown = name

    def compose(self) -> ComposeResult:
        with Vertical(id="unsaved", classes="dialog") as box:
            box.border_title = "Unsaved caption"
            question = f"{self.name_shown} has changes that are not saved.\nSave them, discard them, or go back to editing?"
            yield Static(Content(question), id="unsaved-question")
            with Horizontal(id="unsaved-buttons"):
                buttons = (
                    Button("Cancel (esc)", id="unsaved-cancel"),
                    Button("Discard (d)", variant="error", id="unsaved-discard"),
                    Button("Save (s)", variant="primary", id="unsaved-save"),
                )
                for button in buttons:
                    button.can_focus = False
                    yield button

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "unsaved-cancel").removeprefix("unsaved-"))

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)
