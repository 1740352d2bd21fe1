"""A throwaway OpenSSH server on 127.0.0.1 for tests that cross a real SSH connection.

It runs the system `sshd` (Debian's openssh-server) with its own config, a generated host
key and user key, on a free high port, as the current user; nothing else on the machine
is configured. `ssh_config` is an OpenSSH client config whose `Host` alias reaches it, so
code under test calls plain `ssh -F <config> <alias>` (or sets `GIT_SSH`-style options)
exactly as a user's `~/.ssh/config` alias would.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ALIAS = "qbtui-test-host"


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        raise RuntimeError(f"{name} is not installed: `apt-get install {package}` (scripts/system-deps installs it)")
    return found


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SshServer:
    """A running sshd and the client config that reaches it."""

    root: Path
    port: int
    user: str
    process: subprocess.Popen[bytes]
    client_key: Path
    ssh_config: Path

    @property
    def alias(self) -> str:
        return ALIAS

    def ssh_argv(self, *command: str) -> list[str]:
        """`ssh -F <config> <alias> [command...]` as an argument list.

        ssh joins the command words with spaces for the remote shell: quote them first
        (`shlex.join`) when they hold spaces or shell characters.
        """
        return ["ssh", "-F", str(self.ssh_config), ALIAS, *command]

    def stop(self) -> None:
        """Stop the server (existing connections end too)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PortTaken(RuntimeError):
    """sshd could not bind its port: something (a test in another xdist worker) took it first."""


def start_sshd(root: Path, timeout: float = 30.0, port: int | None = None) -> SshServer:
    """Generate keys and a config under `root` (kept when already there), start sshd on
    `port` (default a free one, another one when a parallel test takes it first), wait until it answers."""
    tries = 1 if port else 5
    for attempt in range(1, tries + 1):
        try:
            return _start_on(root, timeout, port or free_port())
        except PortTaken:
            if attempt == tries:
                raise
    raise AssertionError("unreachable")


def _start_on(root: Path, timeout: float, port: int) -> SshServer:
    sshd = _binary("sshd", "openssh-server")
    keygen = _binary("ssh-keygen", "openssh-client")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    host_key, client_key = root / "host_ed25519", root / "client_ed25519"
    for key in (host_key, client_key):
        if not key.exists():
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = root / "authorized_keys"
    shutil.copyfile(client_key.with_suffix(".pub"), authorized)
    os.chmod(authorized, 0o600)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # Debian's sshd wants its privilege separation dir
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {root / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",
                "AllowTcpForwarding no",
                "X11Forwarding no",
                "PrintMotd no",
                "AcceptEnv LANG LC_*",
                "LogLevel ERROR",
                "",
            ]
        ),
        encoding="utf-8",
    )
    log = (root / "sshd.log").open("wb")
    process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    user = getpass.getuser()
    ssh_config = root / "ssh_config"
    ssh_config.write_text(
        "\n".join(
            [
                f"Host {ALIAS}",
                "  HostName 127.0.0.1",
                f"  Port {port}",
                f"  User {user}",
                f"  IdentityFile {client_key}",
                "  IdentitiesOnly yes",
                "  StrictHostKeyChecking no",
                f"  UserKnownHostsFile {root / 'known_hosts'}",
                "  LogLevel ERROR",
                "  BatchMode yes",
                "  ConnectTimeout 10",
                "",
            ]
        ),
        encoding="utf-8",
    )
    server = SshServer(root, port, user, process, client_key, ssh_config)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log_text = (root / "sshd.log").read_text(errors="replace")
            error = PortTaken if "Address already in use" in log_text else RuntimeError
            raise error(f"sshd exited with {process.returncode}: {log_text}")
        probe = subprocess.run(server.ssh_argv("true"), check=False, capture_output=True, text=True)
        if probe.returncode == 0:
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"sshd on port {port} did not accept a login: {probe.stderr.strip()}")
        time.sleep(0.2)
