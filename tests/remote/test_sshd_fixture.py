"""The throwaway sshd accepts the generated key; the remote shell sees a shell-quoted command whole."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from tests.remote.sshd import start_sshd


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
