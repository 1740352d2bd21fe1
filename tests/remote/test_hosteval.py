"""A host's eval.json is made this machine's: paths translated and contained, another run's file refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbtui.errors import QbtuiError
from qbtui.likeness.report import Evaluation, read_evaluation, write_evaluation
from qbtui.likeness.scoring import CellScore, SampleScore
from qbtui.remote.hosteval import localise_evaluation
from qbtui.rundir import RunDir

HOST_RUN = "/srv/work/logs/peter/20260101-000000-peter"
HOST_LORAS = "/srv/work/loras"


def host_eval_json(run: RunDir, samples: list[str], *, run_id: str | None = None) -> None:
    scored = tuple(SampleScore(path, "a photo", "identity", 1000, 1, 0.4) for path in samples)
    cell = CellScore("final", 6, "qb_peter_lora.safetensors", 0.8, 1.0, None, 0.4, 1.0, None, scored)
    write_evaluation(run.eval_json, Evaluation(run_id or run.run_id, "peter", (cell,), cell, "best likeness"))


@pytest.fixture
def local(tmp_path: Path) -> tuple[RunDir, Path, dict[str, str]]:
    run = RunDir(tmp_path / "logs" / "peter" / "20260101-000000-peter")
    (run.path / "eval").mkdir(parents=True)
    loras = tmp_path / "loras"
    (loras / "sample").mkdir(parents=True)
    return run, loras, {HOST_RUN: str(run.path), HOST_LORAS: str(loras)}


def test_sample_paths_are_translated_and_those_outside_the_run_dropped(local, tmp_path):
    run, loras, mapping = local
    (run.path / "eval" / "final.png").write_bytes(b"png")
    (loras / "sample" / "qb_peter_lora_1.png").write_bytes(b"png")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    (run.path / "eval" / "link.png").symlink_to(outside)
    host_eval_json(
        run,
        [
            f"{HOST_RUN}/eval/final.png",
            f"{HOST_LORAS}/sample/qb_peter_lora_1.png",
            f"{HOST_RUN}/eval/link.png",  # a link out of the run folder
            f"{HOST_RUN}/eval/../../../../secret.png",
            "/srv/work/logs/peter/.base-cache/base.png",  # on the host only: not this machine's
            str(outside),
        ],
    )
    localise_evaluation(run, "peter", loras, mapping)
    evaluation = read_evaluation(run.eval_json)
    assert evaluation is not None and evaluation.chosen is not None
    assert [sample.path for sample in evaluation.chosen.samples] == [
        str(run.path / "eval" / "final.png"),
        str(loras / "sample" / "qb_peter_lora_1.png"),
    ]
    assert "/srv/work" not in run.eval_json.read_text()


def test_another_runs_a_broken_or_a_linked_eval_json_is_refused_naming_the_file(local):
    run, loras, mapping = local
    host_eval_json(run, [f"{HOST_RUN}/eval/final.png"], run_id="20250101-000000-ada")
    with pytest.raises(QbtuiError) as refused:
        localise_evaluation(run, "peter", loras, mapping)
    assert "not this run" in str(refused.value) and refused.value.path == run.eval_json
    run.eval_json.write_text(json.dumps({"run_id": run.run_id}))
    with pytest.raises(QbtuiError, match="cannot be read"):
        localise_evaluation(run, "peter", loras, mapping)
    elsewhere = run.path.parent / "elsewhere.json"
    run.eval_json.replace(elsewhere)
    run.eval_json.symlink_to(elsewhere)
    with pytest.raises(QbtuiError, match="symbolic link"):
        localise_evaluation(run, "peter", loras, mapping)
    assert elsewhere.read_text() == json.dumps({"run_id": run.run_id})
