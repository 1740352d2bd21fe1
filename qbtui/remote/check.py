"""`qbtui hosts`: is each host ready to train on, and if not, what to do."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.registry import Host
from qbtui.remote.ssh import HostUnreachable, Transport

MIN_FREE_DISK = 10 * 1024**3  # a base model, a friend's photos and a few LoRAs


@dataclass
class Finding:
    """One thing wrong with a host: `error` blocks training there, `warning` does not."""

    severity: str
    message: str
    fix: str


@dataclass
class HostReport:
    """What `qbtui hosts` found on one host."""

    host: Host
    info: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(finding.severity == "error" for finding in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host.name,
            "ssh": self.host.ssh,
            "ok": self.ok,
            "info": self.info,
            "findings": [finding.__dict__ for finding in self.findings],
        }


def check_host(host: Host, local_version: str) -> HostReport:
    """Reach the host, ask its qbtui about itself, and compare with what a run needs."""
    report = HostReport(host)
    transport = Transport(host)
    if shutil.which("rsync") is None:
        report.findings.append(
            Finding(
                "error", "rsync is not installed on this machine", "install rsync (apt-get install rsync, brew install rsync)"
            )
        )
    try:
        transport.run(["true"], timeout=60)
    except HostUnreachable as error:
        report.findings.append(Finding("error", str(error).split("\n")[0], error.fix or ""))
        return report
    try:
        from qbtui.remote.start import host_info

        report.info = host_info(transport)
    except QbtuiError as error:
        report.findings.append(Finding("error", str(error).split("\n")[0], error.fix or ""))
        return report
    info = report.info
    if not info.get("rsync"):
        report.findings.append(
            Finding("error", f"rsync is not installed on {host.name}", f"install rsync on {host.name} (apt-get install rsync)")
        )
    gpus = info.get("gpus") or []
    if not gpus:
        report.findings.append(
            Finding(
                "warning",
                f"no NVIDIA GPU found on {host.name} (nvidia-smi)",
                "install the NVIDIA driver there, or expect CPU speed",
            )
        )
    elif host.devices is not None:
        missing = sorted(set(host.devices) - {gpu["index"] for gpu in gpus})
        if missing:
            report.findings.append(
                Finding(
                    "error",
                    f"devices {missing} are not on {host.name}",
                    f"list GPU indexes from nvidia-smi under [hosts.{host.name}] devices",
                )
            )
    if int(info.get("disk_free", 0)) < MIN_FREE_DISK:
        free = int(info.get("disk_free", 0)) / 1024**3
        report.findings.append(
            Finding(
                "warning",
                f"only {free:.1f} GiB free in {info.get('work_dir')}",
                "free disk space there, or point work_dir elsewhere",
            )
        )
    return report


def format_report(report: HostReport) -> str:
    """The lines `qbtui hosts` prints for one host."""
    host, info = report.host, report.info
    lines = [f"{host.name} (ssh {host.ssh}): {'ready' if report.ok else 'NOT READY'}"]
    if info:
        free = int(info.get("disk_free", 0)) / 1024**3
        lines.append(
            f"  qbtui {info.get('version')} ({info.get('python')}), work folder {info.get('work_dir')}, {free:.1f} GiB free"
        )
        lines.append(f"  devices: {host.device_text}, up to {host.max_runs} run(s) at once")
        for gpu in info.get("gpus") or []:
            lines.append(f"  GPU {gpu['index']}: {gpu['name']}, {gpu.get('free_mib')} of {gpu.get('total_mib')} MiB free")
    for finding in report.findings:
        mark = "✗" if finding.severity == "error" else "!"
        lines.append(f"  {mark} {finding.message}")
        if finding.fix:
            lines.append(f"    fix: {finding.fix}")
    return "\n".join(lines)
