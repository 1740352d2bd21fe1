"""`[settings] stop_early` and `train --stop-early` reach the builtin trainer's config; kohya refuses it (issue 23, deliver 5)."""

from __future__ import annotations

import pytest

from qbtui.cli import main
from qbtui.errors import QbtuiError
from qbtui.registry import Registry
from qbtui.runs import manager


def test_the_setting_and_the_flag_reach_the_trainer(workspace):
    plan = manager.plan_run(workspace, "peter", run_id="20261125-034512-peter-a1b2")
    assert (
        plan.train["stop_early"] is False and plan.train["stop_early_patience"] == 2 and plan.train["stop_early_margin"] == 0.02
    )
    assert manager.plan_run(workspace, "peter", run_id="20261125-034512-peter-a1b2", stop_early=True).train["stop_early"] is True
    workspace.set_setting("stop_early", True)
    workspace.set_setting("stop_early_patience", 3)
    plan = manager.plan_run(Registry.load(workspace.path), "peter", run_id="20261125-034512-peter-a1b2")
    assert plan.train["stop_early"] is True and plan.train["stop_early_patience"] == 3


def test_kohya_refuses_stop_early(workspace):
    with pytest.raises(QbtuiError, match="--stop-early needs the builtin trainer"):
        manager.plan_run(workspace, "peter", run_id="20261125-034512-peter-a1b2", backend="kohya", stop_early=True)


def test_train_stop_early_puts_it_in_the_runs_config(workspace, capsys):
    assert main(["--registry", str(workspace.path), "train", "peter", "--stop-early", "--wait"]) == 0
    run_id = capsys.readouterr().out.split()[2]
    from qbtui.rundir import read_run_toml, run_dir_for

    assert read_run_toml(run_dir_for(workspace.settings.logs_dir, run_id))["train"]["stop_early"] is True


def test_a_bad_patience_names_the_fix(workspace):
    text = workspace.path.read_text().replace("[settings]\n", "[settings]\nstop_early_patience = 0\n", 1)
    workspace.path.write_text(text)
    with pytest.raises(QbtuiError, match="stop_early_patience"):
        Registry.load(workspace.path)
