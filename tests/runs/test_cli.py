"""`qbtui train/runs/logs/stop/resume/queue` against a workspace with stand-in backends."""

from __future__ import annotations

import json
import os
import signal

import pytest

from qbtui.cli import build_parser, main
from qbtui.events import read_events
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.format import format_duration, format_event
from qbtui.runs.info import read_run
from qbtui.runs.liveness import read_pid_file


def qbtui(workspace, *args):
    return main(["--registry", str(workspace.path), *args])


def test_train_wait_follows_to_the_end(workspace, capsys):
    assert qbtui(workspace, "train", "peter", "--wait") == 0
    out = capsys.readouterr().out
    assert "started run" in out and "step 8/8  loss 0.1250" in out and "done: completed" in out
    assert "ETA 0:00" not in out and "step 8/8  loss 0.1250  avg 0.1250  50.00 it/s  ETA -" in out
    assert qbtui(workspace, "runs", "--json") == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert (run["friend"], run["state"], run["step"], run["max_steps"]) == ("peter", "completed", 8, 8)
    assert qbtui(workspace, "runs") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["RUN", "FRIEND", "WHERE", "BACKEND", "PRESET", "STATE", "STEP", "AVG_LOSS", "IT/S", "ETA"]
    assert table[1].split()[1:7] == ["peter", "here", "builtin", "quick", "completed", "8/8"]
    assert qbtui(workspace, "logs", "peter") == 0
    assert "start peter with builtin (quick): 8 steps" in capsys.readouterr().out
    assert qbtui(workspace, "logs", run["run_id"], "--raw") == 0
    assert "step 8/8" in capsys.readouterr().out


def test_stop_queue_and_resume_from_the_command_line(workspace, capsys, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_STEP_S", "0.5")
    assert qbtui(workspace, "train", "peter") == 0
    peter_path = workspace.settings.logs_dir / "peter" / capsys.readouterr().out.split()[2]
    assert qbtui(workspace, "train", "maria") == 2
    assert "--queue" in capsys.readouterr().err
    assert qbtui(workspace, "train", "maria", "--queue") == 0
    queued_id = capsys.readouterr().out.split()[2]
    assert qbtui(workspace, "queue") == 0
    assert capsys.readouterr().out.strip() == f"1. {queued_id}  waits (here runs 1 of 1)"
    assert qbtui(workspace, "queue", "cancel", queued_id) == 0
    assert "the queue is empty" in capsys.readouterr().out
    wait_for(lambda: read_run(peter_path).step >= 1, what="step 1")
    assert qbtui(workspace, "stop", "peter") == 0
    stopped = capsys.readouterr().out
    assert " is stopped at step " in stopped and "qbtui resume" in stopped
    run_id = stopped.split()[1]
    monkeypatch.setenv("STANDIN_STEP_S", "0.01")
    assert qbtui(workspace, "resume", run_id, "--wait") == 0
    assert "done: completed" in capsys.readouterr().out


def test_a_stop_during_the_likeness_pass_leaves_a_completed_run(workspace, capsys, monkeypatch, wait_for):
    monkeypatch.setenv("STANDIN_MODE", "eval")
    assert qbtui(workspace, "train", "peter") == 0
    run_id = capsys.readouterr().out.split()[2]
    run_path = workspace.settings.logs_dir / "peter" / run_id
    wait_for(lambda: any(event["type"] == "eval" for event in read_events(RunDir(run_path).events)), what="the pass")
    assert qbtui(workspace, "stop", run_id) == 0
    ended = capsys.readouterr().out
    assert f"run {run_id} is completed at step 8/8" in ended and "resume" not in ended  # nothing to resume


def test_errors_are_one_line_with_a_fix(workspace, capsys):
    assert qbtui(workspace, "stop", "nobody") == 2
    assert "no runs for 'nobody'" in capsys.readouterr().err
    assert qbtui(workspace, "queue", "up") == 2
    assert "needs a run id" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "runs", "logs", "stop", "resume", "queue"])
