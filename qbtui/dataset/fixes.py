"""Apply the fix a Problem names (its `action`), for the dashboard's "fix" key and scripts."""

from __future__ import annotations

from qbtui.dataset.prep import Progress
from qbtui.dataset.problems import Problem
from qbtui.errors import QbtuiError
from qbtui.registry import Friend, Settings, dataset_dir


def apply_fix(settings: Settings, friend: Friend, problem: Problem, *, progress: Progress | None = None) -> str:
    """Run the problem's action; returns a one-line summary of what changed."""
    from qbtui.dataset import captions, prep

    action = problem.action
    if action == "prep":
        report = prep.prepare_friend(settings, friend, progress=progress)
        return f"prepared {len(report.done)} photos, skipped {len(report.skipped)}"
    if action == "caption-init":
        return f"created {len(captions.init_captions(settings, friend))} captions"
    if action == "token-first":
        return f"put {friend.token} first in {len(captions.token_first(settings, friend))} captions"
    if action == "move-to-originals" and problem.path is not None:
        kept = prep.move_to_originals(settings, friend, problem.path)
        return f"moved {problem.path.name} to {kept}"
    if action == "add-folder":
        folder = dataset_dir(settings, friend)
        folder.mkdir(parents=True, exist_ok=True)
        return f"created {folder}"
    raise QbtuiError(f"qbtui cannot fix {problem.code} itself", path=problem.path, fix=problem.fix)
