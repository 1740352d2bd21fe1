"""The transport to a host: the system OpenSSH client and rsync, argument lists only.

Every call to a host goes through one shared connection (ControlMaster) kept for a few
minutes, so a `qbtui runs` poll or a reconnect costs no new handshake. The remote command
is one shell-quoted string (ssh hands it to the remote shell); a leading `~/` in a word
becomes `"$HOME"/...` so users can write `~/qbtui/.venv/bin/qbtui`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from qbtui.errors import QbtuiError
from qbtui.registry import Host

UNREACHABLE = 255  # ssh's own exit status when it could not connect
CONNECT_TIMEOUT_S = 15
COMMAND_TIMEOUT_S = 120.0
KEEPALIVE = ("-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3")


class HostUnreachable(QbtuiError):
    """ssh could not reach the host (exit status 255)."""


def remote_words(words: Sequence[str]) -> str:
    """One command line for the remote shell: each word quoted, `~/` kept expandable."""
    return " ".join(_remote_word(word) for word in words)


def _remote_word(word: str) -> str:
    if word == "~":
        return '"$HOME"'
    if word.startswith("~/"):
        return '"$HOME"/' + shlex.quote(word[2:])
    return shlex.quote(word)


def control_dir() -> Path:
    """A private folder for the connection sockets, with a short path (sockets have ~100 bytes)."""
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"qbtui-ssh-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise QbtuiError(
            "the ssh connection folder is not private", path=folder, fix=f"remove it (`rm -r {folder}`); qbtui recreates it"
        )
    return folder


class Transport:
    """Commands and file copies to one host."""

    def __init__(self, host: Host):
        self.host = host

    def ssh_options(self) -> list[str]:
        """The options before the destination: the user's first (ssh keeps the first value given)."""
        user = [os.path.expanduser(option) if option.startswith("~") else option for option in self.host.ssh_options]
        return [
            *user,
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={control_dir() / '%C'}",
            "-o", "ControlPersist=300",
            *KEEPALIVE,
        ]  # fmt: skip

    def argv(self, words: Sequence[str]) -> list[str]:
        """`ssh [options] destination 'quoted command'`."""
        return ["ssh", *self.ssh_options(), self.host.ssh, remote_words(words)]

    def qbtui_argv(self, *args: str) -> list[str]:
        """The host's qbtui with `args`."""
        return self.argv([*self.host.qbtui, *args])

    def run(
        self, words: Sequence[str], *, input_text: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on the host; HostUnreachable when ssh cannot connect."""
        try:
            done = subprocess.run(
                self.argv(words), input=input_text, capture_output=True, text=True, timeout=timeout, check=False,
                stdin=None if input_text is not None else subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise HostUnreachable(
                f"host {self.host.name} ({self.host.ssh}) did not answer within {timeout:.0f} s", fix=self.reach_fix()
            ) from None
        except FileNotFoundError:
            raise QbtuiError(
                "the ssh client is not installed", fix="install OpenSSH (`apt-get install openssh-client`)"
            ) from None
        if done.returncode == UNREACHABLE:
            detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no answer"
            raise HostUnreachable(f"cannot reach host {self.host.name} ({self.host.ssh}): {detail}", fix=self.reach_fix())
        return done

    def qbtui(self, *args: str, input_text: str | None = None, timeout: float = COMMAND_TIMEOUT_S) -> str:
        """Run the host's qbtui; its stdout, or QbtuiError with its stderr."""
        done = self.run([*self.host.qbtui, *args], input_text=input_text, timeout=timeout)
        if done.returncode != 0:
            message = done.stderr.strip() or f"exit status {done.returncode}"
            raise QbtuiError(
                f"qbtui on host {self.host.name} failed ({' '.join(args[:2])}): {message}",
                fix=f"check the qbtui command of [hosts.{self.host.name}] with `qbtui hosts`",
            )
        return done.stdout

    def popen_argv(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """A long-running ssh command (from `argv` or `qbtui_argv`), its stdout a pipe."""
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def rsync_argv(self, sources: Sequence[str], destination: str, *, options: Sequence[str] = ()) -> list[str]:
        """rsync over this host's ssh; remote paths are written `:path` (the host is filled in)."""

        def located(path: str) -> str:
            return f"{self.host.ssh}:{path[1:]}" if path.startswith(":") else path

        shell = shlex.join(["ssh", *self.ssh_options()])
        return ["rsync", "-a", "--partial", "--protect-args", "-e", shell, *options, *map(located, sources), located(destination)]

    def rsync(
        self, sources: Sequence[str], destination: str, *, options: Sequence[str] = (), timeout: float | None = None
    ) -> None:
        """Copy files with rsync; QbtuiError naming what failed."""
        try:
            done = subprocess.run(
                self.rsync_argv(sources, destination, options=options),
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise QbtuiError(
                "rsync is not installed here", fix="install rsync (`apt-get install rsync`, `brew install rsync`)"
            ) from None
        if done.returncode != 0:
            detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
            error_type = HostUnreachable if done.returncode == UNREACHABLE or "connection" in detail.lower() else QbtuiError
            raise error_type(f"copying to or from host {self.host.name} failed: {detail}", fix=self.reach_fix())

    def close(self) -> None:
        """End the shared connection (ssh -O exit); later calls open a new one."""
        subprocess.run(
            ["ssh", *self.ssh_options(), "-O", "exit", self.host.ssh],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False,
        )  # fmt: skip

    def reach_fix(self) -> str:
        return (
            f"check that `ssh {self.host.ssh}` works from this machine (keys, ~/.ssh/config); "
            f"`qbtui hosts` checks [hosts.{self.host.name}]"
        )
