"""Shared TUI fixtures: a demo-like workspace in tmp (Pillow images, a registry, run
directories written through the runs layer), an app factory with a fixed clock, no blinking
cursors. Nothing here imports torch."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from textual.widgets import Input

from qbtui.events import EventWriter
from qbtui.registry import Registry
from qbtui.rundir import RunDir, write_run_toml
from qbtui.runs.liveness import ProcessRecord, write_pid_file
from qbtui.runs.queue import enqueue
from tests.tui.waiting import wait_until, workers_idle

if TYPE_CHECKING:
    from qbtui.tui.app import QbtuiApp

FIXED_NOW = 1_795_000_000.0
FRIENDS = (
    # id, name, images, captioned
    ("peter", "Peter", 24, 24),
    ("anna", "Anna", 12, 9),
    ("sam", "Sam", 0, 0),
)

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
backend = "builtin"
preset = "demo"
theme = "paper-and-ink"
image_protocol = "halfcell"

[presets.demo]
max_train_steps = 60
network_dim = 4
network_alpha = 2
learning_rate = 1e-4

[presets.standard]
max_train_steps = 1200
network_dim = 16
network_alpha = 8
learning_rate = 1e-4
"""


def friend_entry(friend_id: str, name: str) -> str:
    return f'\n[friends.{friend_id}]\nname = "{name}"\ntoken = "qb_{friend_id}"\nrepeats = 30\ndescribe = "person, smiling"\n'


def draw_photo(path: Path, index: int) -> None:
    """A 512x512 JPEG that differs from its siblings (so no near-duplicate warnings)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (512, 512), (240 - index * 3 % 200, 230, 210))
    draw = ImageDraw.Draw(image)
    for stripe in range(index % 7 + 2):
        x = (index * 53 + stripe * 97) % 460
        draw.rectangle((x, stripe * 40, x + 50, 512 - stripe * 30), fill=((index * 41) % 255, (stripe * 67) % 255, 90))
    draw.ellipse((index * 13 % 300, 100, index * 13 % 300 + 180, 300), fill=(30, 30 + index * 5 % 200, 60))
    image.save(path, quality=85)


def add_photo(registry_path: Path, friend_id: str, index: int, caption: bool = True) -> Path:
    """Drop one photo (and its caption) into a friend's training folder."""
    folder = registry_path.parent / "datasets" / friend_id / f"30_{friend_id}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"photo_{index:02d}.jpg"
    draw_photo(path, index)
    if caption:
        path.with_suffix(".txt").write_text(f"qb_{friend_id} person, smiling, photo {index}\n", encoding="utf-8")
    return path


def build_workspace(root: Path, friends: Iterable[tuple[str, str, int, int]] = FRIENDS) -> Path:
    """registry.toml plus datasets under `root`; returns the registry path."""
    root.mkdir(parents=True, exist_ok=True)
    registry_path = root / "registry.toml"
    text = REGISTRY
    for friend_id, name, images, captioned in friends:
        text += friend_entry(friend_id, name)
        (root / "datasets" / friend_id / f"30_{friend_id}").mkdir(parents=True, exist_ok=True)
        for index in range(images):
            add_photo(registry_path, friend_id, index, caption=index < captioned)
    registry_path.write_text(text, encoding="utf-8")
    (root / "logs").mkdir(exist_ok=True)
    return registry_path


def write_run(
    registry_path: Path,
    friend_id: str,
    run_id: str,
    *,
    steps: int = 0,
    max_steps: int = 60,
    live: bool = True,
    status: str | None = None,
    started_at: float = FIXED_NOW - 120,
    host: str | None = None,
) -> RunDir:
    """A run directory as the supervisor (or, with `host`, a host run's follower) writes it;
    `live` makes this test process its supervisor."""
    run = RunDir(registry_path.parent / "logs" / friend_id / run_id)
    run.path.mkdir(parents=True)
    write_run_toml(
        run,
        {"run_id": run_id, "friend": friend_id, "backend": "builtin", "preset": "demo", "created_at": started_at}
        | ({"host": host} if host else {}),
        {"max_train_steps": max_steps},
    )
    write_pid_file(run.supervisor_pid, ProcessRecord.of(os.getpid()) if live else ProcessRecord(os.getpid(), "ended"))
    with EventWriter(run.events) as events:
        events.write("supervisor", t=started_at, state="started", pid=os.getpid())
        events.write(
            "start",
            t=started_at,
            run_id=run_id,
            friend=friend_id,
            backend="builtin",
            max_steps=max_steps,
            device="cpu",
            images=24,
            preset="demo",
        )
    append_steps(run, range(1, steps + 1), max_steps, started_at)
    if status is not None:
        with EventWriter(run.events) as events:
            events.write("done", status=status, lora_path=None)
            events.write("supervisor", state="backend-exited", pid=os.getpid(), detail="exit code 0")
    return run