def test_every_run_command_has_help_with_an_example(command):
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    help_text = subparsers.choices[command].format_help()
    assert "examples:" in help_text and f"qbtui {command}" in help_text


def test_event_lines_are_readable():
    assert format_duration(3723) == "1:02:03" and format_duration(65) == "1:05" and format_duration(None) == "-"
    line = format_event(
        {
            "t": 0,
            "type": "step",
            "step": 5,
            "max_steps": 1080,
            "loss": 0.133,
            "avg_loss": 0.133,
            "it_s": 1 / 236.66,
            "eta_s": 254410,
        }
    )
    assert line.endswith("step 5/1080  loss 0.1330  avg 0.1330  0.00 it/s  ETA 70:40:10")
    last_steps = [format_event({"t": 0, "type": "step", "step": n, "max_steps": 30, "eta_s": (30 - n) / 9}) for n in (28, 29, 30)]
    assert [line.split("ETA ")[1] for line in last_steps] == ["-", "-", "-"], "samples still follow: never ETA 0:00"
    assert format_event({"t": 0, "type": "step", "step": 20, "max_steps": 30, "eta_s": 1.2}).endswith("ETA 0:01")
    start = {"t": 0, "type": "start", "friend": "ada", "backend": "builtin", "preset": "fast", "max_steps": 200, "images": 24}
    assert format_event(start | {"device": "cpu", "mixed_precision": "bf16"}).endswith("24 images on cpu in bf16")
    assert format_event(start | {"device": "mps", "mixed_precision": "no"}).endswith("24 images on mps in float32")
    assert format_event(start | {"device": "cuda"}).endswith("24 images on cuda")  # kohya's start names none
    error = format_event({"t": 0, "type": "error", "message": "boom", "hint": "do x", "log_tail": ["a", "b"]})
    assert error.endswith("error: boom\n  fix: do x\n  | a\n  | b")


