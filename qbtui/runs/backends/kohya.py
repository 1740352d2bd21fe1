"""The kohya backend: the guide's `accelerate launch train_network.py` command, and its output as events.

The command keeps the guide's flag order token for token, with two documented errata:
`--max_data_loader_n_workers` (the guide's `--dataloader_num_workers` is rejected by
sd-scripts) and `--sdpa` when `settings.kohya_sdpa` is on. A preset's `num_processes`
(data-parallel processes, one per GPU) is accelerate's option, not the script's: above 1
it becomes `accelerate launch --multi_gpu --num_processes N`. `settings.tokenizer_cache_dir`
adds `--tokenizer_cache_dir` (sd-scripts keeps the tokenizer there, where qbtui finds it too).
"""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.modelenv import MPS_FALLBACK
from qbtui.registry import CAPTION_SUFFIX, FlagValue, Friend, Preset, Settings, friend_root
from qbtui.rundir import ERROR_LOG_LINES
from qbtui.tail import TextLines

KOHYA_ENV = {**MPS_FALLBACK, "PYTHONUNBUFFERED": "1"}
# Flags the guide writes before the output and logging folders.
EARLY_FLAGS = {"caption_extension": CAPTION_SUFFIX, "resolution": "512,512"}
RENAMED_FLAGS = {"dataloader_num_workers": "max_data_loader_n_workers"}
ATTENTION_FLAGS = ("sdpa", "xformers", "mem_eff_attn")


def kohya_flags(preset: Preset, steps: int | None = None) -> dict[str, FlagValue]:
    """The preset's flags as sd-scripts takes them (erratum renames applied, steps overridden)."""
    flags = {RENAMED_FLAGS.get(name, name): value for name, value in preset.flags.items()}
    if steps is not None:
        flags["max_train_steps"] = steps
    return flags


def kohya_command(
    settings: Settings, friend: Friend, preset: Preset, steps: int | None = None
) -> tuple[list[str], dict[str, str]]:
    """`(argv, env)` for sd-scripts' train_network.py; env holds only the added variables."""
    flags = kohya_flags(preset, steps)
    processes = int(flags.pop("num_processes", 1) or 1)
    argv = [
        str(settings.kohya_accelerate),
        "launch",
        *(["--multi_gpu", "--num_processes", str(processes)] if processes > 1 else []),
        str(settings.kohya_scripts / "train_network.py"),
        "--pretrained_model_name_or_path",
        str(settings.base_model),
        "--train_data_dir",
        str(friend_root(settings, friend)),
    ]
    for name, default in EARLY_FLAGS.items():
        argv += _flag_tokens(name, flags.pop(name, default))
    argv += ["--output_dir", str(settings.lora_dir), "--logging_dir", str(settings.logs_dir / friend.id)]
    output_name = ["--output_name", friend.output_name]
    for name, value in flags.items():
        argv += _flag_tokens(name, value)
        if name == "save_model_as":
            argv += output_name
    if "--output_name" not in argv:
        argv += output_name
    if settings.kohya_sdpa and not any(flags.get(name) for name in ATTENTION_FLAGS):
        argv.append("--sdpa")
    if settings.tokenizer_cache_dir is not None and "tokenizer_cache_dir" not in flags:
        argv += ["--tokenizer_cache_dir", str(settings.tokenizer_cache_dir)]
    return argv, dict(KOHYA_ENV)


def check_kohya_install(settings: Settings) -> None:
    """QbtuiError before anything starts when sd-scripts or its accelerate is missing."""
    script = settings.kohya_scripts / "train_network.py"
    if not script.is_file():
        raise QbtuiError(
            "kohya's sd-scripts is not installed here (no train_network.py)",
            path=script,
            fix="git clone https://github.com/kohya-ss/sd-scripts to that folder, set kohya_scripts in registry.toml, or use --backend builtin",
        )
    accelerate = Path(settings.kohya_accelerate)
    if not accelerate.is_file():
        raise QbtuiError(
            "the accelerate launcher of kohya's venv is missing",
            path=accelerate,
            fix="create the venv as the guide's one-time setup says, or set kohya_accelerate in registry.toml",
        )


def find_resume_state(output_dir: Path, output_name: str) -> Path | None:
    """The newest sd-scripts state folder (`<name>-step00000400-state`, `<name>-state`), if any."""
    folders = [p for p in Path(output_dir).glob(f"{output_name}*-state") if p.is_dir()]
    return max(folders, key=lambda p: p.stat().st_mtime_ns) if folders else None


def kohya_resume_args(output_dir: Path, output_name: str) -> list[str]:
    """`--resume <state folder>`, or QbtuiError when sd-scripts saved no state."""
    state = find_resume_state(output_dir, output_name)
    if state is None:
        raise QbtuiError(
            f"sd-scripts saved no state folder ({output_name}-...-state) to resume from",
            path=output_dir,
            fix="add save_state = true to the preset so kohya runs can be resumed, then start a new run",
        )
    return ["--resume", str(state)]


def _flag_tokens(name: str, value: FlagValue) -> list[str]:
    if value is True:
        return [f"--{name}"]
    if value is False:
        return []
    return [f"--{name}", _format_value(value)]


