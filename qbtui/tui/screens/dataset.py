"""Dataset screen: a friend's photos with their problems, a preview, the caption editable in place.

Keys move (up/down, j/k), edit the caption (e/enter; ctrl+s saves, escape cancels,
ctrl+t inserts the token), put the token first (t), jump to the next problem (n), fix
the selected photo (f) or everything (F, ctrl+f), move a photo to `originals/` (o),
edit tags across all captions (b) and undo caption changes (u, ctrl+z). Every file
change runs in a thread worker and is followed by a rescan, so problems update without
a key press; the app's `FriendChanged` does the same for changes made elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, OptionList, ProgressBar, Static, TextArea

from qbtui.errors import QbtuiError
from qbtui.registry import Friend
from qbtui.tui.messages import FriendChanged, RegistryChanged
from qbtui.tui.widgets import dataset_actions
from qbtui.tui.widgets.caption_history import (
    CaptionChange,
    CaptionHistory,
    UndoStep,
    read_caption_file,
    undo_step,
)
from qbtui.tui.widgets.dataset_confirm import ConfirmScreen
from qbtui.tui.widgets.dataset_list import DatasetImageList
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.steady_footer import SteadyFooter
from qbtui.tui.widgets.tag_editor import TagEdit, TagEditorScreen

if TYPE_CHECKING:
    from qbtui.dataset import FriendStatus, ImageStatus

EDIT_ACTIONS = frozenset({"save", "cancel_edit", "insert_token"})
BROWSE_ACTIONS = frozenset(
    {"edit", "token_first", "next_problem", "fix", "fix_all", "to_originals", "tags", "undo", "back", "cursor_down", "cursor_up"}
)


def token_as_tag(text: str, cursor: tuple[int, int], token: str) -> str:
    """What to insert at `cursor` so the token stands as its own comma-separated tag."""
    row, column = cursor
    lines = text.split("\n")
    before = "\n".join(lines[:row] + [lines[row][:column]]) if lines else ""
    after = "\n".join([lines[row][column:]] + lines[row + 1 :]) if lines else ""
    if not before.strip():
        prefix = ""
    elif before.rstrip().endswith(","):
        prefix = "" if before.endswith(" ") else " "
    else:
        prefix = ", "
    suffix = ", " if after.strip() and not after.lstrip().startswith(",") else ""
    return prefix + token + suffix


class DatasetScreen(Screen[None]):
    """Photos, preview, caption and problems of one friend."""

    BINDINGS = [
        Binding("e", "edit", "Edit", id="dataset.edit"),
        Binding("ctrl+s", "save", "Save", id="dataset.save"),
        Binding("ctrl+t", "insert_token", "Insert token", id="dataset.insert_token"),
        Binding("t", "token_first", "Token first", show=False, id="dataset.token_first"),
        Binding("n", "next_problem", "Next", id="dataset.next_problem"),
        Binding("f", "fix", "Fix", id="dataset.fix"),
        Binding("F,ctrl+f", "fix_all", "Fix all", id="dataset.fix_all"),
        Binding("o", "to_originals", "Originals", id="dataset.originals"),
        Binding("b", "tags", "Tags", id="dataset.tags"),
        Binding("u,ctrl+z", "undo", "Undo", id="dataset.undo"),
        Binding("j", "cursor_down", "Down", show=False, id="dataset.down"),
        Binding("k", "cursor_up", "Up", show=False, id="dataset.up"),
        Binding("escape", "cancel_edit", "Cancel", id="dataset.cancel"),
        Binding("escape", "back", "Back", show=False, id="dataset.back"),
    ]

    DEFAULT_CSS = """
    DatasetScreen #dataset-body {
        height: 1fr;
    }
    DatasetScreen #dataset-images {
        width: 32;
        height: 1fr;
        border: round $panel;
    }
    DatasetScreen #dataset-images:focus-within {
        border: round $primary;
    }
    DatasetScreen #dataset-side {
        width: 1fr;
        height: 1fr;
    }
    DatasetScreen #dataset-summary {
        height: auto;
        padding: 0 1;
    }
    DatasetScreen ImagePreview {
        height: 1fr;
        min-height: 4;
    }
    DatasetScreen #caption {
        height: 5;
        border: round $panel;
    }
    DatasetScreen #caption:focus {
        border: round $accent;
    }
    DatasetScreen #dataset-problems {
        height: auto;
        max-height: 5;
        padding: 0 1;
        color: $text-muted;
    }
    DatasetScreen #dataset-problems.-bad {
        color: $error;
    }
    DatasetScreen #dataset-progress {
        display: none;
        padding: 0 1;
    }
    DatasetScreen #dataset-progress.-running {
        display: block;
    }
    """

    editing: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, friend_id: str) -> None:
        super().__init__()
        self.friend_id = friend_id
        self.history = CaptionHistory()
        self.status: FriendStatus | None = None
        self.editing_caption: Path | None = None
        self.file_changes = threading.Lock()

    # --- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dataset-body"):
            yield DatasetImageList(id="dataset-images")
            with Vertical(id="dataset-side"):
                yield Static("scanning…", id="dataset-summary")
                yield ProgressBar(id="dataset-progress", show_eta=False)
                yield ImagePreview(id="dataset-preview")
                yield TextArea("", id="caption", read_only=True, soft_wrap=True, show_line_numbers=False)
                yield Static("", id="dataset-problems")
        yield SteadyFooter(compact=True)

    @property
    def friend(self) -> Friend:
        return self.app.workspace.friend(self.friend_id)

    @property
    def image_list(self) -> DatasetImageList:
        return self.query_one(DatasetImageList)

    @property
    def caption(self) -> TextArea:
        return self.query_one("#caption", TextArea)

    def on_mount(self) -> None:
        friend = self.friend
        self.title = f"Dataset: {friend.name}"
        self.sub_title = friend.token
        self.caption.border_title = "Caption"
        self.image_list.focus()
        status = self.app.workspace.status(self.friend_id)
        if status is not None:
            self.show_status(status)
        self.rescan()

    # --- state from the engine --------------------------------------------------------
    @work(thread=True, exclusive=True, group="dataset-scan", exit_on_error=False)
    def rescan(self) -> None:
        """Scan the folder again (cached by mtime and size) and show the result."""
        try:
            status = self.app.workspace.rescan(self.friend_id)
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, error.describe(), severity="error", timeout=10)
            return
        self.app.call_from_thread(self.show_status, status)

    def show_status(self, status: FriendStatus) -> None:
        """Render a scan: the list, the summary and the selected photo."""
        self.status = status
        self.image_list.show_status(status)
        self.image_list.border_title = f"{status.image_count} photos"
        self.image_list.border_subtitle = f"{sum(1 for image in status.images if image.problems)} with problems"
        self._show_summary(status)
        self._show_selected()

    def _show_summary(self, status: FriendStatus) -> None:
        friend = self.friend
        state = "ready to train" if status.ready else "not ready"
        lines = [f"{friend.name} · {friend.token} · {status.image_count} photos · {status.caption_count} captions · {state}"]
        lines += [f"{'✗' if problem.severity == 'error' else '!'} {problem.code}: {problem.fix}" for problem in status.problems]
        self.query_one("#dataset-summary", Static).update(Content("\n".join(lines)))

    def on_friend_changed(self, message: FriendChanged) -> None:
        if message.friend_id == self.friend_id:
            status = self.app.workspace.status(self.friend_id)
            if status is not None:
                self.show_status(status)

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self.rescan()

    @on(OptionList.OptionHighlighted, "#dataset-images")
    def _on_highlight(self) -> None:
        if not self.editing:
            self._show_selected()

    @on(OptionList.OptionSelected, "#dataset-images")
    def _on_selected(self) -> None:
        self.action_edit()

    def _show_selected(self) -> None:
        image = self.image_list.selected
        preview = self.query_one(ImagePreview)
        if image is None:
            preview.path = None
            self._set_caption_text("")
            folder = self.status.folder if self.status else None
            problems = self.query_one("#dataset-problems", Static)
            problems.remove_class("-bad")
            problems.update(Content(f"no photos yet: copy some into {folder}"))
            return
        if preview.path != image.path:
            preview.path = image.path
        if not self.editing:
            self._set_caption_text(image.caption or "")
            self.caption.border_title = (
                f"Caption · {image.path.stem}.txt" if image.caption_path else "Caption · none (f creates one)"
            )
        problems = self.query_one("#dataset-problems", Static)
        problems.set_class(bool(image.problems), "-bad")
        if image.problems:
            fixable = sorted({problem.action for problem in image.problems if problem.action})
            lines = [f"f: {', '.join(fixable)}"] if fixable else []
            lines += [f"{problem.code}: {problem.fix}" for problem in image.problems]
            problems.update(Content("\n".join(lines)))
        else:
            problems.update(Content(f"ok · {image.width}x{image.height} {image.format}"))

    def _set_caption_text(self, text: str) -> None:
        if self.caption.text != text:
            self.caption.load_text(text)

    # --- which keys apply now ---------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in EDIT_ACTIONS:
            return self.editing
        if action in BROWSE_ACTIONS:
            return not self.editing
        return True

    def action_cursor_down(self) -> None:
        self.image_list.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.image_list.action_cursor_up()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_next_problem(self) -> None:
        """Highlight the next photo with a problem."""
        if self.image_list.next_problem() is None:
            self.notify("no photo has a problem")

    # --- caption editing --------------------------------------------------------------
    def _selected_or_warn(self) -> ImageStatus | None:
        image = self.image_list.selected
        if image is None:
            self.notify("no photo selected", severity="warning")
        return image

    def action_edit(self) -> None:
        """Edit the selected photo's caption in place (the template when it has none)."""
        image = self._selected_or_warn()
        if image is None:
            return
        path = dataset_actions.caption_path_for(image)
        try:
            text = read_caption_file(path)
        except QbtuiError as error:
            self.notify(error.describe(), severity="error", timeout=10)
            return
        self.editing_caption = path
        self.editing = True
        self._set_caption_text((text if text is not None else self.friend.caption_template).strip())
        self.caption.read_only = False
        self.caption.border_title = f"Editing · {path.name}"
        self.caption.focus()
        self.caption.move_cursor(self.caption.document.end)

    def action_insert_token(self) -> None:
        """Type the trigger token at the cursor as a tag of its own."""
        self.caption.insert(token_as_tag(self.caption.text, self.caption.cursor_location, self.friend.token))

    def action_save(self) -> None:
        """Write the edited caption to the file the edit started on."""
        path, text = self.editing_caption, self.caption.text.strip()
        self._leave_edit()
        if path is None:
            return
        self._change_captions(f"edit {path.name}", lambda: dataset_actions.write_caption_text(path, text))

    def action_cancel_edit(self) -> None:
        self._leave_edit()
        self._show_selected()

    def _leave_edit(self) -> None:
        self.editing_caption = None
        self.editing = False
        self.caption.read_only = True
        self.image_list.focus()

    def action_token_first(self) -> None:
        """Put the trigger token at the start of the selected caption."""
        image = self._selected_or_warn()
        if image is not None:
            settings, friend = self.app.workspace.settings, self.friend
            self._change_captions(
                f"token first in {image.path.name}", lambda: dataset_actions.token_first_for(settings, friend, image)
            )

    # --- fixes ------------------------------------------------------------------------
    def action_fix(self) -> None:
        """Apply what qbtui can fix for the selected photo."""
        image = self._selected_or_warn()
        if image is None:
            return
        actions = {problem.action for problem in image.problems if problem.action}
        if not actions:
            why = "it has no problem" if not image.problems else "its problems need you: " + image.problems[0].fix
            self.notify(f"nothing to fix for {image.path.name}: {why}", severity="warning")
            return
        if actions == {"move-to-originals"}:
            self.action_to_originals()
            return
        self._run_fixes(image, frozenset(actions))

    def action_fix_all(self) -> None:
        """Prep every photo, create missing captions and put the token first everywhere."""
        if self.status is None:
            return
        actions = {problem.action for problem in self.status.all_problems() if problem.action} - {"move-to-originals"}
        if not actions:
            self.notify("nothing qbtui can fix by itself here", severity="warning")
            return
        self._run_fixes(None, frozenset(actions))

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _run_fixes(self, image: ImageStatus | None, actions: frozenset[str]) -> None:
        """Create the folder, prep, write missing captions, put the token first (in that order).

        A failing step stops the later ones; what the earlier ones did is still reported
        and undoable.
        """
        settings, friend = self.app.workspace.settings, self.friend
        changes: list[CaptionChange] = []
        notes: list[str] = []
        steps: list[Callable[[], None]] = []
        if "add-folder" in actions:
            steps.append(lambda: notes.append(dataset_actions.add_folder(settings, friend)))
        if "prep" in actions:
            steps.append(lambda: notes.append(dataset_actions.prep(settings, friend, self._progress_from_thread)))
        if "caption-init" in actions:
            steps.append(lambda: changes.extend(dataset_actions.init_captions_for(settings, friend, image)))
        if "token-first" in actions:
            steps.append(lambda: changes.extend(dataset_actions.token_first_for(settings, friend, image)))
        with self.file_changes:
            try:
                for step in steps:
                    step()
            except QbtuiError as error:
                self.app.call_from_thread(self.notify, error.describe(), severity="error", timeout=12)
        self.app.call_from_thread(self._fixes_done, changes, notes, image)

    def _progress_from_thread(self, done: int, total: int) -> None:
        self.app.call_from_thread(self._progress, done, total)

    def _progress(self, done: int, total: int) -> None:
        bar = self.query_one("#dataset-progress", ProgressBar)
        bar.add_class("-running")
        bar.update(total=max(total, 1), progress=done)

    def _fixes_done(self, changes: list[CaptionChange], notes: list[str], image: ImageStatus | None) -> None:
        self.query_one("#dataset-progress", ProgressBar).remove_class("-running")
        if changes:
            self.history.record(f"fix {image.path.name}" if image else "fix all captions", changes)
            notes.append(f"{len(changes)} caption{'s' if len(changes) != 1 else ''} changed (u undoes)")
        if notes:
            self.notify("\n".join(notes), title="Fixed")
        self.rescan()

    def action_to_originals(self) -> None:
        """Move the selected photo (and its caption) out to originals/, after asking."""
        image = self._selected_or_warn()
        if image is None:
            return
        question = f"Move {image.path.name} out of the training folder into {self.friend.id}/originals/?"

        def answered(agreed: bool | None) -> None:
            if agreed:
                self._move_out(image.path)

        self.app.push_screen(ConfirmScreen(question, title="Move to originals"), answered)

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _move_out(self, path: Path) -> None:
        try:
            with self.file_changes:
                kept = dataset_actions.to_originals(self.app.workspace.settings, self.friend, path)
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, error.describe(), severity="error", timeout=12)
            return
        self.app.call_from_thread(self.notify, f"moved to {kept.parent.name}/{kept.name}")
        self.app.call_from_thread(self.rescan)

    # --- bulk tags and undo -----------------------------------------------------------
    @work(thread=True, exclusive=True, group="dataset-tags", exit_on_error=False)
    def action_tags(self) -> None:
        """Add, remove or rename a tag across every caption, with tag frequencies shown."""
        try:
            frequencies = dataset_actions.tag_counts(self.app.workspace.settings, self.friend)
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, error.describe(), severity="error", timeout=12)
            return
        self.app.call_from_thread(self._open_tag_editor, frequencies)

    def _open_tag_editor(self, frequencies: list[tuple[str, int]]) -> None:
        def chosen(edit: TagEdit | None) -> None:
            if edit is not None:
                settings, friend = self.app.workspace.settings, self.friend
                self._change_captions(edit.describe(), lambda: dataset_actions.apply_tag_edit(settings, friend, edit))

        captions = self.status.caption_count if self.status else 0
        self.app.push_screen(TagEditorScreen(frequencies, captions), chosen)

    def action_undo(self) -> None:
        """Undo the last caption change made on this screen."""
        step = self.history.pop()
        if step is None:
            self.notify("nothing to undo")
            return
        self._undo(step)

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _undo(self, step: UndoStep) -> None:
        try:
            with self.file_changes:
                result = undo_step(step)
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, error.describe(), severity="error", timeout=12)
            return
        message = f"undid: {result.label}"
        if result.skipped:
            message += f"\nleft {len(result.skipped)} caption(s) changed since: " + ", ".join(
                path.name for path in result.skipped
            )
        self.app.call_from_thread(self.notify, message, severity="warning" if result.skipped else "information")
        self.app.call_from_thread(self.rescan)

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _change_captions(self, label: str, change: Callable[[], list[CaptionChange]]) -> None:
        """Run a caption change off the UI thread, remember it for undo, rescan."""
        try:
            with self.file_changes:
                changes = change()
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, error.describe(), severity="error", timeout=12)
            return
        self.app.call_from_thread(self._captions_changed, label, changes)

    def _captions_changed(self, label: str, changes: list[CaptionChange]) -> None:
        if self.history.record(label, changes):
            self.notify(f"{label}: {len(changes)} caption{'s' if len(changes) != 1 else ''} changed (u undoes)")
        self.rescan()
