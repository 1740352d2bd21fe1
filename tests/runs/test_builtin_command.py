"""The builtin trainer's command: one process, or N data-parallel ones under torchrun."""

from __future__ import annotations

import sys
import tomllib

from qbtui.registry import Host
from qbtui.remote.agent import create_run
from qbtui.remote.start import host_processes
from qbtui.runs.backends.builtin import builtin_command


def test_one_process_runs_the_trainer_itself():
    assert builtin_command("/runs/r1") == [sys.executable, "-m", "qbtui.trainer", "/runs/r1"]


def test_several_processes_run_under_torchrun_on_a_free_local_port():
    argv = builtin_command("/runs/r1", processes=2)
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert argv[-3:] == ["-m", "qbtui.trainer", "/runs/r1"]
    options = dict(zip(argv[3:-3:2], argv[4:-3:2], strict=True))
    assert options == {
        "--nnodes": "1",
        "--nproc-per-node": "2",
        "--rdzv-backend": "c10d",
        "--rdzv-endpoint": "127.0.0.1:0",
        "--local-addr": "127.0.0.1",
        "--max-restarts": "0",
    }


def test_a_host_trains_one_run_on_each_of_its_devices():
    assert host_processes(Host("gpu1", "gpu1", devices=(0, 1)), gpu_count=4) == 2
    assert host_processes(Host("gpu1", "gpu1"), gpu_count=2) == 2  # devices = "all"
    assert host_processes(Host("gpu1", "gpu1"), gpu_count=0) == 1
    assert host_processes(Host("gpu1", "gpu1", devices=(0, 1), max_runs=2), gpu_count=2) == 1


def test_the_hosts_run_command_follows_the_runs_process_count(tmp_path):
    run_dir = tmp_path / "logs" / "peter" / "20260101-000000-peter-0a1b"
    run_toml = '[run]\nbackend = "builtin"\n[train]\nnum_processes = 2\n'
    create_run(str(tmp_path), str(run_dir), run_toml)
    command = tomllib.loads((run_dir / "run.toml").read_text())["run"]["command"]
    assert command == builtin_command(run_dir.absolute(), processes=2)
