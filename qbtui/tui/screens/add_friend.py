"""Add friend: a modal asking name, token, repeats and description; the registry validates.

Keystrokes are never lost or merged, however fast they come: `tab`/`shift+tab` (and
`enter`, which only moves to the next field) are priority bindings, so focus moves
before the keys typed after them are delivered; the friend is added only on `ctrl+s`
(or the Add button), on the UI thread, so a refusal is on screen (and the name
selected, ready to be typed over) before the next key is handled. Keys typed while the
dialog opens go to the Name field (`TypeAhead`).
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.registry import (
    DEFAULT_REPEATS,
    Friend,
    NameTooLongError,
    Settings,
    dataset_dir,
    default_token,
)
from qbtui.tui.host import host
from qbtui.tui.typeahead import TypeAhead


class AddFriendScreen(ModalScreen[str | None], TypeAhead[str | None]):
    """Dismisses with the new friend's id, or None when cancelled."""

    AUTO_FOCUS = FIRST_FIELD = "#add-name"

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="add_friend.cancel"),
        Binding("ctrl+s", "submit", "Add", id="add_friend.submit"),
        Binding("tab,enter", "app.focus_next", "Next field", show=False, priority=True, id="add_friend.next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True, id="add_friend.previous"),
    ]

    DEFAULT_CSS = """
    AddFriendScreen > #add-friend {
        width: 70;
    }
    AddFriendScreen .field {
        height: 1;
        margin-top: 1;
        color: $text-muted;
    }
    AddFriendScreen Input, AddFriendScreen Input:focus {
        height: 1;
        border: none;
        padding: 0 1;
        background: $panel;
    }
    AddFriendScreen Input:focus {
        background: $primary 25%;
    }
    AddFriendScreen #add-hint {
        color: $text-muted;
        height: auto;
    }
    AddFriendScreen #add-error {
        color: $error;
        height: auto;
    }
    AddFriendScreen #add-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    AddFriendScreen Button {
        margin-left: 1;
        min-width: 10;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="add-friend", classes="dialog") as box:
            box.border_title = "Add a friend"
            yield Label("Name", classes="field")
            yield Input(placeholder="Peter", id="add-name")
            yield Label("Trigger token (empty: the default below)", classes="field")
            yield Input(placeholder="from the name", id="add-token")
            yield Label("Repeats per image", classes="field")
            yield Input(str(DEFAULT_REPEATS), type="integer", id="add-repeats")
            yield Label("Description for the captions", classes="field")
            yield Input(placeholder="man, curly hair, glasses, friendly smile", id="add-describe")
            # The refusal above the hint: on a short terminal the dialog's end is what gets cut.
            yield Static("", id="add-error")
            yield Static("", id="add-hint")
            with Horizontal(id="add-buttons"):
                for button in (
                    Button("Cancel (esc)", id="add-cancel"),
                    Button("Add (ctrl+s)", variant="primary", id="add-submit"),
                ):
                    # Keys type into the fields only: adding takes ctrl+s (or a click).
                    button.can_focus = False
                    yield button

    def on_mount(self) -> None:
        self._show_hint()

    @on(Input.Changed)
    def _on_changed(self) -> None:
        self._show_hint()

    def _show_hint(self) -> None:
        name = self.query_one("#add-name", Input).value
        if not name.strip():
            self.query_one("#add-token", Input).placeholder = "from the name"
            self.query_one("#add-hint", Static).update(Content("type a name: the token and folder follow from it"))
            self._show_error("")
            return
        typed_token = self.query_one("#add-token", Input).value.strip()
        planned = host(self).workspace.registry.new_friend(name, typed_token or None)
        friend_id, token = planned.id, planned.token
        repeats = self.query_one("#add-repeats", Input).value or "?"
        self.query_one("#add-token", Input).placeholder = default_token(friend_id)
        settings = host(self).workspace.settings
        folder = settings.datasets_dir / friend_id / f"{repeats}_{friend_id}"
        describe = self.query_one("#add-describe", Input).value.strip()
        caption = Friend(id=friend_id, name=planned.name, token=token, describe=describe).caption_template
        self.query_one("#add-hint", Static).update(
            Content(
                printable(f"token: {token}") + f"\nfolder: {printable(_shorten(folder))}\ncaptions start: {printable(caption)}"
            )
        )
        self._show_error(printable(planned.problem or ""))

    @on(Button.Pressed, "#add-submit")
    def action_submit(self) -> None:
        """Ask the registry to add the friend (a small file write); its refusal shows inline."""
        name = self.query_one("#add-name", Input).value
        repeats_text = self.query_one("#add-repeats", Input).value.strip()
        if not repeats_text.isdigit() or int(repeats_text) < 1:
            self._refused("repeats must be a whole number of at least 1 (the guide uses 30)", "#add-repeats")
            return
        token = self.query_one("#add-token", Input).value.strip() or None
        describe = self.query_one("#add-describe", Input).value.strip()
        try:
            friend = host(self).workspace.add_friend(name, token=token, repeats=int(repeats_text), describe=describe)
            _create_folder(host(self).workspace.settings, friend)
        except NameTooLongError as error:
            fix, field = _name_too_long_fix(error)
            self._refused(f"{error.message}\n  fix: {fix}; nothing was written", field)
            return
        except QbtuiError as error:
            # The file's name and line (as the status line says), the reason and its fix; not the
            # whole path, which would push them out of sight.
            self._refused(error.describe(file_name_only=True), "#add-name")
            return
        self.app.notify(f"added {printable(friend.name)} ({friend.token})", markup=False)
        self.dismiss(friend.id)

    def _refused(self, text: str, field: str) -> None:
        """Show why, and select the field to fix so the next keys type over it."""
        self._show_error(text)
        entry = self.query_one(field, Input)
        entry.focus()
        entry.select_all()

    def _show_error(self, text: str) -> None:
        self.query_one("#add-error", Static).update(Content(text))

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _name_too_long_fix(error: NameTooLongError) -> tuple[str, str]:
    """The fix in this dialog's words, and the field that gives it."""
    if error.source == "id":
        return "shorten the name: the id made from it names the dataset and run folders", "#add-name"
    if error.token_typed:
        return "type a shorter token in the Trigger token field", "#add-token"
    return "shorten the name, or type a shorter token in the Trigger token field", "#add-name"


def _create_folder(settings: Settings, friend: Friend) -> Path:
    """Create the friend's training folder; QbtuiError when the disk refuses."""
    folder = dataset_dir(settings, friend)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QbtuiError(
            f"cannot create the dataset folder: {error.strerror}",
            path=folder,
            fix="check datasets_dir in [settings] and its permissions",
        ) from error
    return folder


def _shorten(path: Path) -> str:
    """The path with the home folder written as ~."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if text.startswith(home + "/") else text
