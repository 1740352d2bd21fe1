"""A yes/no question before the dataset screen moves files (y or enter: yes; n or escape: no)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True when the user agrees."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen > #confirm {
        width: 60;
        border: round $warning;
    }
    ConfirmScreen #confirm-question {
        height: auto;
        margin-bottom: 1;
    }
    ConfirmScreen #confirm-buttons {
        height: auto;
        align-horizontal: right;
    }
    ConfirmScreen Button {
        margin-left: 1;
        min-width: 8;
    }
    """

    def __init__(self, question: str, *, title: str = "Are you sure?") -> None:
        super().__init__()
        self.question = question
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog") as box:
            box.border_title = self.title_text
            yield Static(Content(self.question), id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                for button in (Button("No (n)", id="confirm-no"), Button("Yes (y)", variant="warning", id="confirm-yes")):
                    button.can_focus = False
                    yield button

    @on(Button.Pressed, "#confirm-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, agreed: bool) -> None:
        self.dismiss(agreed)
