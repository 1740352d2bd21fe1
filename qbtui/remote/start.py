"""`qbtui train NAME --host H`: plan locally, lay the run out for the host, start the follower."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from qbtui import __version__
from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.registry import Host, Registry, add_host_advice, dataset_dir
from qbtui.remote.ssh import Transport
from qbtui.remote.sync import REMOTE_RUN_TOML, RemoteLayout, model_hash, replace_paths
from qbtui.rundir import RunDir, new_run_id, read_run_toml, write_run_toml
from qbtui.runs.info import RunInfo


def host_named(registry: Registry, name: str) -> Host:
    """The registry's host `name`, or an error listing the hosts there are (and the section to add, for a name one can have)."""
    if name not in registry.hosts:
        known = ", ".join(registry.hosts) or "none yet"
        add = add_host_advice(name)
        raise QbtuiError(f"no host {name!r} in the registry", path=registry.path, fix=f"use one of: {known}; {add}")
    return registry.hosts[name]


def host_info(transport: Transport) -> dict[str, Any]:
    """`qbtui agent info` on the host, parsed; QbtuiError when the host or its qbtui does not answer."""
    output = transport.qbtui("agent", "info", "--work-dir", transport.host.work_dir)
    try:
        info = json.loads(output)
    except ValueError:
        raise QbtuiError(
            f"qbtui on host {transport.host.name} printed something other than JSON: {output[:200]!r}",
            fix=f"check the qbtui command of [hosts.{transport.host.name}] with `qbtui hosts`",
        ) from None
    if info.get("version") != __version__:
        raise QbtuiError(
            f"host {transport.host.name} has qbtui {info.get('version')}, this machine {__version__}",
            fix="install the same qbtui version on both machines",
        )
    return dict(info)


def host_processes(host: Host, gpu_count: int) -> int:
    """Processes for one run on `host`: one per device it lists (or per GPU found, for "all"),
    data-parallel; 1 when the host runs several trainings at once (max_runs > 1) or has no GPU."""
    if host.max_runs > 1:
        return 1
    return max(1, len(host.devices) if host.devices is not None else gpu_count)


def start_remote_run(
    registry: Registry,
    friend_id: str,
    host_name: str,
    *,
    preset: str | None = None,
    steps: int | None = None,
    force: bool = False,
    on_checked: Callable[[Host], object] = lambda host: None,
) -> RunInfo:
    """Check the host and the dataset here (then `on_checked`), reach the host, write the local
    run directory, start its follower."""
    from qbtui.runs.manager import plan_run, submit_run

    registry.reload_if_changed()
    host = host_named(registry, host_name)
    plan = plan_run(registry, friend_id, run_id=new_run_id(friend_id), preset=preset, backend="builtin", steps=steps, force=force)
    on_checked(host)
    info = host_info(Transport(host))
    run_table = {"run_id": plan.run_id, "friend": plan.friend_id, "env": plan.env}
    extra_run, env, remote_train = host_fields(registry, run_table, plan.train, host, info)
    plan.train["num_processes"] = remote_train["num_processes"]
    plan.host = plan.target = host.name
    plan.extra_run = extra_run
    plan.env = env
    plan.host_capacity = host.max_runs
    remote_toml = remote_run_toml({**_plan_table(plan), "env": env}, remote_train, PurePosixPath(extra_run["remote_work_dir"]))
    return submit_run(registry.settings, plan, extra_files={REMOTE_RUN_TOML: remote_toml})


def lay_out_placed_run(run: RunDir) -> None:
    """Turn a queued run the queue placed on a host into a host run: reach the host (the
    errors of `host_info` when it does not answer), then add the host's paths to run.toml
    and write the run.toml the host gets."""
    data = read_run_toml(run)
    table = data["run"]
    registry = Registry.load(table["registry"])
    host = host_named(registry, str(table["host"]))
    info = host_info(Transport(host))
    extra_run, env, remote_train = host_fields(registry, table, data["train"], host, info)
    run_table = {**table, **extra_run, "env": env, "backend": "builtin"}
    remote_toml = remote_run_toml(run_table, remote_train, PurePosixPath(extra_run["remote_work_dir"]))
    write_text_atomic(run.path / REMOTE_RUN_TOML, remote_toml)
    write_run_toml(run, run_table, {**data["train"], "num_processes": remote_train["num_processes"]})


def host_fields(
    registry: Registry, run_table: dict[str, Any], train: dict[str, Any], host: Host, info: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """What a run on `host` adds to its run.toml [run], its environment, and its [train] with the host's paths."""
    settings = registry.settings
    layout = RemoteLayout(PurePosixPath(info["work_dir"]))
    friend = registry.friend(str(run_table["friend"]))
    run_id = str(run_table["run_id"])
    local_run = settings.logs_dir / friend.id / run_id
    remote_run = layout.run_dir(friend.id, run_id)
    remote_model = layout.model(model_hash(settings.base_model), settings.base_model)
    folder = dataset_dir(settings, friend)
    mapping = {
        str(settings.base_model): str(remote_model),
        str(settings.datasets_dir / friend.id): str(layout.work_dir / "datasets" / friend.id),
        str(settings.lora_dir): str(layout.lora_dir),
        str(local_run): str(remote_run),
    }
    remote_tokenizer = None
    if settings.tokenizer is not None:
        remote_tokenizer = layout.model(model_hash(settings.tokenizer), settings.tokenizer)
        mapping[str(settings.tokenizer)] = str(remote_tokenizer)
    extra_run = {
        "host": host.name,
        "base_model": str(settings.base_model),
        "remote_work_dir": str(layout.work_dir),
        "remote_run_dir": str(remote_run),
        "remote_lora_dir": str(layout.lora_dir),
        "remote_model": str(remote_model),
        "remote_folders": {str(folder): str(layout.training_folder(friend.id, folder.name))},
        **({"tokenizer": str(settings.tokenizer), "remote_tokenizer": str(remote_tokenizer)} if remote_tokenizer else {}),
    }
    env = {str(key): str(value) for key, value in dict(run_table.get("env") or {}).items()}
    if host.devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, host.devices))
    train = {**train, "num_processes": host_processes(host, len(info.get("gpus") or []))}
    return extra_run, env, replace_paths(train, mapping)


def _plan_table(plan: Any) -> dict[str, Any]:
    return {
        "run_id": plan.run_id,
        "friend": plan.friend_id,
        "preset": plan.preset,
        "images": plan.images,
        "max_steps": plan.max_steps,
        "output_name": plan.output_name,
        "stop_grace_s": plan.stop_grace_s,
    }


def remote_run_toml(run_table: dict[str, Any], remote_train: dict[str, Any], work_dir: PurePosixPath) -> str:
    """The run.toml the host's run directory gets: the host's paths, no registry."""
    import tomlkit

    layout = RemoteLayout(work_dir)
    document = tomlkit.document()
    document.add(tomlkit.comment("A qbtui run on this host, created by the machine that follows it."))
    document.add(
        "run",
        {
            "run_id": run_table["run_id"],
            "friend": run_table["friend"],
            "backend": "builtin",
            "preset": run_table["preset"],
            "qbtui_version": __version__,
            "images": run_table["images"],
            "max_steps": run_table["max_steps"],
            "registry": "",
            "output_dir": str(layout.lora_dir),
            "output_name": run_table["output_name"],
            "stop_grace_s": run_table["stop_grace_s"],
            "command": [],
            "env": run_table["env"],
        },
    )
    document.add(
        "train",
        {key: str(value) if isinstance(value, Path) else value for key, value in remote_train.items() if value is not None},
    )
    return tomlkit.dumps(document)