def _format_value(value: FlagValue) -> str:
    """Numbers as the guide writes them: `1e-4`, `5e-5`, `16`, `0.5`."""
    if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
        mantissa, exponent = f"{value:.12e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


# --------------------------------------------------------------------- output parser

_PROGRESS = re.compile(
    r"steps:\s*\d+%\|[^|]*\|\s*(?P<step>\d+)/(?P<total>\d+)\s*"
    r"\[(?P<elapsed>[\d:]+)<(?P<eta>[\d:]+|\?)(?:,\s*(?P<rate>[\d.]+|\?)\s*(?P<unit>s/it|it/s))?(?P<postfix>[^\]]*)\]"
)
_AVR_LOSS = re.compile(r"avr_loss=(?P<loss>[-+\d.eE]+|nan|inf)")
_CHECKPOINT = re.compile(r"saving checkpoint:\s*(?P<path>\S.*?)\s*$")
_STEP_IN_NAME = re.compile(r"-step(?P<step>\d{8})")
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception|Interrupt)(?::\s*(?P<text>.*))?$")
_ARGPARSE_ERROR = re.compile(r"^\S+\.py: error: (?P<text>.+)$")
_HINTS = (
    ("nan", "switch mixed_precision from fp16 to no (the guide's fix for NaN errors)"),
    ("out of memory", "keep train_batch_size 1 and resolution 512,512, or close other apps"),
    ("unrecognized arguments", "remove the flag sd-scripts does not know from the preset"),
    ("no data found", "put the images in <datasets_dir>/<id>/<repeats>_<id>/ with captions"),
    ("no such file", "check the paths in registry.toml [settings]"),
    (
        "no space left on device",
        "the disk is full: free room in the folder output.log names (the LoRA folder or the run's), then resume the run",
    ),
)


def _clock_seconds(text: str) -> float | None:
    """tqdm's `70:40:10` / `19:43` as seconds; None for `?`."""
    if not text or text == "?":
        return None
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _hint_for(message: str) -> str:
    lowered = message.lower()
    return next((hint for needle, hint in _HINTS if needle in lowered), "see output.log for the full traceback")


class KohyaOutputParser:
    """Turns sd-scripts' mixed stdout/stderr bytes into events (dicts without `t`).

    Lines end at `\\r` (tqdm redraws) or `\\n`. A step event is emitted once per new step;
    `saving checkpoint: <file>` gives a checkpoint event, a traceback or an argparse
    error an `error` event carrying the last 20 lines.
    """

    def __init__(self) -> None:
        self.last_step = 0
        self.max_steps = 0
        self.saving_since: float | None = None
        self.checkpoints: list[str] = []
        self.error_seen = False
        self.tail: deque[str] = deque(maxlen=ERROR_LOG_LINES)
        self._lines = TextLines()
        self._in_traceback = False

    def feed(self, data: bytes | str) -> list[dict[str, Any]]:
        """Events for the whole lines in `data` (a trailing partial line waits for more)."""
        events: list[dict[str, Any]] = []
        for line in self._lines.feed(data):
            events.extend(self._line(line))
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Events for a last line that had no line end."""
        line = self._lines.finish()
        return self._line(line) if line else []

    def _line(self, line: str) -> list[dict[str, Any]]:
        stripped = line.strip()
        if not stripped:
            return []
        self.tail.append(line.rstrip())
        progress = _PROGRESS.search(line)
        if progress:
            # stdout text lands right after a bar that stderr left without a line end
            return self._progress(progress) + self._line(line[progress.end() :])
        checkpoint = _CHECKPOINT.search(line)
        if checkpoint:
            return [self._checkpoint(checkpoint.group("path"))]
        if stripped.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
            return []
        failure = _ARGPARSE_ERROR.match(stripped) or (
            _EXCEPTION.match(stripped) if self._in_traceback and not line[:1].isspace() else None
        )
        if failure:
            self._in_traceback = False
            if self.error_seen and "CalledProcessError" in stripped:
                return []  # accelerate's own report of the trainer's failure, already given
            self.error_seen = True
            return [{"type": "error", "message": stripped, "hint": _hint_for(stripped), "log_tail": list(self.tail)}]
        return []

    def _progress(self, match: re.Match[str]) -> list[dict[str, Any]]:
        self.saving_since = None
        step, total = int(match.group("step")), int(match.group("total"))
        self.max_steps = total
        if step <= self.last_step:
            return []
        self.last_step = step
        rate = match.group("rate")
        it_s = None
        if rate and rate != "?" and float(rate) > 0:
            it_s = float(rate) if match.group("unit") == "it/s" else 1.0 / float(rate)
        loss_match = _AVR_LOSS.search(match.group("postfix") or "")
        loss = float(loss_match.group("loss")) if loss_match else None
        return [
            {
                "type": "step",
                "step": step,
                "max_steps": total,
                "loss": loss,
                "avg_loss": loss,
                "lr": None,
                "lr_te": None,
                "it_s": it_s,
                "eta_s": _clock_seconds(match.group("eta")),
            }
        ]

    def _checkpoint(self, path: str) -> dict[str, Any]:
        self.saving_since = time.monotonic()
        self.checkpoints.append(path)
        in_name = _STEP_IN_NAME.search(Path(path).name)
        return {"type": "checkpoint", "step": int(in_name.group("step")) if in_name else self.last_step, "path": path}
