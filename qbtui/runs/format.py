"""How runs read as text, the same in the CLI and the dashboard: durations (ETA, elapsed),
where a run is, and one line per event (`qbtui logs` and the Training screen's log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qbtui.printable import printable
from qbtui.runs.placement import ANYWHERE, HERE


def format_duration(seconds: float | None) -> str:
    """`1:02:03`, `4:05`, `0:07`; `-` when unknown."""
    if seconds is None or seconds < 0:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def where_words(state: str, where: str) -> str:
    """Where a run is, in words: `here`, `on gpu1`; a queued one: `for the first free place`, `for gpu1`."""
    if state == "queued":
        return {ANYWHERE: "for the first free place", HERE: "for this machine"}.get(where, f"for {where}")
    return "here" if where == HERE else f"on {where}"


def step_eta(eta_s: float | None) -> str:
    """A step line's ETA: the time left of the steps, `-` when under a second. Saving the LoRA, the
    last samples and any likeness pass still follow the last step, so it never reads `0:00`."""
    return "-" if eta_s is not None and eta_s < 0.5 else format_duration(eta_s)


def wait_words(reason: str) -> str:
    """Why a queued run has not started, from the queue's plan (`plan_queue`'s reason):
    `waits (here runs 1 of 1)`; `a place is free: it starts next` for an empty reason."""
    return f"waits ({printable(reason)})" if reason else "a place is free: it starts next"


def format_number(value: float | None, digits: int = 4) -> str:
    """`0.1234`, or `-` when unknown."""
    return "-" if value is None else f"{value:.{digits}f}"


def format_event(event: dict[str, Any]) -> str:
    """One readable line per event (an error may add indented lines for its fix and log); "" for an event
    the log leaves out (a `likeness` event: its checkpoint's `eval checkpoint` event is the line)."""
    stamp = datetime.fromtimestamp(event["t"]).strftime("%H:%M:%S")
    kind = event["type"]
    if kind == "likeness":
        return ""
    if kind == "step":
        text = (
            f"step {event['step']}/{event.get('max_steps') or '?'}  loss {format_number(event.get('loss'))}"
            f"  avg {format_number(event.get('avg_loss'))}  {format_number(event.get('it_s'), 2)} it/s"
            f"  ETA {step_eta(event.get('eta_s'))}"
        )
    elif kind == "start":
        text = (
            f"start {printable(event.get('friend'))} with {event.get('backend')} ({event.get('preset')}): "
            f"{event.get('max_steps')} steps, {event.get('images', '?')} images on {event.get('device', '?')}"
        )
        precision = event.get("mixed_precision")
        if precision:
            text += " in float32" if precision == "no" else f" in {precision}"
    elif kind in ("checkpoint", "sample"):
        text = f"{kind} at step {event.get('step', '?')}: {printable(event['path'])}"
    elif kind == "warning":
        text = f"warning: {printable(event['message'], keep_newlines=True)}"
    elif kind == "error":
        text = f"error: {printable(event['message'], keep_newlines=True)}" + (
            f"\n  fix: {printable(event['hint'], keep_newlines=True)}" if event.get("hint") else ""
        )
        text += "".join(f"\n  | {printable(line)}" for line in event.get("log_tail") or [])
    elif kind == "done":
        text = f"done: {event['status']}" + (f", LoRA {printable(event['lora_path'])}" if event.get("lora_path") else "")
        text += f" ({printable(event['message'], keep_newlines=True)})" if event.get("message") else ""
    elif kind == "eval":
        from qbtui.likeness.report import format_eval_event

        text = format_eval_event(event)
        if not text:
            return ""
    else:
        text = f"supervisor {event['state']}" + (f" ({printable(event['detail'])})" if event.get("detail") else "")
    return f"{stamp}  {text}"
