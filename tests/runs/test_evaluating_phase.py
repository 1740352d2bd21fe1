"""The likeness pass after the last step is a phase of its own in `qbtui runs`, and nothing tells
the user to train or evaluate again while it runs (issue 23, deliver 7)."""

from __future__ import annotations

import json
import threading

from qbtui.cli import main
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.info import read_run

FINAL = ("completed", "stopped", "failed", "crashed")


def qbtui(workspace, *args):
    return main(["--registry", str(workspace.path), *args])


def test_a_pass_after_the_last_step_is_the_evaluating_phase(workspace, capsys, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_MODE", "eval")  # after `done`: one sample of one, then it waits for release-eval
    info = manager.start_run(workspace, "peter")
    run = RunDir(info.path)
    wait_for(lambda: read_run(info.path).eval_done == 1, what="the pass's first sample")
    capsys.readouterr()
    assert qbtui(workspace, "runs", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["state"] == "running" and listed["phase"] == "evaluating"
    assert (listed["eval_done"], listed["eval_total"]) == (1, 1) and listed["step"] == 8
    assert qbtui(workspace, "runs") == 0
    table = capsys.readouterr().out
    assert "evaluating 1/1 " in table and " 8/8 " in table  # STATE: the pass; STEP: the step, as --json

    assert qbtui(workspace, "eval", "peter") == 2  # no second pass on top of the running one
    refused = capsys.readouterr().err
    assert "the likeness pass of run" in refused and "is running: evaluating 1/1" in refused
    assert "qbtui train" not in refused and "once it has ended" not in refused

    assert qbtui(workspace, "prompt", "Peter reads") == 0  # recorded at done: usable now
    out, err = capsys.readouterr()
    assert out.startswith("<lora:qb_peter_lora:") and "no trained LoRA" not in out + err

    shown = []
    show = threading.Thread(target=lambda: shown.append(qbtui(workspace, "eval", "peter", "--show")))
    show.start()
    wait_for(lambda: "following it" in capsys.readouterr().out or None, what="eval --show following the pass")
    (run.path / "release-eval").write_text("")
    show.join(timeout=60)
    assert shown == [0]
    assert wait_for_state(info.path, FINAL).state == "completed"
    assert read_run(info.path).phase == ""
