"""Shared fixtures: every test runs with its own config folder and no registry from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qbtui.modelenv import prepare_model_environment
from tests.face_photos import fetch_face_photos
from tests.terminal.tmux import QbtuiTerminal, qbtui_argv

# The suite runs offline like the product: tests that load models in-process get the same environment.
prepare_model_environment()

MINIMAL_REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
preset = "standard"

[presets.standard]
max_train_steps = 1200
network_dim = 16
network_alpha = 8
"""


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point qbtui's user config and cache folders at temp dirs and forget $QBTUI_REGISTRY."""
    config = tmp_path_factory.mktemp("qbtui-config")
    monkeypatch.setenv("QBTUI_CONFIG_DIR", str(config))
    monkeypatch.setenv("QBTUI_CACHE_DIR", str(tmp_path_factory.mktemp("qbtui-cache")))
    monkeypatch.delenv("QBTUI_REGISTRY", raising=False)
    return config


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    """A small valid registry.toml (relative paths, one preset, no friends) in tmp_path."""
    path = tmp_path / "registry.toml"
    path.write_text(MINIMAL_REGISTRY, encoding="utf-8")
    return path


@pytest.fixture
def qbtui_terminal() -> Iterator[object]:
    """`term = qbtui_terminal(registry, size=(80, 24), env=None, args=())`: the real dashboard
    in tmux, on a server of its own, killed at teardown (see tests/terminal/tmux.py)."""
    started: list[QbtuiTerminal] = []

    def start(
        registry: Path, size: tuple[int, int] = (80, 24), env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> QbtuiTerminal:
        terminal = QbtuiTerminal(*size)
        started.append(terminal)
        return terminal.start(qbtui_argv(registry, *args), env=env)

    yield start
    for terminal in started:
        terminal.close()


@pytest.fixture(scope="session")
def face_photos() -> Path:
    """The folder of real test photos (obama*.jpg, biden.jpg, 32bit.png), fetched if absent."""
    return fetch_face_photos()
