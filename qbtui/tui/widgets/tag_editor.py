"""Bulk tag edit: a modal listing tag frequencies that returns one add/remove/rename intent."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from qbtui.dataset.captions import tag_problem
from qbtui.tui.typeahead import TypeAhead

OPERATIONS = ("add", "remove", "rename")


@dataclass(frozen=True)
class TagEdit:
    """Add a tag to every caption, remove it from all, or rename it everywhere."""

    operation: str
    tag: str
    new_tag: str = ""

    def describe(self) -> str:
        if self.operation == "rename":
            return f"rename tag {self.tag!r} to {self.new_tag!r}"
        return f"{self.operation} tag {self.tag!r}"


class TagEditorScreen(ModalScreen[TagEdit | None], TypeAhead[TagEdit | None]):
    """Shows how often each tag appears; dismisses with a TagEdit or None.

    The Tag field has focus from the start (keys typed as it opens land there); the
    frequencies may come later (`show_frequencies`), counted off the UI thread.
    """

    AUTO_FOCUS = FIRST_FIELD = "#tag-name"

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="tag_editor.apply"),
        Binding("escape", "cancel", "Cancel", id="tag_editor.cancel"),
    ]

    DEFAULT_CSS = """
    TagEditorScreen > #tag-editor {
        width: 72;
    }
    TagEditorScreen #tag-frequencies {
        height: auto;
        max-height: 8;
        border: none;
    }
    TagEditorScreen RadioSet {
        layout: horizontal;
        height: auto;
        border: none;
        width: 100%;
    }
    TagEditorScreen .tag-row {
        height: 1;
        margin-top: 1;
    }
    TagEditorScreen .tag-row Label {
        width: 11;
        color: $text-muted;
    }
    TagEditorScreen .tag-row Input, TagEditorScreen .tag-row Input:focus {
        width: 1fr;
        height: 1;
        border: none;
        padding: 0 1;
        background: $panel;
    }
    TagEditorScreen .tag-row Input:focus {
        background: $primary 25%;
    }
    TagEditorScreen #tag-error {
        color: $error;
        height: auto;
    }
    TagEditorScreen #tag-help {
        color: $text-muted;
        height: 1;
    }
    """

    def __init__(self, frequencies: list[tuple[str, int]] | None, caption_count: int) -> None:
        super().__init__()
        self.frequencies = frequencies
        self.caption_count = caption_count

    def compose(self) -> ComposeResult:
        with Vertical(id="tag-editor", classes="dialog") as box:
            box.border_title = f"Tags across {self.caption_count} captions"
            yield OptionList(*self._options(), id="tag-frequencies")
            with RadioSet(id="tag-operation"):
                yield RadioButton("Add to all", value=True, id="op-add")
                yield RadioButton("Remove from all", id="op-remove")
                yield RadioButton("Rename", id="op-rename")
            with Horizontal(classes="tag-row"):
                yield Label("Tag")
                yield Input(placeholder="pick one above or type it", id="tag-name")
            with Horizontal(classes="tag-row"):
                yield Label("Rename to")
                yield Input(placeholder="the new name (rename only)", id="tag-new")
            yield Static("", id="tag-error")
            yield Static("enter or ctrl+s: apply  ·  escape: cancel  ·  u undoes it", id="tag-help")

    def _options(self) -> list[Option]:
        return [Option(Content(f"{count:>4}  {tag}"), id=tag) for tag, count in self.frequencies or ()]

    def on_mount(self) -> None:
        self.query_one("#tag-frequencies", OptionList).display = bool(self.frequencies)

    def show_frequencies(self, frequencies: list[tuple[str, int]]) -> None:
        """Show how often each tag appears (once counted)."""
        self.frequencies = frequencies
        if not self.is_attached:
            return
        listing = self.query_one("#tag-frequencies", OptionList)
        listing.set_options(self._options())
        listing.display = bool(frequencies)

    @on(OptionList.OptionSelected, "#tag-frequencies")
    def _pick_tag(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#tag-name", Input).value = event.option.id or ""
        self.query_one("#tag-name", Input).focus()

    def _operation(self) -> str:
        index = self.query_one(RadioSet).pressed_index
        return OPERATIONS[index if index >= 0 else 0]

    @on(Input.Submitted)
    def action_apply(self) -> None:
        """Validate and dismiss with the edit; problems show inline."""
        operation = self._operation()
        tag = self.query_one("#tag-name", Input).value.strip()
        new_tag = self.query_one("#tag-new", Input).value.strip()
        problem = tag_problem(tag)
        if problem is None and operation == "rename":
            problem = tag_problem(new_tag) if new_tag else "type the new name under Rename to"
        known_tags = {known.lower() for known, _count in self.frequencies or ()}
        if problem is None and operation != "add" and self.frequencies is not None and tag.lower() not in known_tags:
            problem = f"no caption has the tag {tag!r}"
        if problem:
            self.query_one("#tag-error", Static).update(Content(problem))
            return
        self.dismiss(TagEdit(operation, tag, new_tag if operation == "rename" else ""))

    def action_cancel(self) -> None:
        self.dismiss(None)
