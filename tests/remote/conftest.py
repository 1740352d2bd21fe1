"""Fixtures for runs on a host: the run tests' workspace plus a throwaway sshd as [hosts.box]."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbtui.registry import Registry
from qbtui.remote.ssh import Transport
from qbtui.runs.liveness import read_pid_file
from tests.remote.sshd import SshServer, start_sshd
from tests.runs.conftest import poll_state, poll_until, workspace  # noqa: F401 - fixtures shared with the run tests

REPO = Path(__file__).resolve().parents[2]
STANDIN_HOST = Path(__file__).parent / "standin_host.py"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.fixture
def host_registry(workspace: Registry, sshd: SshServer, tmp_path: Path) -> Iterator[Registry]:  # noqa: F811
    """The workspace with `[hosts.box]`: the throwaway sshd, this checkout's qbtui with the stand-in trainer."""
    work = tmp_path / "host-work"
    command = f"env PYTHONPATH={REPO} STANDIN_STEP_S=0.3 {sys.executable} {STANDIN_HOST}"
    workspace.path.write_text(
        workspace.path.read_text()
        + f'\n[hosts.box]\nssh = "{sshd.alias}"\nqbtui = "{command}"\nwork_dir = "{work}"\n'
        + f'ssh_options = ["-F", "{sshd.ssh_config}"]\n'
    )
    registry = Registry.load(workspace.path)
    yield registry
    Transport(registry.hosts["box"]).close()
    for pid_file in work.glob("logs/*/*/*.pid"):
        record = read_pid_file(pid_file)
        if record is not None and record.is_alive():
            os.killpg(record.pid, signal.SIGKILL)


@pytest.fixture
def wait_for():
    return poll_until


@pytest.fixture
def wait_for_state():
    return poll_state
