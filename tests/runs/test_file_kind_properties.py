"""Property (issue 24, Deliver): whatever kind of file sits where qbtui reads one (a regular file of
garbage, an empty one, a FIFO, a socket, a folder, a link to each, a dangling link, a link loop, an
unreadable file), `check`, `status`, `prep --dry-run`, `cards`, `runs`, `logs`, `eval --show` and
a training return within a bound, without a traceback, and change nothing outside the folders
qbtui owns (the links' targets outside, the other friend's photos, the base model).

Each example runs every command in one subprocess (a hang is a timeout there, not a stuck test).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from qbtui.runs import manager

from .conftest import STANDINS

FINAL = ("completed", "stopped", "failed", "crashed")
COMMAND_BOUND_S = 60
KINDS = (
    "original",  # left as the run or the friend has it
    "regular",
    "empty",
    "fifo",
    "socket",
    "folder",
    "unreadable",
    "link-to-regular",
    "link-to-empty",
    "link-to-fifo",
    "link-to-socket",
    "link-to-folder",
    "dangling-link",
    "link-loop",
)
COMMANDS = (
    ["check", "--json"],
    ["status"],
    ["prep", "peter", "--dry-run"],
    ["cards"],
    ["runs", "--json"],
    ["logs", "{run}"],
    ["eval", "{run}", "--show"],
    ["train", "peter", "--steps", "2", "--wait", "--force"],
)
DRIVER = f"""
import sys, traceback
from qbtui.cli import main
from qbtui.runs import manager
manager.builtin_command = lambda run_path, processes=1: [sys.executable, {str(STANDINS / "trainer.py")!r}, str(run_path)]
registry, run_id, *commands = sys.argv[1:]
for command in commands:
    argv = ["--registry", registry, *command.replace("{{run}}", run_id).split()]
    print("COMMAND", command, flush=True)
    try:
        main(argv)
    except SystemExit:
        pass
    except BaseException:
        print("TRACEBACK", command, traceback.format_exc(), flush=True)
"""


def bind_socket(path: Path) -> None:
    """A socket file at `path` (bound from its folder: a long path does not fit sun_path)."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path.name)
    finally:
        os.chdir(here)


def make_outside(folder: Path) -> None:
    """The targets of the links: one of each kind, outside every folder qbtui owns."""
    folder.mkdir()
    (folder / "regular").write_bytes(b"outside: never to change\n")
    (folder / "empty").write_bytes(b"")
    os.mkfifo(folder / "fifo")
    bind_socket(folder / "socket")
    (folder / "folder").mkdir()
    (folder / "folder" / "inside.txt").write_text("outside too\n")


def put(path: Path, kind: str, outside: Path) -> None:
    """Make `path` a file of `kind` (whatever was there is gone)."""
    if kind == "original":
        return
    remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "regular":
        path.write_bytes(b"\x00garbage {[\xff\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        bind_socket(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "unreadable":
        path.write_bytes(b"secret\n")
        path.chmod(0)
    elif kind.startswith("link-to-"):
        path.symlink_to(outside / kind.removeprefix("link-to-"))
    elif kind == "dangling-link":
        path.symlink_to(outside / "missing")
    elif kind == "link-loop":
        path.symlink_to(path.name)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists() or _is_special(path):
        path.unlink()


def _is_special(path: Path) -> bool:
    try:
        return not stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def tracebacks(output: str) -> list[str]:
    """Each traceback of the driver's output as its last lines."""
    found = []
    for part in output.split("Traceback (most recent call last):")[1:]:
        lines = [line.strip() for line in part.splitlines() if line.strip()]
        found.append(" | ".join(lines[-5:]))
    return found


def tree_state(root: Path) -> dict[str, str]:
    """Every entry under `root` by kind and content (links by target, never followed)."""
    found = {}
    for folder, names, files in os.walk(root):
        for name in names + files:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                found[str(path)] = f"link {os.readlink(path)}"
            elif stat.S_ISREG(mode):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[str(path)] = f"mode {stat.S_IFMT(mode):o}"
    return found


@pytest.fixture
def world(workspace, wait_for_state, tmp_path):
    """A workspace with a completed, evaluated run of peter, the places qbtui reads, and the outside."""
    from qbtui.faces.analysis import cache_file_for
    from qbtui.registry import dataset_dir

    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    make_outside(tmp_path / "outside")
    training = dataset_dir(workspace.settings, workspace.friend("peter"))
    loras = workspace.settings.lora_dir
    places = {
        "photo": training / "extra.jpg",
        "caption": training / "photo00.txt",
        "journal": training / ".qbtui-prep-1.json",
        "card": loras / "qb_peter_lora.json",
        "preview": loras / "qb_peter_lora.preview.jpg",
        "face cache": cache_file_for(training),
        **{name: info.path / name for name in ("run.toml", "events.jsonl", "supervisor.pid", "eval.json", "output.log")},
    }
    originals = {name: path.read_bytes() if path.is_file() else None for name, path in places.items()}
    guarded = [tmp_path / "outside", tmp_path / "datasets" / "maria", tmp_path / "models"]
    return workspace, info, places, originals, guarded


PLACES = ("photo", "caption", "journal", "card", "preview", "face cache", "run.toml", "events.jsonl", "supervisor.pid")
PLACES += ("eval.json", "output.log")
kinds_of_places = st.fixed_dictionaries({place: st.sampled_from(KINDS) for place in PLACES})


def uniform(kind: str) -> dict[str, str]:
    """`kind` everywhere but run.toml (without it the run is not listed, and its other files are not read)."""
    return {**dict.fromkeys(PLACES, kind), "run.toml": "original"}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(uniform("fifo"))
@example(uniform("socket"))
@example(uniform("folder"))
@example(uniform("link-to-fifo"))
@example(uniform("link-loop"))
@given(kinds=kinds_of_places)
def test_every_command_returns_without_a_traceback_and_changes_nothing_outside(world, kinds):
    registry, info, places, originals, guarded = world
    outside = guarded[0]
    for place, kind in kinds.items():
        put(places[place], kind, outside)
    before = {str(folder): tree_state(folder) for folder in guarded}
    argv = [sys.executable, "-c", DRIVER, str(registry.path), info.run_id, *(" ".join(command) for command in COMMANDS)]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_BOUND_S * len(COMMANDS), check=False)
    except subprocess.TimeoutExpired as error:
        started = [line for line in (error.stdout or b"").decode(errors="replace").splitlines() if line.startswith("COMMAND")]
        pytest.fail(f"{started[-1] if started else 'the first command'} still running with {kinds}")
    finally:
        for place, path in places.items():
            remove(path)
            if originals[place] is not None:
                path.write_bytes(originals[place])
    assert "TRACEBACK" not in result.stdout and "Traceback" not in result.stderr, (
        kinds,
        tracebacks(result.stdout + result.stderr),
    )
    assert result.stdout.count("COMMAND") == len(COMMANDS), result.stdout[-2000:]
    assert {str(folder): tree_state(folder) for folder in guarded} == before, kinds
