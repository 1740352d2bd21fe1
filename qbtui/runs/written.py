"""Did this attempt write its LoRA? The file's identity before the backend starts, against after.

A backend that ends well without saving (a kohya that prints and exits 0) must not pass an
older LoRA of the same name off as this run's: the supervisor stamps the final LoRA's path
before it starts the backend, and the file counts only when it is a regular file whose
stamp (device, inode, mtime, size) changed since, or that was not there before. An
identity, not a clock: a LoRA folder on a network share with a skewed clock still works.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.runs.backends import BACKENDS


@dataclass(frozen=True)
class FileStamp:
    """What tells one version of a file from another."""

    device: int
    inode: int
    mtime_ns: int
    size: int


def file_stamp(path: Path) -> FileStamp | None:
    """The stamp of the regular file at `path` (links followed); None when there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return FileStamp(info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


class LoraWitness:
    """The final LoRA's stamp, taken before the backend starts."""

    def __init__(self, final: Path | None):
        self.final = final
        self.before = file_stamp(final) if final is not None else None

    @classmethod
    def before_run(cls, table: dict[str, Any]) -> LoraWitness:
        """The witness of a run's final LoRA (run.toml's [run]); an evaluation run writes none."""
        if table.get("backend") not in BACKENDS or "output_dir" not in table or "output_name" not in table:
            return cls(None)
        return cls(Path(str(table["output_dir"])) / f"{table['output_name']}.safetensors")

    def not_written(self, lora_path: str | None) -> str | None:
        """None when `lora_path` is a file this attempt wrote, else why it does not count (for the error)."""
        if not lora_path:
            return "the backend named no LoRA file"
        now = file_stamp(Path(lora_path))
        if now is None:
            return f"there is no file {lora_path}"
        if now == self.before:
            changed = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now.mtime_ns / 1e9))
            return (
                f"{lora_path} is an older LoRA, unchanged since before this run started "
                f"(last written {changed}, {now.size} bytes); it was left as it was and not recorded"
            )
        return None