def queue_run(registry_path: Path, friend_id: str, run_id: str, target: str = "here") -> RunDir:
    """A run created and queued as `qbtui train --queue` leaves it, to start `target` (here, a host, anywhere)."""
    run = RunDir(registry_path.parent / "logs" / friend_id / run_id)
    run.path.mkdir(parents=True)
    write_run_toml(
        run,
        {"run_id": run_id, "friend": friend_id, "backend": "builtin", "preset": "demo", "created_at": time.time()}
        | {"target": target},
        {"max_train_steps": 60},
    )
    enqueue(Registry.load(registry_path).settings, run)
    return run


def step_loss(step: int) -> float:
    return round(0.30 / (1 + step / 10) + (step % 3) * 0.01, 4)


def append_steps(run: RunDir, steps: Iterable[int], max_steps: int = 60, started_at: float = FIXED_NOW - 120) -> None:
    """Append step events (two a second from `started_at`, a log line each) as a backend does."""
    with EventWriter(run.events) as events, run.output_log.open("a", encoding="utf-8") as log:
        for step in steps:
            loss = step_loss(step)
            events.write(
                "step",
                t=started_at + step / 2.0,
                step=step,
                max_steps=max_steps,
                loss=loss,
                avg_loss=round(loss * 0.95, 4),
                lr=1e-4,
                it_s=2.0,
                eta_s=(max_steps - step) / 2.0,
            )
            log.write(f"step {step}/{max_steps} loss {loss:.4f}\n")


@pytest.fixture(autouse=True)
def no_face_analysis(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI tests run without face checks (seconds of dlib per workspace on a busy machine);
    a test marked `faces` keeps them (see test_faces_tui.py)."""
    if request.node.get_closest_marker("faces") is None:
        from qbtui.workspace import Workspace

        monkeypatch.setattr(Workspace, "_known_faces", lambda self, status: status)
        monkeypatch.setattr(Workspace, "faces_pending", lambda self, friend_id: False)


@pytest.fixture(autouse=True)
def no_blinking_cursors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cursors stay on, so screens and snapshots do not depend on timing."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo-like workspace, built once; tests copy it."""
    return build_workspace(tmp_path_factory.mktemp("demo-template"))


@pytest.fixture
def demo_registry(demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo-like workspace; returns its registry.toml."""
    import shutil

    shutil.copytree(demo_template.parent, tmp_path / "demo")
    return tmp_path / "demo" / "registry.toml"


@pytest.fixture
def app_factory() -> Callable[..., object]:
    """The production factory (`qbtui.tui.make_app`) with a fixed clock; `watch=True` turns the folder watcher on."""
    from qbtui.tui import make_app

    def make(registry_path: Path, *, watch: bool = False, clock: Callable[[], float] = lambda: FIXED_NOW) -> QbtuiApp:
        return make_app(registry_path, clock=clock, watch=watch)

    return make


@pytest.fixture
def until() -> Callable[..., object]:
    """`await until(pilot, condition)`: see `wait_until`."""
    return wait_until


@pytest.fixture
def run_writer() -> Callable[..., RunDir]:
    """`write_run(registry_path, friend_id, run_id, steps=..., live=..., status=...)`."""
    return write_run


@pytest.fixture
def step_writer() -> Callable[..., None]:
    """`append_steps(run, steps, max_steps)`."""
    return append_steps


@pytest.fixture
def photo_adder() -> Callable[..., Path]:
    """`add_photo(registry_path, friend_id, index, caption=True)`."""
    return add_photo


async def wait_for_first_scan(pilot) -> None:
    """Until live updates run (they start after the first frame) and every friend was scanned."""
    app = pilot.app
    await wait_until(pilot, lambda: all(app.workspace.status(friend.id) is not None for friend in app.workspace.friends()))
    await workers_idle(pilot)


@pytest.fixture
def settle() -> Callable[..., object]:
    """`await settle(pilot)`: see `wait_for_first_scan`."""
    return wait_for_first_scan
