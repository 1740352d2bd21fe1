"""A host run's eval.json made this machine's: its paths translated, contained, its run and files checked.

The file comes from the host, so nothing in it is trusted: it must be this run's evaluation of this
friend (its cells' LoRA bare file names, as `Evaluation.from_json` checks), and a sample is kept only when its path, turned from the
host's into this machine's, lies (links resolved) in the run folder or the LoRA folder's `sample/`
(a base cell cached from an earlier run on the host names samples that stayed there).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from qbtui.errors import QbtuiError
from qbtui.likeness.report import Evaluation, write_evaluation
from qbtui.likeness.scoring import CellScore
from qbtui.remote.sync import replace_paths
from qbtui.rundir import RunDir
from qbtui.safefile import read_text


def localise_evaluation(run: RunDir, friend_id: str, lora_dir: Path, mapping: dict[str, str]) -> Evaluation:
    """Rewrite the run's pulled eval.json with this machine's paths; QbtuiError naming the file and the fix."""
    path = run.eval_json
    fix = f"`qbtui eval {run.run_id}` scores the run here and records its choice"
    if path.is_symlink():
        raise QbtuiError("the host's eval.json is a symbolic link, not a file", path=path, fix=fix)
    try:
        evaluation = Evaluation.from_json(replace_paths(json.loads(read_text(path)), mapping))
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise QbtuiError(f"the host's eval.json cannot be read: {error}", path=path, fix=fix) from None
    if (evaluation.run_id, evaluation.friend_id) != (run.run_id, friend_id):
        raise QbtuiError(
            f"the host's eval.json is for run {evaluation.run_id!r} of {evaluation.friend_id!r}, not this run", path=path, fix=fix
        )
    folders = [run.path.resolve(), (lora_dir / "sample").resolve()]
    cells = tuple(_contained(cell, folders) for cell in evaluation.cells)
    chosen = next((cell for cell in cells if evaluation.chosen and cell.key == evaluation.chosen.key), None)
    local = replace(evaluation, cells=cells, chosen=chosen)
    write_evaluation(path, local)
    return local


def _contained(cell: CellScore, folders: list[Path]) -> CellScore:
    """The cell without the samples whose (translated) path lies outside `folders`."""
    return replace(cell, samples=tuple(sample for sample in cell.samples if _inside(Path(sample.path), folders)))


def _inside(path: Path, folders: list[Path]) -> bool:
    if not path.is_absolute() or ".." in path.parts:
        return False
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return False
    return any(resolved.is_relative_to(folder) for folder in folders)
