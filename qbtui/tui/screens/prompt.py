"""Prompt helper: type a scene, read the Automatic1111 prompt live, copy it over OSC 52, or draw it.

Drawing runs `qbtui.draw` (planned in a thread, drawn in its worker subprocess: this process
never imports torch); each picture appears as a thumbnail as it finishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Static

from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.prompt import build_prompt, convert_names
from qbtui.registry import LORA_WEIGHT_FIX, LORA_WEIGHT_MAX, Friend, lora_weight_problem
from qbtui.scene_check import scene_warnings
from qbtui.tui.host import host
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.steady_footer import SteadyFooter

WEIGHT_STEP = 0.05
DRAW_COUNT = 2


def run_plan(plan: Any, progress: Any) -> list[dict[str, Any]]:
    """`qbtui.draw.run_plan`, looked up here so tests can stand in for the worker."""
    from qbtui.draw.run import run_plan as run

    return run(plan, progress)


class PromptScreen(Screen[None]):
    """Friends' names become `<lora:...>` tags and `<token> person`; the house style is appended."""

    BINDINGS = [
        Binding("ctrl+y", "copy", "Copy", id="prompt.copy"),
        Binding("ctrl+g", "draw", "Draw", id="prompt.draw"),
        Binding("ctrl+n", "draw_again", "New seed", id="prompt.draw_again"),
        Binding("ctrl+o", "gallery", "Gallery", id="prompt.gallery"),
        Binding("ctrl+up", "weight(1)", "Weight +", id="prompt.weight_up"),
        Binding("ctrl+down", "weight(-1)", "Weight -", id="prompt.weight_down"),
        Binding("escape", "back", "Back", id="prompt.back"),
    ]

    DEFAULT_CSS = """
    PromptScreen > #prompt-body {
        padding: 1 2;
    }
    PromptScreen Label {
        color: $text-muted;
        height: 1;
    }
    PromptScreen #prompt-weight-row {
        height: 3;
    }
    PromptScreen #prompt-weight {
        width: 12;
    }
    PromptScreen #prompt-weight-hint {
        padding: 1 1;
        color: $text-muted;
    }
    PromptScreen #prompt-output {
        border: round $primary;
        padding: 0 1;
        height: auto;
        min-height: 5;
    }
    PromptScreen #prompt-friends {
        height: auto;
        color: $text-muted;
    }
    PromptScreen #prompt-friends.-error {
        color: $error;
    }
    PromptScreen #prompt-draw-status {
        height: 1;
        color: $text-muted;
    }
    PromptScreen #prompt-drawings {
        height: 1fr;
        min-height: 4;
    }
    PromptScreen #prompt-drawings ImagePreview {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.prompt = ""
        self.drawing = False
        self.last_scene = ""
        self.drawn: list[Path] = []

    def compose(self) -> ComposeResult:
        settings = host(self).workspace.settings
        yield Header()
        with Vertical(id="prompt-body"):
            yield Label("Scene (use your friends' names)")
            yield Input(placeholder="Peter and Maria having a picnic under an oak tree", id="prompt-scene")
            with Horizontal(id="prompt-weight-row"):
                yield Input(f"{settings.lora_weight:g}", type="number", id="prompt-weight")
                yield Static("LoRA weight (the guide suggests 0.6 to 1.0)", id="prompt-weight-hint")
            output = Static("", id="prompt-output")
            output.border_title = "Prompt for Automatic1111"
            output.border_subtitle = "ctrl+y or enter: copy"
            yield output
            yield Static("", id="prompt-friends")
            yield Static("ctrl+g: draw it with your friends' LoRAs", id="prompt-draw-status")
            with Horizontal(id="prompt-drawings"):
                for index in range(DRAW_COUNT):
                    yield ImagePreview(id=f"prompt-drawing-{index}")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.title = "Prompt helper"
        self.query_one("#prompt-scene", Input).focus()
        self._rebuild()

    @on(Input.Changed)
    def _on_changed(self) -> None:
        self._rebuild()

    def _weight(self) -> float | None:
        try:
            weight = float(self.query_one("#prompt-weight", Input).value)
        except ValueError:
            return None
        return None if lora_weight_problem(weight) else weight

    def _rebuild(self) -> None:
        registry = host(self).workspace.registry
        scene = self.query_one("#prompt-scene", Input).value
        weight = self._weight()
        friends_line = self.query_one("#prompt-friends", Static)
        friends_line.set_class(weight is None, "-error")
        if weight is None:
            friends_line.update(Content(f"weight: {LORA_WEIGHT_FIX}"))
            return
        suffix = registry.settings.style_suffix
        self.prompt = build_prompt(scene, registry.friends, style_suffix=suffix, weight=weight) if scene.strip() else ""
        self.query_one("#prompt-output", Static).update(Content(self.prompt or "type a scene above"))
        _, found = convert_names(scene, registry.friends)
        warnings = scene_warnings(scene, registry.friends, registry.settings) if scene.strip() else []
        friends_line.update(Content(_describe_friends(found, warnings)))

    def action_weight(self, direction: int) -> None:
        """Nudge the LoRA weight by one step up or down."""
        current = self._weight()
        if current is None:
            current = host(self).workspace.settings.lora_weight
        weight = min(LORA_WEIGHT_MAX, max(WEIGHT_STEP, round(current + direction * WEIGHT_STEP, 2)))
        self.query_one("#prompt-weight", Input).value = f"{weight:g}"

    @on(Input.Submitted)
    def action_copy(self) -> None:
        """Copy the prompt to the clipboard with OSC 52 (works over SSH)."""
        if self._weight() is None:
            self.notify(f"set the weight first: {LORA_WEIGHT_FIX}", severity="warning")
            return
        if not self.prompt:
            self.notify("type a scene first", severity="warning")
            return
        self.app.copy_to_clipboard(self.prompt)
        self.notify("prompt copied to the clipboard", title="Prompt helper")

    def action_back(self) -> None:
        host(self).resolve_errors("draw")  # a refused draw is over once its scene is left
        self.app.pop_screen()

    # --- drawing ------------------------------------------------------------------------

    def action_draw(self) -> None:
        """Draw the scene as typed, with the weight shown, on new random seeds."""
        self._start_drawing(self.query_one("#prompt-scene", Input).value)

    def action_draw_again(self) -> None:
        """Draw the last drawn scene again with new seeds."""
        self._start_drawing(self.last_scene or self.query_one("#prompt-scene", Input).value)

    def action_gallery(self) -> None:
        from qbtui.tui.screens.gallery import GalleryScreen

        self.app.push_screen(GalleryScreen())

    def _start_drawing(self, scene: str) -> None:
        weight = self._weight()
        if self.drawing:
            self.notify("a drawing is under way; wait for it to finish", severity="warning")
            return
        if not scene.strip():
            self.notify("type a scene first", severity="warning")
            return
        if weight is None:
            self.notify(f"set the weight first: {LORA_WEIGHT_FIX}", severity="warning")
            return
        self.drawing = True
        self.last_scene = scene
        self.drawn = []
        for preview in self.query(ImagePreview):
            preview.path = None
        self._status("planning the drawing ...")
        self._draw(scene, weight)

    @work(thread=True, group="draw", exit_on_error=False)
    def _draw(self, scene: str, weight: float) -> None:
        from qbtui.draw.plan import plan_drawings

        registry = host(self).workspace.registry
        try:
            found = convert_names(scene, registry.friends)[1]
            # As the prompt shown: a friend's likeness choice, else the weight typed here.
            weights = {friend.id: weight for friend in found if friend.chosen_weight is None}
            plan = plan_drawings(registry, [scene], n=DRAW_COUNT, weights=weights)
            run_plan(plan, lambda event: self.app.call_from_thread(self._on_draw_event, event, plan.image_count))
        except QbtuiError as error:
            self.app.call_from_thread(self._draw_failed, error)
        finally:
            self.app.call_from_thread(self._draw_ended)

    def _on_draw_event(self, event: dict[str, Any], total: int) -> None:
        kind = event["event"]
        if kind == "loading":
            host(self).resolve_errors("draw")
            self._status("loading the base model and the LoRAs ...")
        elif kind == "step":
            self._status(f"drawing {event['image'] + 1}/{total}: step {event['step']}/{event['steps']}")
        elif kind == "image":
            path = Path(event["path"])
            self.drawn.append(path)
            previews = list(self.query(ImagePreview))
            if event["image"] < len(previews):
                previews[event["image"]].path = path
            self._status(f"{len(self.drawn)}/{total} drawn: {printable(path.name)}")

    def _draw_failed(self, error: QbtuiError) -> None:
        self._status(f"not drawn: {printable(error.message)}")
        host(self).notify(error.describe(), title="Cannot draw", severity="error", timeout=10, markup=False, cause="draw")

    def _draw_ended(self) -> None:
        self.drawing = False
        if self.drawn:
            self._status(f"{len(self.drawn)} drawings in {self.drawn[0].parent}  (ctrl+n: new seed, ctrl+o: gallery)")

    def _status(self, text: str) -> None:
        self.query_one("#prompt-draw-status", Static).update(Content(printable(text)))


def _describe_friends(found: list[Friend], warnings: list[str]) -> str:
    """Which friends the scene names, then what `scene_warnings` finds wrong with it, one a line."""
    named = ["friends: " + ", ".join(f"{printable(friend.name)} ({friend.token})" for friend in found)] if found else []
    return "\n".join([*named, *(f"! {printable(warning)}" for warning in warnings)])
