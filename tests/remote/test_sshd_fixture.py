"""The throwaway sshd accepts the generated key; the remote shell sees a shell-quoted command whole."""

from __future__ import annotations

import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from tests.remote import sshd
from tests.remote.sshd import PortTaken, start_sshd


def test_key_login_runs_a_command_and_stop_refuses_new_logins(tmp_path: Path) -> None:
    server = start_sshd(tmp_path / "sshd")
    try:
        done = subprocess.run(
            server.ssh_argv(shlex.join(["printf", "%s", "hello world"])), check=False, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "hello world"
    finally:
        server.stop()
    again = subprocess.run(server.ssh_argv("true"), check=False, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0


def test_a_port_taken_before_sshd_binds_it_is_replaced_by_another(tmp_path: Path, monkeypatch) -> None:
    """Two xdist workers can be handed the same free port: the one that loses the race picks again."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortTaken):
            start_sshd(tmp_path / "explicit", port=taken)
        offered = iter([taken, sshd.free_port()])
        monkeypatch.setattr(sshd, "free_port", lambda: next(offered))
        server = start_sshd(tmp_path / "sshd")
        try:
            assert server.port != taken
        finally:
            server.stop()
