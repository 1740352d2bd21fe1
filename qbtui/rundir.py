"""One run's folder, `<logs_dir>/<friend_id>/<run_id>/`, and its `run.toml`.

- `run.toml`: `[run]` (run_id, friend, backend, preset, created_at, qbtui_version,
  dataset_fingerprint, registry, command, env) and `[train]` (the builtin trainer's
  TrainConfig table, or the kohya flags);
- `events.jsonl`, `output.log` (the backend's output), `supervisor.pid`, `backend.pid`,
  `supervisor.log` (the supervisor's own output), `state/`, `remote.json` (a host run's
  follower status), and after a likeness evaluation
  `eval.json` and `eval/`. Every other module names these files through `RunDir`.
Run ids sort by time: `20261125-034512-peter-a1b2`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.safefile import open_regular, read_text

# One path component: the friend part is a friend id (no `/`, no leading dot); `\Z`, not `$`,
# so a trailing newline is no part of an id.
FRIEND_PART = r"[^\W_][\w-]*"
RUN_ID_PATTERN = re.compile(rf"\A\d{{8}}-\d{{6}}-(?P<friend>{FRIEND_PART})-[0-9a-f]{{4}}\Z")
QUEUE_FOLDER = ".queue"
# How many of a log's last lines an error event carries (`log_tail`) and a crashed run shows.
ERROR_LOG_LINES = 20


@dataclass(frozen=True)
class RunDir:
    """The paths inside one run directory."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def friend_id(self) -> str:
        return self.path.parent.name

    @property
    def logs_dir(self) -> Path:
        return self.path.parent.parent

    @property
    def run_toml(self) -> Path:
        return self.path / "run.toml"

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def output_log(self) -> Path:
        return self.path / "output.log"

    @property
    def supervisor_pid(self) -> Path:
        return self.path / "supervisor.pid"

    @property
    def supervisor_log(self) -> Path:
        """The supervisor's own stdout/stderr (a traceback if it ever fails)."""
        return self.path / "supervisor.log"

    @property
    def backend_pid(self) -> Path:
        return self.path / "backend.pid"

    @property
    def state_dir(self) -> Path:
        return self.path / "state"

    @property
    def remote_status(self) -> Path:
        """A host run's follower status (`remote.json`: phase, offsets); absent for a local run."""
        return self.path / "remote.json"

    @property
    def eval_dir(self) -> Path:
        """An evaluation's samples (`eval/`)."""
        return self.path / "eval"

    @property
    def eval_json(self) -> Path:
        """The likeness evaluation's result (a training run's, or an evaluation run's)."""
        return self.path / "eval.json"


