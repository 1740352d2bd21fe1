"""The bare `qbtui [--registry PATH]` is parsed without the commands' modules; anything else
goes to the whole parser, so commands, --help, --version and errors behave as before."""

from __future__ import annotations

import pytest

from qbtui.cli import dashboard_args, main


@pytest.mark.parametrize(
    ("argv", "registry"), [([], None), (["--registry", "r.toml"], "r.toml"), (["--registry=r.toml"], "r.toml")]
)
def test_the_dashboard_alone_is_parsed_by_the_small_parser(argv, registry):
    args = dashboard_args(argv)
    assert args is not None and args.registry == registry


@pytest.mark.parametrize(
    "argv",
    [["status"], ["--registry", "r.toml", "status"], ["-h"], ["--help"], ["--version"], ["--registry"], ["--reg", "r.toml"]],
)
def test_anything_else_goes_to_the_whole_parser(argv):
    assert dashboard_args(argv) is None


def test_a_missing_registry_value_is_the_whole_parsers_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--registry"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "COMMAND" in error and "--registry: expected one argument" in error
