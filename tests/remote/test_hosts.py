"""[hosts.NAME] validation, the remote command's quoting, and `qbtui hosts` against a real sshd."""

from __future__ import annotations

import json
import subprocess

import pytest

from qbtui.cli import main
from qbtui.registry import Registry, RegistryError
from qbtui.remote.ssh import remote_words


def load(registry_path, text):
    """The minimal registry (tests/conftest.py's `registry_path`) with `text` appended."""
    registry_path.write_text(registry_path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return Registry.load(registry_path)


def test_a_host_reads_with_its_defaults(registry_path):
    registry = load(registry_path, '[hosts.gpu1]\nssh = "me@gpu1"\n')
    host = registry.hosts["gpu1"]
    assert (host.ssh, host.qbtui, host.work_dir, host.devices, host.max_runs) == ("me@gpu1", ("qbtui",), "~/qbtui-work", None, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[hosts.gpu1]\nqbtui = "qbtui"\n', "hosts.gpu1.ssh"),
        ('[hosts.gpu1]\nssh = "-oProxyCommand=evil"\n', "not an ssh destination"),
        ('[hosts.gpu1]\nssh = "gpu1"\ndevices = [0, 0]\n', "lists a device twice"),
        ('[hosts.gpu1]\nssh = "gpu1"\ndevices = "some"\n', 'is not "all"'),
        ('[hosts.gpu1]\nssh = "gpu1"\nmax_runs = 0\n', "at least 1"),
        ('[hosts.gpu1]\nssh = "gpu1"\nport = 22\n', "unknown key 'port'"),
        ('[hosts.gpu1]\nssh = "gpu1"\nqbtui = "\'unclosed"\n', "cannot be split"),
        ('[hosts.anywhere]\nssh = "gpu1"\n', "names a place"),
        ('[hosts.Local]\nssh = "gpu1"\n', "names a place"),
    ],
)
def test_a_bad_host_is_an_error_naming_the_key(registry_path, text, expected):
    with pytest.raises(RegistryError) as raised:
        load(registry_path, text)
    assert expected in str(raised.value)
    assert raised.value.fix


def test_the_default_host_must_exist(registry_path):
    text = registry_path.read_text(encoding="utf-8").replace('preset = "standard"', 'preset = "standard"\nhost = "gpu9"')
    registry_path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match="unknown host 'gpu9'"):
        Registry.load(registry_path)


@pytest.mark.parametrize(
    ("host", "advice"),
    [
        ("gpu9", "or add a [hosts.gpu9] section"),
        ("gpu1.lan", 'or add a [hosts."gpu1.lan"] section'),
        ("-oProxyCommand=x", "a host's name is letters"),
    ],
)
def test_an_unknown_default_host_never_suggests_an_invalid_header(registry_path, host, advice):
    text = registry_path.read_text(encoding="utf-8").replace('preset = "standard"', f'preset = "standard"\nhost = "{host}"')
    registry_path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        Registry.load(registry_path)
    assert advice in raised.value.fix
    assert "[hosts.-" not in raised.value.fix


@pytest.mark.parametrize("word", ["plain", "two words", "$(touch /tmp/pwned)", "it's", "a;b|c&d", "~/qbtui/bin/qbtui", "`x`"])
def test_remote_words_reach_the_remote_shell_unchanged(word, tmp_path):
    shell = remote_words(["printf", "%s", word])
    printed = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True, env={"HOME": str(tmp_path)}).stdout
    expected = str(tmp_path) + word[1:] if word.startswith("~/") else word
    assert printed == expected


def test_hosts_reports_a_ready_host_and_an_unreachable_one(host_registry, capsys):
    path = host_registry.path
    path.write_text(path.read_text() + '\n[hosts.gone]\nssh = "nobody@127.0.0.1"\nssh_options = ["-p", "1"]\n')
    code = main(["--registry", str(path), "hosts", "--json"])
    reports = {report["host"]: report for report in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert reports["box"]["ok"] and reports["box"]["info"]["version"]
    assert not reports["gone"]["ok"]
    assert "cannot reach host gone" in reports["gone"]["findings"][0]["message"]
    assert main(["--registry", str(path), "hosts", "box"]) == 0
    assert "box (ssh qbtui-test-host): ready" in capsys.readouterr().out