def test_a_queued_run_says_why_it_waits_everywhere(workspace, capsys, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.5")
    assert qbtui(workspace, "train", "peter", "--steps", "400") == 0
    assert qbtui(workspace, "train", "maria", "--queue") == 0
    queued_id = capsys.readouterr().out.split("queued run ")[1].split()[0]
    why = "waits (here runs 1 of 1)"
    assert qbtui(workspace, "runs") == 0
    assert capsys.readouterr().out.endswith(f"\n\n{queued_id}: {why}\n"), "a line under the table"
    assert qbtui(workspace, "runs", "--json") == 0
    waits = {run["friend"]: run["waits"] for run in json.loads(capsys.readouterr().out)}
    assert waits == {"peter": None, "maria": "here runs 1 of 1"}
    assert qbtui(workspace, "queue") == 0
    assert capsys.readouterr().out == f"1. {queued_id}  {why}\n"
    assert qbtui(workspace, "logs", queued_id) == 0
    assert capsys.readouterr().out == f"run {queued_id} is queued: {why}\n"
    assert qbtui(workspace, "stop", "maria") == 0 and qbtui(workspace, "stop", "peter") == 0


def test_logs_of_a_crashed_run_say_why(workspace, capsys, wait_for_state):
    info = manager.start_run(workspace, "peter")
    supervisor = read_pid_file(RunDir(info.path).supervisor_pid)
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_for_state(info.path, ("crashed",))
    assert qbtui(workspace, "logs", "peter", "-f") == 0
    out = capsys.readouterr().out
    assert "ended: crashed" in out and "crashed: the supervisor process is gone" in out


def test_train_queue_pins_with_host_local_or_starts_anywhere(workspace, capsys, monkeypatch):
    monkeypatch.setenv("STANDIN_STEP_S", "0.5")
    workspace.path.write_text(workspace.path.read_text() + '\n[hosts.gpu1]\nssh = "gpu1.invalid"\n')
    assert qbtui(workspace, "train", "peter", "--steps", "400", "--queue") == 0
    assert "started run" in capsys.readouterr().out, "this machine was free"
    assert qbtui(workspace, "train", "maria", "--queue", "--host", "local") == 0
    out = capsys.readouterr().out
    assert "queued run" in out and "(for this machine)" in out
    assert qbtui(workspace, "runs") == 0
    table = capsys.readouterr().out.split("\n\n")[0]
    rows = {line.split()[1]: line.split()[2] for line in table.splitlines()[1:]}
    assert rows == {"peter": "here", "maria": "here"}
    assert qbtui(workspace, "stop", "maria") == 0 and qbtui(workspace, "stop", "peter") == 0


@pytest.mark.parametrize(
    ("args", "default_host", "target"),
    [
        (["--queue"], "", "anywhere"),
        (["--queue"], "gpu1", "gpu1"),
        (["--host", "anywhere"], "gpu1", "anywhere"),
        (["--queue", "--host", "local"], "gpu1", "here"),
        (["--queue", "--host", "gpu1"], "", "gpu1"),
    ],
)
def test_train_queue_targets_follow_host_and_the_default_host(workspace, monkeypatch, args, default_host, target):
    text = workspace.path.read_text() + '\n[hosts.gpu1]\nssh = "gpu1.invalid"\n'
    workspace.path.write_text(
        text.replace("[settings]\n", f'[settings]\nhost = "{default_host}"\n' if default_host else "[settings]\n")
    )
    asked = []

    def start_run(registry, friend_id, **options):
        asked.append(options)
        raise SystemExit(0)

    monkeypatch.setattr(manager, "start_run", start_run)
    with pytest.raises(SystemExit):
        qbtui(workspace, "train", "maria", *args)
    assert (asked[0]["queue"], asked[0]["target"]) == (True, target)


@pytest.mark.parametrize(
    ("host", "fix"),
    [
        ("nosuch", "use one of: none yet; or add a [hosts.nosuch] section"),
        ("gpu1.lan", 'or add a [hosts."gpu1.lan"] section'),
        ("-oProxyCommand=touch x", "a host's name is letters, digits, '-', '_' or '.', starting with a letter or digit"),
        ("here", "'here' names a place, not a host: `--host local` trains on this machine"),
    ],
)
def test_train_on_an_unknown_host_says_so_before_any_copying(workspace, capsys, host, fix):
    assert qbtui(workspace, "train", "peter", f"--host={host}") == 2
    err = capsys.readouterr().err
    assert "copying" not in err and f"no host {host!r} in the registry" in err and "fix: use one of: none yet; " in err
    assert fix in err
    assert "[hosts.-" not in err


def test_train_on_a_host_says_copying_only_once_the_local_checks_pass(workspace, capsys, monkeypatch):
    from qbtui.errors import QbtuiError
    from qbtui.remote import start

    with open(workspace.path, "a", encoding="utf-8") as registry:
        registry.write('\n[hosts.box]\nssh = "box.invalid"\n')
    monkeypatch.setattr(start, "host_info", lambda transport: (_ for _ in ()).throw(QbtuiError("host box does not answer")))
    next((workspace.settings.datasets_dir / "peter" / "30_peter").glob("*.txt")).unlink()
    assert qbtui(workspace, "train", "peter", "--host", "box") == 2
    err = capsys.readouterr().err
    assert "copying" not in err and "not ready to train" in err
    assert qbtui(workspace, "train", "maria", "--host", "box") == 2
    err = capsys.readouterr().err
    assert err.index("copying maria's photos and the base model to box") < err.index("host box does not answer")


def test_not_ready_to_train_lists_one_line_per_problem_with_names_escaped(workspace, capsys):
    folder = workspace.settings.datasets_dir / "peter" / "30_peter"
    os.mkfifo(folder / "zz\nfifo\x1b[2J.jpg")
    assert qbtui(workspace, "train", "peter", "--steps", "2") == 2
    lines = capsys.readouterr().err.splitlines()
    assert any("not ready to train" in line for line in lines), lines
    [listed] = [line for line in lines if line.startswith("  - ")]
    assert "zz\\nfifo\\x1b[2J.jpg" in listed and "\x1b" not in listed
    assert any(line.startswith("  fix: fix them") for line in lines), lines
