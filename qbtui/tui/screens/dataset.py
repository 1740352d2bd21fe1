"""Dataset screen: a friend's photos with their problems, a preview, the caption editable in place.

Keys move (up/down, j/k), edit the caption (e/enter; ctrl+s saves, escape cancels and
asks first when the text changed, ctrl+t puts the token phrase first), put the token
first in the saved caption (t), jump to the next problem (n), fix the selected photo (f)
or everything (F, ctrl+f, after asking), move a photo or a loose file to `originals/`
(o), edit tags across all captions (b) and undo (u, ctrl+z). Every edit is
a call into `qbtui.dataset.edits` in a thread worker, followed by a rescan; the screen
keeps no caption rule of its own. A worker that fails is reported by the app.
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

from qbtui.dataset import edits
from qbtui.dataset.captions import caption_with_token_first
from qbtui.dataset.face_checks import face_box_share, face_facts
from qbtui.dataset.problems import ACTION_WORDS
from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.registry import Friend
from qbtui.tui.host import host
from qbtui.tui.messages import FriendChanged, RegistryChanged
from qbtui.tui.unsaved import ask, ask_before
from qbtui.tui.widgets.caption_history import CaptionHistory
from qbtui.tui.widgets.dataset_confirm import ConfirmScreen
from qbtui.tui.widgets.dataset_list import DatasetImageList, loose_files
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.steady_footer import SteadyFooter
from qbtui.tui.widgets.tag_editor import TagEdit, TagEditorScreen

if TYPE_CHECKING:
    from qbtui.dataset import FriendStatus, ImageStatus, Problem

EDIT_ACTIONS = frozenset({"save", "cancel_edit", "insert_token"})
BROWSE_ACTIONS = frozenset(
    {"edit", "token_first", "next_problem", "fix", "fix_all", "to_originals", "tags", "undo", "back", "cursor_down", "cursor_up"}
)


def problem_line(problem: Problem) -> str:
    """`✗ not RGB colour: colour mode L, not 8-bit RGB` (plain words, no codes)."""
    marker = "✗" if problem.severity == "error" else "!"
    detail = printable(problem.detail)
    return f"{marker} {detail}" if detail.lower().startswith(problem.label.lower()) else f"{marker} {problem.label}: {detail}"


def fix_line(problems: tuple[Problem, ...] | list[Problem], key: str = "f") -> str | None:
    """`f: prepare it as a 512x512 JPEG (original kept), write the caption template`, or None."""
    actions = edits.fixable_actions(problems) or [p.action for p in problems if p.action == "move-to-originals"][:1]
    if not actions:
        return None
    return f"{key}: " + ", ".join(ACTION_WORDS[action] for action in actions)


class DatasetScreen(Screen[None]):
    """Photos, preview, caption and problems of one friend."""

    BINDINGS = [
        Binding("e", "edit", "Edit", id="dataset.edit"),
        Binding("ctrl+s", "save", "Save", id="dataset.save"),
        Binding("ctrl+t", "insert_token", "Token first", id="dataset.insert_token"),
        Binding("t", "token_first", "Token first", show=False, id="dataset.token_first"),
        # Hidden in the footer (help lists it) so that `esc Back` and `f1 Help` fit 80 columns.
        Binding("n", "next_problem", "Next problem", show=False, id="dataset.next_problem"),
        Binding("f", "fix", "Fix", id="dataset.fix"),
        Binding("F,ctrl+f", "fix_all", "Fix all", id="dataset.fix_all"),
        Binding("o", "to_originals", "Originals", id="dataset.originals"),
        Binding("b", "tags", "Tags", id="dataset.tags"),
        Binding("u,ctrl+z", "undo", "Undo", id="dataset.undo"),
        Binding("j", "cursor_down", "Down", show=False, id="dataset.down"),
        Binding("k", "cursor_up", "Up", show=False, id="dataset.up"),
        Binding("escape", "cancel_edit", "Cancel", id="dataset.cancel"),
        Binding("escape", "back", "Back", id="dataset.back"),
    ]

    DEFAULT_CSS = """
    DatasetScreen #dataset-body {
        height: 1fr;
    }
    DatasetScreen #dataset-images {
        width: 32;
        height: 1fr;
        border: round $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
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
        self.editing_photo: Path | None = None
        self.editing_from = ""
        self.editing_disk: bytes | None = None  # the caption's bytes when the edit began
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
        return host(self).workspace.friend(self.friend_id)

    @property
    def settings(self):
        return host(self).workspace.settings

    @property
    def image_list(self) -> DatasetImageList:
        return self.query_one(DatasetImageList)

    @property
    def caption(self) -> TextArea:
        return self.query_one("#caption", TextArea)

    def on_mount(self) -> None:
        friend = self.friend
        self.title = f"Dataset: {printable(friend.name)}"
        self.sub_title = friend.token
        self.caption.border_title = "Caption"
        self.image_list.focus()
        status = host(self).workspace.status(self.friend_id)
        if status is not None:
            self.show_status(status)
        self.rescan()

    # --- state from the engine --------------------------------------------------------
    @work(thread=True, exclusive=True, group="dataset-scan", exit_on_error=False)
    def rescan(self) -> None:
        """Scan the folder again (cached by mtime and size) and show the result."""
        host(self).workspace.rescan(self.friend_id)
        self.app.call_from_thread(self._show_latest)

    def _show_latest(self) -> None:
        """Show the workspace's newest scan (a watcher's scan may have stored a newer one than ours)."""
        status = host(self).workspace.status(self.friend_id)
        if status is not None:
            self.show_status(status)

    def show_status(self, status: FriendStatus) -> None:
        """Render a scan: the list, the summary and the selected row."""
        self.status = status
        self.image_list.show_status(status)
        self.image_list.border_title = f"{status.image_count} photos"
        self.image_list.border_subtitle = status.problems_text
        self._show_summary(status)
        self._show_selected()

    def _show_summary(self, status: FriendStatus) -> None:
        friend = self.friend
        state = "ready to train" if status.ready else "not ready"
        lines = [
            f"{printable(friend.name)} · {friend.token} · {status.image_count} photos · {status.caption_count} captions · {state}"
        ]
        loose = loose_files(status)
        for problem in status.problems:
            if problem not in loose:
                lines.append(f"{'✗' if problem.severity == 'error' else '!'} {problem.label}: {printable(problem.fix)}")
        if loose:
            lines.append(f"! {len(loose)} file{'s' if len(loose) != 1 else ''} that are not photos, listed last (o moves out)")
        self.query_one("#dataset-summary", Static).update(Content("\n".join(lines)))

    def on_friend_changed(self, message: FriendChanged) -> None:
        if message.friend_id == self.friend_id:
            self._show_latest()

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self.rescan()

    @on(OptionList.OptionHighlighted, "#dataset-images")
    def _on_highlight(self) -> None:
        if not self.editing:
            self._show_selected()
        elif self.image_list.selected_path != self.editing_photo:
            self._leave_edited_photo()

    def _leave_edited_photo(self) -> None:
        """Another row was highlighted while editing: unsaved text asks first (Cancel stays)."""
        target = self.image_list.highlighted
        if self.unsaved_name() is None:
            self.discard_unsaved()
            return
        self._highlight_edited_photo()

        def move() -> None:
            self.image_list.highlighted = target

        ask_before(self.app, move)

    def _highlight_edited_photo(self) -> None:
        paths = [image.path for image in self.image_list.images]
        if self.editing_photo in paths:
            self.image_list.highlighted = paths.index(self.editing_photo)

    @on(OptionList.OptionSelected, "#dataset-images")
    def _on_selected(self) -> None:
        if not self.editing:
            self.action_edit()

    def _show_selected(self) -> None:
        image = self.image_list.selected
        loose = self.image_list.selected_loose
        preview = self.query_one(ImagePreview)
        problems = self.query_one("#dataset-problems", Static)
        if image is None:
            preview.path = None
            self._set_caption_text("")
            if loose is not None and loose.path is not None:
                self.caption.border_title = Content(f"{printable(loose.path.name)} · not a photo")
                problems.set_class(True, "-bad")
                how = f"o: {ACTION_WORDS['move-to-originals']}" if loose.action == "move-to-originals" else printable(loose.fix)
                lines = [problem_line(loose), how]
                problems.update(Content("\n".join(lines)))
                return
            folder = self.status.folder if self.status else None
            problems.remove_class("-bad")
            problems.update(Content(f"no photos yet: copy some into {printable(folder)}"))
            return
        preview.show(image.path, face_box_share(image))
        if not self.editing:
            self._set_caption_text(printable(image.caption or "", keep_newlines=True))
            self.caption.border_title = self._caption_title(image)
        problems.set_class(bool(image.problems), "-bad")
        facts = [line for line in (face_facts(image, self.status.faces if self.status else None),) if line]
        if image.problems:
            lines = [problem_line(problem) for problem in image.problems]
            fix = fix_line(image.problems)
            problems.update(Content("\n".join([fix, *facts, *lines] if fix else [*facts, *lines])))
        else:
            problems.update(Content("\n".join([f"ok · {image.width}x{image.height} {image.format}", *facts])))

    @staticmethod
    def _caption_title(image: ImageStatus) -> Content | str:
        """The caption box's title: the file, a link out the scan did not read, or none yet."""
        if image.caption_path:
            return Content(f"Caption · {printable(image.path.stem)}.txt")
        if any(problem.code == "link-outside" for problem in image.problems):
            return "Caption · a link out of the datasets folder: not read"
        return "Caption · none (f creates one)"

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
        """Highlight the next row with a problem."""
        if self.image_list.next_problem() is None:
            self.notify("no photo has a problem")

    # --- caption editing --------------------------------------------------------------
    def _selected_or_warn(self) -> ImageStatus | None:
        image = self.image_list.selected
        if image is None:
            loose = self.image_list.selected_loose
            text = (
                f"{printable(loose.path.name)} is not a photo: o moves it to originals/"
                if loose and loose.path
                else "no photo selected"
            )
            self.notify(text, severity="warning", markup=False)
        return image

    def action_edit(self) -> None:
        """Edit the selected photo's caption in place (the template when it has none)."""
        image = self._selected_or_warn()
        if image is None:
            return
        try:
            text = edits.read_for_editing(self.settings, self.friend, image.path)
            caption = edits.caption_path_of(image.path)
            disk = edits.caption_on_disk(self.settings, self.friend, caption)
        except QbtuiError as error:
            self.notify(f"{printable(error.message)}\n{printable(error.fix)}", severity="error", timeout=10, markup=False)
            return
        self.editing_caption = caption
        self.editing_disk = disk
        self.editing_photo = image.path
        self.editing = True
        self._set_caption_text(text)
        self.editing_from = self.caption.text
        self.caption.read_only = False
        self.caption.border_title = Content(f"Editing · {printable(self.editing_caption.name)}")
        self.caption.focus()
        self.caption.move_cursor(self.caption.document.end)

    def action_insert_token(self) -> None:
        """Put the token phrase first in the text being edited, by the rule `t` and Fix all use."""
        text = caption_with_token_first(self.caption.text, self.friend)
        if text != self.caption.text:
            self.caption.replace(text, (0, 0), self.caption.document.end)
        self.caption.move_cursor(self.caption.document.end)

    def action_save(self) -> None:
        """Write the edited caption to the file the edit started on."""
        self.save_unsaved(lambda: None)

    def action_cancel_edit(self) -> None:
        """Stop editing; changed text is not dropped without asking (save, discard or keep editing)."""
        if self.unsaved_name() is None:
            self.discard_unsaved()
        else:
            ask(self.app, self, lambda: None)

    # --- unsaved text (qbtui.tui.unsaved.HoldsUnsaved) --------------------------------
    def unsaved_name(self) -> str | None:
        """The caption file being edited when its text changed, else None."""
        if not self.editing or self.editing_caption is None or self.caption.text == self.editing_from:
            return None
        return self.editing_caption.name

    def save_unsaved(self, then: Callable[[], object]) -> None:
        """Write the edited caption (atomically) to the file the edit started on, then `then()`."""
        path, text, began_from = self.editing_caption, self.caption.text, self.editing_disk
        self._leave_edit()
        if path is not None:
            self._save_caption(path, text, began_from, then)
        else:
            then()

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _save_caption(self, path: Path, text: str, began_from: bytes | None, then: Callable[[], object]) -> None:
        """Save off the UI thread; when it fails (or the file changed on disk since the edit began), the
        text goes back into the editor (never lost)."""
        try:
            with self.file_changes:
                result = edits.save_caption(self.settings, self.friend, path, text, began_from=began_from)
        except (QbtuiError, OSError) as error:
            self.app.call_from_thread(self._save_failed, path, text, error)
            return
        self.app.call_from_thread(self._edited, result)
        self.app.call_from_thread(then)

    def _save_failed(self, path: Path, text: str, error: QbtuiError | OSError) -> None:
        """Back to editing the unsaved text, with the reason and its fix."""
        self.editing_caption, self.editing, self.editing_from = path, True, ""
        try:  # said once: a second save writes over what is on disk now
            self.editing_disk = edits.caption_on_disk(self.settings, self.friend, path)
        except (QbtuiError, OSError):  # unreadable now: the next save says why again
            self.editing_disk = None
        self.caption.load_text(text)
        self.caption.read_only = False
        self.caption.border_title = f"Editing · {path.name} · not saved"
        self.caption.focus()
        reason = error.describe(where_from=False) if isinstance(error, QbtuiError) else str(error)
        self.notify(f"{path.name} was not saved: {reason}", title="Caption", severity="error", timeout=12, markup=False)

    def discard_unsaved(self) -> None:
        """Leave the editor and show the caption on disk again."""
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
            settings, friend = self.settings, self.friend
            self._apply(lambda: edits.token_first(settings, friend, image.path))

    # --- fixes ------------------------------------------------------------------------
    def action_fix(self) -> None:
        """Apply what qbtui can fix for the selected row."""
        image = self.image_list.selected
        if image is None:
            loose = self.image_list.selected_loose
            if loose is not None and loose.action == "move-to-originals":
                self.action_to_originals()
            else:
                self.notify(
                    f"qbtui cannot fix this by itself: {printable(loose.fix)}" if loose else "no photo selected",
                    severity="warning",
                    markup=False,
                )
            return
        if not edits.fixable_actions(image.problems):
            if any(problem.action == "move-to-originals" for problem in image.problems):
                self.action_to_originals()
                return
            why = "it has no problem" if not image.problems else "its problems need you: " + image.problems[0].fix
            self.notify(f"nothing to fix for {printable(image.path.name)}: {why}", severity="warning", markup=False)
            return
        self._run_fix(image.path)

    def action_fix_all(self) -> None:
        """After asking: prep every photo, re-encode, create missing captions and put the token
        first everywhere (u undoes all of it as one step)."""
        if self.status is None:
            return
        actions = edits.fixable_actions(self.status.all_problems())
        if not actions:
            self.notify("nothing qbtui can fix by itself here", severity="warning")
            return
        what = "\n".join(f"· {ACTION_WORDS[action]}" for action in actions)
        question = f"Fix every photo and caption of {self.friend.name}:\n{what}\nu undoes all of it in one step."

        def answered(agreed: bool | None) -> None:
            if agreed:
                self._run_fix(None)

        self.app.push_screen(ConfirmScreen(question, title="Fix all"), answered)

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _run_fix(self, image: Path | None) -> None:
        """edits.fix with the progress bar following each photo; hidden again whatever happens."""
        settings, friend = self.settings, self.friend
        self.app.call_from_thread(self._progress, 0, 1)
        try:
            with self.file_changes:
                edit = edits.fix(settings, friend, image, progress=self._progress_from_thread)
        finally:
            self.app.call_from_thread(self._hide_progress)
        self.app.call_from_thread(self._edited, edit)

    def _progress_from_thread(self, done: int, total: int, _path: Path) -> None:
        self.app.call_from_thread(self._progress, done, total)

    def _progress(self, done: int, total: int) -> None:
        bar = self.query_one("#dataset-progress", ProgressBar)
        bar.add_class("-running")
        bar.update(total=max(total, 1), progress=done)

    def _hide_progress(self) -> None:
        self.query_one("#dataset-progress", ProgressBar).remove_class("-running")

    def action_to_originals(self) -> None:
        """Move the selected photo (and its caption) or loose file out to originals/, after asking."""
        path = self.image_list.selected_path
        if path is None:
            self.notify("nothing selected", severity="warning")
            return
        question = f"Move {printable(path.name)} out of the training folder into {self.friend.id}/originals/?"

        def answered(agreed: bool | None) -> None:
            if agreed:
                settings, friend = self.settings, self.friend
                self._apply(lambda: edits.move_to_originals(settings, friend, path))

        self.app.push_screen(ConfirmScreen(question, title="Move to originals"), answered)

    # --- bulk tags and undo -----------------------------------------------------------
    def action_tags(self) -> None:
        """Add, remove or rename a tag across every caption: the editor opens at once (keys
        typed after `b` reach its Tag field), the tag frequencies follow from a worker."""

        def chosen(edit: TagEdit | None) -> None:
            if edit is not None:
                self._apply(lambda: self._tag_edit(edit))

        editor = TagEditorScreen(None, self.status.caption_count if self.status else 0)
        self.app.push_screen(editor, chosen)
        self._count_tags(editor)

    @work(thread=True, exclusive=True, group="dataset-tags", exit_on_error=False)
    def _count_tags(self, editor: TagEditorScreen) -> None:
        from qbtui.dataset import tag_frequencies

        frequencies = tag_frequencies(self.settings, self.friend)
        self.app.call_from_thread(editor.show_frequencies, frequencies)

    def _tag_edit(self, edit: TagEdit) -> edits.Edit:
        settings, friend = self.settings, self.friend
        if edit.operation == "add":
            return edits.add_tag(settings, friend, edit.tag)
        if edit.operation == "remove":
            return edits.remove_tag(settings, friend, edit.tag)
        return edits.rename_tag(settings, friend, edit.tag, edit.new_tag)

    def action_undo(self) -> None:
        """Undo the last edit made on this screen."""
        record = self.history.pop()
        if record is None:
            self.notify("nothing to undo")
            return
        self._undo(record)

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _undo(self, record: edits.UndoRecord) -> None:
        with self.file_changes:
            result = edits.undo(record)
        message = f"undid: {result.label}"
        if result.left:
            message += f"\nleft {len(result.left)} file(s) changed since: " + ", ".join(
                printable(path.name) for path in result.left
            )
        self.app.call_from_thread(self.notify, message, severity="warning" if result.left else "information")
        self.app.call_from_thread(self.rescan)

    @work(thread=True, group="dataset-files", exit_on_error=False)
    def _apply(self, edit: Callable[[], edits.Edit]) -> None:
        """Run one edit off the UI thread; the app reports it if it fails."""
        with self.file_changes:
            result = edit()
        self.app.call_from_thread(self._edited, result)

    def _edited(self, edit: edits.Edit) -> None:
        """Remember the edit for undo, tell what it did, rescan."""
        undoable = self.history.record(edit.undo)
        summary = edit.summary + ("\n(u undoes it)" if undoable else "")
        self.notify(summary, title=edit.label, severity="warning" if edit.skipped or edit.error else "information", markup=False)
        self.rescan()