def new_run_id(friend_id: str, now: float | None = None) -> str:
    """`YYYYmmdd-HHMMSS-<friend>-<4 hex>` in UTC, so ids sort by start time."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{friend_id}-{secrets.token_hex(2)}"


def run_id_labels(run_id: str) -> tuple[str, ...]:
    """How a run id may show where a Friend column names the friend, longest first: the id, `12-06 10:09 2e3e`
    (its start, UTC as in the id, and its suffix), `12-06 10:09`; only the id when it is not a run id."""
    if RUN_ID_PATTERN.match(run_id) is None:
        return (run_id,)
    start = f"{run_id[4:6]}-{run_id[6:8]} {run_id[9:11]}:{run_id[11:13]}"
    return (run_id, f"{start} {run_id[-4:]}", start)


def friend_of_run_id(run_id: str) -> str | None:
    """The friend id inside a run id, or None when `run_id` is not one."""
    match = RUN_ID_PATTERN.match(run_id)
    return match.group("friend") if match else None


def is_friend_part(text: str) -> bool:
    """True when `text` could be a friend id inside a run id (one path component)."""
    return re.fullmatch(FRIEND_PART, text) is not None


def run_dir_for(logs_dir: Path, run_id: str) -> RunDir:
    """Where the run `run_id` lives; QbtuiError when the id is malformed or its folder
    resolves outside `logs_dir` (a symlinked friend or run folder)."""
    friend_id = friend_of_run_id(run_id)
    if friend_id is None:
        raise QbtuiError(
            f"{run_id!r} is not a run id",
            fix="run ids look like 20261125-034512-peter-a1b2; `qbtui runs` lists them",
        )
    run = RunDir(logs_dir / friend_id / run_id)
    if not run.path.resolve().is_relative_to(Path(logs_dir).resolve()):
        raise QbtuiError(
            f"run {run_id}'s folder resolves outside the logs folder",
            path=run.path,
            fix="replace the symlink by the run's real folder, or remove it",
        )
    return run


def find_run_dirs(logs_dir: Path, skipped: list[Path] | None = None) -> list[RunDir]:
    """Every run directory under `logs_dir` (those holding a run.toml), newest first.

    A run.toml that is there but not a regular file (a FIFO, a folder) is added to `skipped`.
    """
    found = []
    try:
        friend_folders = [p for p in logs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except FileNotFoundError:
        return []
    for friend_folder in friend_folders:
        for candidate in friend_folder.iterdir():
            if not RUN_ID_PATTERN.match(candidate.name):
                continue
            run_toml = RunDir(candidate).run_toml
            if run_toml.is_file():
                found.append(RunDir(candidate))
            elif skipped is not None and run_toml.exists():
                skipped.append(run_toml)
    return sorted(found, key=lambda run: run.run_id, reverse=True)


def write_run_toml(run: RunDir, run_table: dict[str, Any], train_table: dict[str, Any]) -> None:
    """Write `run.toml` atomically with its `[run]` and `[train]` tables."""
    document = tomlkit.document()
    document.add(tomlkit.comment("One qbtui training run: everything needed to reproduce it."))
    document.add("run", _table(run_table))
    document.add("train", _table(train_table))
    write_text_atomic(run.run_toml, tomlkit.dumps(document))


def read_run_toml(run: RunDir) -> dict[str, Any]:
    """`run.toml` as plain dicts; QbtuiError naming the file when it is missing or broken."""
    return _with_run_table(_parse_run_toml(run), run.run_toml)


def parse_run_toml(text: str, path: Path) -> dict[str, Any]:
    """A run.toml's text (one sent to a host) as `read_run_toml` gives it; QbtuiError naming `path`."""
    return _with_run_table(_parse_text(text, path), path)


def _with_run_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    if not isinstance(data.get("run"), dict):
        raise QbtuiError("run.toml has no [run] table", path=path, fix="restore it or delete this run directory")
    data.setdefault("train", {})
    return data


def read_train_table(run: RunDir) -> dict[str, Any]:
    """The `[train]` table of `run.toml` (what a trainer reads); QbtuiError naming the file."""
    train = _parse_run_toml(run).get("train")
    if not isinstance(train, dict):
        raise QbtuiError("run.toml has no [train] table", path=run.run_toml, fix="recreate the run with `qbtui train`")
    return train


def _parse_run_toml(run: RunDir) -> dict[str, Any]:
    try:
        text = read_text(run.run_toml)
    except FileNotFoundError:
        raise QbtuiError(
            "this run directory has no run.toml", path=run.path, fix="start runs with `qbtui train`, which writes it"
        ) from None
    except UnicodeDecodeError as error:
        raise QbtuiError(
            f"run.toml is not valid TOML: {error}", path=run.run_toml, fix="restore it or delete this run directory"
        ) from None
    except OSError as error:
        raise QbtuiError(
            f"cannot read run.toml: {error.strerror}", path=run.run_toml, fix="restore it or delete this run directory"
        ) from None
    return _parse_text(text, run.run_toml)


def _parse_text(text: str, path: Path) -> dict[str, Any]:
    """The one run.toml parser (tomlkit, unwrapped to plain values)."""
    try:
        data: dict[str, Any] = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.TOMLKitError as error:
        raise QbtuiError(
            f"run.toml is not valid TOML: {error}", path=path, fix="restore it or delete this run directory"
        ) from None
    return data


def dataset_fingerprint(friend_folder: Path) -> str:
    """A hash of the names, sizes and mtimes of the files kohya reads (`N_name/` folders)."""
    digest = hashlib.sha256()
    for folder in sorted(friend_folder.glob("[0-9]*_*")):
        if not folder.is_dir():
            continue
        for file in sorted(folder.iterdir()):
            if file.is_file():
                stat = file.stat()
                digest.update(f"{folder.name}/{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def tail_lines(path: Path, count: int = ERROR_LOG_LINES, max_bytes: int = 64 * 1024) -> list[str]:
    """The last `count` non-empty lines of a log, progress redraws (\\r) split apart."""
    try:
        with open_regular(path) as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n") if line.strip()]
    return lines[-count:]


def _table(values: dict[str, Any]) -> Any:
    table = tomlkit.table()
    for key, value in values.items():
        if value is None:
            continue
        table.add(key, _plain(value))
    return table


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
