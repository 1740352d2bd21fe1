"""One line of facts per friend: dataset status (with its face checks), last training, latest run.

`qbtui status` prints it and the dashboard's friend list shows it. Cheap to call again:
pass the same `ScanCache` and unchanged files are not re-read; runs are listed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.cards import card_of, preview_of
from qbtui.dataset import FriendStatus, ScanCache
from qbtui.dataset.checked import check_friend
from qbtui.registry import Friend, Registry, Training
from qbtui.runs import RunInfo, list_runs
from qbtui.runs.info import latest_run


@dataclass(frozen=True)
class FriendOverview:
    """What the dashboard and `qbtui status` show for one friend."""

    friend: Friend
    status: FriendStatus
    last_training: Training | None
    latest_run: RunInfo | None
    card: Path | None = None
    preview: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable shape of one entry of `qbtui status --json` (see the README)."""
        training = self.last_training
        run = self.latest_run
        return {
            "id": self.friend.id,
            "name": self.friend.name,
            "token": self.friend.token,
            "repeats": self.friend.repeats,
            "folder": str(self.status.folder),
            "images": self.status.image_count,
            "captions": self.status.caption_count,
            "problems": self.status.problem_count,
            "errors": sum(1 for problem in self.status.all_problems() if problem.severity == "error"),
            "ready": self.status.ready,
            "last_training": None
            if training is None
            else {
                "date": training.date,
                "steps": training.steps,
                "images": training.images,
                "preset": training.preset,
                "backend": training.backend,
                "lora_file": training.lora_file,
                "notes": training.notes,
                "run_id": training.run_id,
                "card": str(self.card) if self.card else None,
                "preview": str(self.preview) if self.preview else None,
            },
            "latest_run": None
            if run is None
            else {"run_id": run.run_id, "state": run.state, "step": run.step, "max_steps": run.max_steps},
        }


def friend_overviews(registry: Registry, scan_cache: ScanCache | None = None) -> list[FriendOverview]:
    """One overview per friend, in registry order."""
    runs = list_runs(registry.settings)
    return [
        FriendOverview(
            friend=friend,
            status=check_friend(registry.settings, friend, scan_cache=scan_cache),
            last_training=friend.last_training,
            latest_run=latest_run(runs, friend.id),
            card=card_of(registry.settings, friend.last_training),
            preview=preview_of(registry.settings, friend.last_training),
        )
        for friend in registry.friends.values()
    ]
