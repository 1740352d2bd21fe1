"""`[hosts.<name>]` in registry.toml: where and how to reach a training machine.

```toml
[hosts.gpu1]
ssh = "gpu1"                        # as you would type it after `ssh`: an alias, user@host
qbtui = "~/qbtui/.venv/bin/qbtui"   # the qbtui command on that host (default "qbtui")
work_dir = "~/qbtui-work"           # photos, models, runs and LoRAs on that host
devices = "all"                     # or a list of GPU indexes, e.g. [0, 1]
max_runs = 1                        # runs at once on this host
ssh_options = []                    # extra ssh options, e.g. ["-F", "~/.ssh/other_config"]
```
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qbtui.errors import QbtuiError

# Words that name places, not hosts: `--host local`, a queued run's target `here` or `anywhere`.
LOCAL = "local"
HERE = "here"
ANYWHERE = "anywhere"
RESERVED_HOST_NAMES = (LOCAL, HERE, ANYWHERE)
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def host_section(name: str) -> str:
    """The TOML header of host `name`: `[hosts.gpu1]`, `[hosts."gpu1.lan"]` (a bare dot would nest a table)."""
    return f'[hosts."{name}"]' if "." in name else f"[hosts.{name}]"


def add_host_advice(name: str) -> str:
    """How to make `name` a known host: its section, or why it cannot be one (never an invalid header)."""
    if name.lower() in RESERVED_HOST_NAMES:
        return f"{name!r} names a place, not a host: `--host local` trains on this machine"
    if HOST_NAME.match(name):
        return f"or add a {host_section(name)} section"
    return "a host's name is letters, digits, '-', '_' or '.', starting with a letter or digit, e.g. [hosts.gpu1]"


DEFAULT_WORK_DIR = "~/qbtui-work"
HOST_KEYS: dict[str, tuple[type, ...]] = {
    "ssh": (str,),
    "qbtui": (str,),
    "work_dir": (str,),
    "devices": (str, list),
    "max_runs": (int,),
    "ssh_options": (list,),
}

Fail = Callable[[tuple[Any, ...], str, str], QbtuiError]


@dataclass(frozen=True)
class Host:
    """One training machine reached over SSH."""

    name: str
    ssh: str
    qbtui: tuple[str, ...] = ("qbtui",)
    work_dir: str = DEFAULT_WORK_DIR
    devices: tuple[int, ...] | None = None  # None: all the host has
    max_runs: int = 1
    ssh_options: tuple[str, ...] = field(default_factory=tuple)

    @property
    def device_text(self) -> str:
        """The devices as `qbtui hosts` prints them."""
        return "all" if self.devices is None else ",".join(map(str, self.devices))


def parse_hosts(raw: Any, fail: Fail) -> dict[str, Host]:
    """Validate the `[hosts]` table; `fail(key_path, message, fix)` builds the error to raise."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail(("hosts",), "must be a table", "write each host as a [hosts.NAME] section")
    return {name: _parse_host(name, entry, fail) for name, entry in raw.items()}


def _parse_host(name: str, entry: Any, fail: Fail) -> Host:
    path = ("hosts", name)
    if not HOST_NAME.match(name):
        raise fail(path, f"host name {name!r} is not a plain name", "use letters, digits, '-', '_' or '.', e.g. [hosts.gpu1]")
    if name.lower() in RESERVED_HOST_NAMES:
        raise fail(path, f"host name {name!r} names a place (`--host {name}`)", f"rename it, e.g. [hosts.{name}-gpu]")
    if not isinstance(entry, dict):
        raise fail(path, "must be a table", f'write it as a [hosts.{name}] section with ssh = "..."')
    for key, value in entry.items():
        if key not in HOST_KEYS:
            raise fail((*path, key), f"unknown key {key!r}", f"known keys: {', '.join(HOST_KEYS)}")
        allowed = HOST_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise fail((*path, key), f"has the wrong type ({type(value).__name__})", _type_fix(key))
    destination = entry.get("ssh", "")
    if not destination.strip() or destination.startswith("-") or any(c.isspace() for c in destination):
        raise fail(
            (*path, "ssh"), f"{destination!r} is not an ssh destination", 'write what you type after `ssh`, e.g. ssh = "gpu1"'
        )
    try:
        command = tuple(shlex.split(entry.get("qbtui", "qbtui")))
    except ValueError as error:
        raise fail((*path, "qbtui"), f"cannot be split into words: {error}", 'e.g. qbtui = "~/qbtui/.venv/bin/qbtui"') from None
    if not command:
        raise fail((*path, "qbtui"), "is empty", 'e.g. qbtui = "~/qbtui/.venv/bin/qbtui"')
    work_dir = entry.get("work_dir", DEFAULT_WORK_DIR)
    if not work_dir.strip() or "\n" in work_dir:
        raise fail((*path, "work_dir"), "is empty", f'e.g. work_dir = "{DEFAULT_WORK_DIR}"')
    max_runs = entry.get("max_runs", 1)
    if max_runs < 1:
        raise fail((*path, "max_runs"), f"must be at least 1, found {max_runs}", "max_runs = 1 runs one training at a time")
    options = entry.get("ssh_options", [])
    if not all(isinstance(option, str) for option in options):
        raise fail((*path, "ssh_options"), "must be a list of strings", 'e.g. ssh_options = ["-p", "2222"]')
    return Host(
        name=name,
        ssh=destination,
        qbtui=command,
        work_dir=work_dir,
        devices=_devices(entry.get("devices", "all"), (*path, "devices"), fail),
        max_runs=max_runs,
        ssh_options=tuple(options),
    )


def _devices(value: Any, path: tuple[Any, ...], fail: Fail) -> tuple[int, ...] | None:
    if value == "all":
        return None
    if isinstance(value, list) and value and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value):
        if len(set(value)) != len(value):
            raise fail(path, "lists a device twice", "list each GPU index once, e.g. devices = [0, 1]")
        return tuple(value)
    raise fail(path, f'{value!r} is not "all" or a list of GPU indexes', 'write devices = "all" or devices = [0, 1]')


def _type_fix(key: str) -> str:
    return {
        "ssh": 'ssh = "gpu1"',
        "qbtui": 'qbtui = "~/qbtui/.venv/bin/qbtui"',
        "work_dir": f'work_dir = "{DEFAULT_WORK_DIR}"',
        "devices": 'devices = "all" or devices = [0, 1]',
        "max_runs": "max_runs = 1",
        "ssh_options": 'ssh_options = ["-p", "2222"]',
    }[key]
