"""How runs read as text, the same in the CLI and the dashboard: durations (ETA, elapsed),
where a run is, whether it is drawing its last samples, and one line per event (`qbtui logs` and the Training screen's log)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from qbtui.runs.placement import ANYWHERE, HERE

if TYPE_CHECKING:
    from qbtui.runs.info import RunInfo


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


def format_number(value: float | None, digits: int = 4) -> str:
    """`0.1234`, or `-` when unknown."""
    return "-" if value is None else f"{value:.{digits}f}"


def format_event(event: dict[str, Any]) -> str:
    """One readable line per event (an error may add indented lines for its fix and log)."""
    stamp = datetime.fromtimestamp(event["t"]).strftime("%H:%M:%S")
    kind = event["type"]
    if kind == "step":
        text = (
            f"step {event['step']}/{event.get('max_steps') or '?'}  loss {format_number(event.get('loss'))}"
            f"  avg {format_number(event.get('avg_loss'))}  {format_number(event.get('it_s'), 2)} it/s"
            f"  ETA {format_duration(event.get('eta_s'))}"
        )
    elif kind == "start":
        text = (
            f"start {event.get('friend')} with {event.get('backend')} ({event.get('preset')}): "
            f"{event.get('max_steps')} steps, {event.get('images', '?')} images on {event.get('device', '?')}"
        )
        precision = event.get("mixed_precision")
        if precision:
            text += " in float32" if precision == "no" else f" in {precision}"
    elif kind in ("checkpoint", "sample"):
        text = f"{kind} at step {event.get('step', '?')}: {event['path']}"
    elif kind == "warning":
        text = f"warning: {event['message']}"
    elif kind == "error":
        text = f"error: {event['message']}" + (f"\n  fix: {event['hint']}" if event.get("hint") else "")
        text += "".join(f"\n  | {line}" for line in event.get("log_tail") or [])
    elif kind == "done":
        text = f"done: {event['status']}" + (f", LoRA {event['lora_path']}" if event.get("lora_path") else "")
    elif kind == "eval":
        from qbtui.likeness.report import format_eval_event

        text = format_eval_event(event)
    else:
        text = f"supervisor {event['state']}" + (f" ({event['detail']})" if event.get("detail") else "")
    return f"{stamp}  {text}"


def drawing_last_samples(run: RunInfo) -> bool:
    """True while a run that did its last step writes its LoRA and draws its samples: a minute
    or more with no event, before the `done` event (which sets `lora_path`)."""
    return run.state == "running" and run.max_steps > 0 and run.step >= run.max_steps and run.lora_path is None
