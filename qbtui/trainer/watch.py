"""Likeness while training: at each checkpoint (and the final step) the trainer draws the identity
samples with the UNet it holds, the face model scores them against the friend's photos, and one
`likeness` event per weight says how alike they look; the base model (weight 0) is scored once and
cached per base model and friend. The scores and the choice so far (`qbtui.likeness.scoring.choose`,
the README's rule) go into `eval.json` at each checkpoint, so the compare view works from them
during the run. At `done` the choice of the earlier checkpoints stands at once (an `eval chosen`
event the supervisor records); the final file is scored after it, its best weight so far first,
and each final cell that beats the choice replaces it the same way: no separate pass.

When scoring cannot work (the face engine not installed; photos that show no face, such as
drawings) the run says so in one `eval skipped` event naming the fix and draws no
identity samples at all. Scoring at a checkpoint is kept to `BUDGET_SHARE` of the training time
between two checkpoints: fewer samples per weight, said once in a warning. A stop asked while
scoring (`should_stop`) abandons the rest of it (StopRequested): the cell being drawn, and the
checkpoint's `eval checkpoint` event, are never written.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.events import EventWriter
from qbtui.likeness.evalcheck import validate_cell
from qbtui.likeness.faces import friend_references, sample_faces
from qbtui.likeness.live import likeness_fields, stop_early_reason
from qbtui.likeness.plan import SampleSpec, identity_specs, sample_name
from qbtui.likeness.report import Evaluation, cell_from_json, write_evaluation
from qbtui.likeness.scoring import CellScore, Choice, SampleFaces, choose, score_cell
from qbtui.likeness.standing import chosen_fields, final_order
from qbtui.rundir import RunDir
from qbtui.safefile import read_text
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.stopflag import stop_requested

NOT_MEASURED = "likeness not measured"
# Scoring at one checkpoint may take this share of the training time between two checkpoints.
BUDGET_SHARE = 0.10
BASE_CACHE = ".likeness-base"  # in the friend's logs folder: the base model's scores, by model, photos and samples


class LikenessWatch:
    """Scores the run's LoRA as it trains (`score`), and chooses at the end (`finish`)."""

    def __init__(self, config: TrainConfig, run_dir: Path, events: EventWriter, detector: Any, references: list, photos: int):
        self.config, self.run = config, RunDir(run_dir)
        self.events = events
        self.detector = detector
        self.references = references
        self.photos = photos
        self.specs = identity_specs(config.eval_prompts, seeds=config.eval_seeds, seed=config.eval_seed)
        self.per_weight = len(self.specs)
        self.budget_said = False
        self.base: CellScore | None = None
        self.cells: list[CellScore] = []
        self.bests: list[float | None] = []
        self.sample_s: float | None = None  # seconds to draw and score one sample
        self.spent_s = 0.0  # time spent scoring so far (not training)
        self.scored_steps: list[int] = []
        self.should_stop: Callable[[], bool] | None = None  # the stop asked between samples (`score`)

    @property
    def weights(self) -> list[float]:
        return sorted({float(weight) for weight in self.config.sample_weights if weight > 0})

    # --- scoring ----------------------------------------------------------------------------

    def score(
        self,
        base_model: Any,
        network: Any,
        *,
        step: int,
        label: str,
        lora: str,
        step_s: float | None,
        final: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        """Score the network at every sample weight (the base model first, once); `likeness` events and the log line.

        The final file (after `done`) is scored at the best weight so far first (`final_order`), the base model
        only after that cell, and the choice so far is stated after each cell (`stand`). StopRequested once
        `should_stop()` says so (asked between samples and denoising steps): the rest is abandoned."""
        started = time.perf_counter()
        self.should_stop = should_stop
        if not final:
            self._scoring(step, 0)
            self._score_base(base_model, network)
        self._fit_budget(step_s)
        progress = self._progress(final) if final else self._scoring_progress(step)
        weights = final_order(self.weights, self.choice().cell) if final else self.weights
        for index, weight in enumerate(weights):
            samples = self._draw(base_model, network, label, weight, self.specs[: self.per_weight], progress)
            cell = score_cell(label, step, lora, weight, samples, self.references)
            self.cells.append(cell)
            self.events.write("likeness", **likeness_fields(cell, self.choice()))
            if final:
                self._score_base(base_model, network)
                self.stand(pending=len(weights) - index - 1)
        best = self.choice().cell
        self.bests.append(best.likeness if best is not None else None)
        self.scored_steps.append(step)
        scores = [[cell.weight, cell.likeness] for cell in self.cells if cell.step == step]
        self.events.write("eval", stage="checkpoint", step=step, scores=scores, base=self.base.likeness if self.base else None)
        self._write_scores()
        self.spent_s += time.perf_counter() - started

    def stand(self, *, pending: int) -> None:
        """The choice so far into eval.json, then an `eval chosen` event (`pending`: final cells still to score):
        the supervisor records it in the run's registry row at once. At `done` it is the earlier checkpoints'."""
        evaluation = self._write_scores()
        self.events.write("eval", **chosen_fields(evaluation.chosen, evaluation.reason, pending))

    def choice(self) -> Choice:
        """The README's rule over every cell so far (the base model included, as the baseline)."""
        cells = ([self.base] if self.base else []) + self.cells
        return choose(cells, min_face_rate=self.config.eval_min_face_rate, has_references=True)

    def stop_reason(self) -> str | None:
        """Why the run may end now (`[settings] stop_early`), else None."""
        config = self.config
        return stop_early_reason(self.bests, patience=config.stop_early_patience, margin=config.stop_early_margin)

    def finish(self) -> Evaluation:
        """The choice into `eval.json` and a `result` event (the supervisor records it in the registry)."""
        from qbtui.trainer.evaluate import result_fields

        evaluation = self._write_scores()
        self.events.write("eval", stage="result", path=str(self.run.eval_json), **result_fields(evaluation))
        return evaluation

    def _write_scores(self) -> Evaluation:
        """The scores and the choice so far into `eval.json` (the compare view reads it during the run too)."""
        cells = ([self.base] if self.base else []) + self.cells
        choice = self.choice()
        evaluation = Evaluation.from_choice(
            self.config.run_id or self.run.run_id,
            self.config.friend_id,
            cells,
            choice,
            references=len(self.references),
            photos=self.photos,
            settings={
                "weights": self.weights,
                "prompts": list(self.config.eval_prompts),
                "seeds": self.config.eval_seeds,
                "seed": self.config.eval_seed,
                "steps": self.config.eval_steps,
                "size": min(self.config.size),
                "min_face_rate": self.config.eval_min_face_rate,
                "samples_per_weight": self.per_weight,
                "while_training": True,
            },
        )
        write_evaluation(self.run.eval_json, evaluation)
        return evaluation

    # --- parts ------------------------------------------------------------------------------

    def _fit_budget(self, step_s: float | None) -> None:
        """Fewer samples per weight when scoring would cost more than BUDGET_SHARE of the steps between checkpoints."""
        if self.budget_said or step_s is None or self.sample_s is None:
            return
        interval = self.config.save_every_n_steps or self.config.max_train_steps
        affordable = math.floor(BUDGET_SHARE * interval * step_s / self.sample_s)
        per_weight = max(1, min(len(self.specs), affordable // max(1, len(self.weights))))
        self.budget_said = True
        if per_weight < len(self.specs):
            self.per_weight = per_weight
            self.events.write(
                "warning",
                message=f"likeness: {per_weight} of {len(self.specs)} identity samples per weight at each checkpoint, "
                f"to keep scoring within {BUDGET_SHARE:.0%} of the training between checkpoints",
            )

    def _scoring(self, step: int, done: int) -> None:
        """An `eval scoring` event: at a checkpoint during training, `done` of this checkpoint's samples are
        drawn (the run's phase is `scoring` until its `eval checkpoint` event); `eta_s` once a sample was timed."""
        total = self.per_weight * len(self.weights)
        left = None if self.sample_s is None else self.sample_s * max(total - done, 0)
        self.events.write("eval", stage="scoring", step=step, done=done, total=total, eta_s=left)

    def _scoring_progress(self, step: int) -> Callable[[str, float, SampleFaces], None]:
        """One `eval scoring` event per sample drawn at a checkpoint during training."""
        done = [0]

        def drawn(label: str, weight: float, sample: SampleFaces) -> None:
            done[0] += 1
            self._scoring(step, done[0])

        return drawn

    def _progress(self, final: bool) -> Callable[[str, float, SampleFaces], None] | None:
        """After the last step the scoring is a visible pass: a plan and one `sample` event per image."""
        if not final:
            return None
        total = self.per_weight * len(self.weights)
        self.events.write(
            "eval",
            stage="plan",
            loras=["final"],
            weights=self.weights,
            prompts=list(self.config.eval_prompts),
            seeds=self.config.eval_seeds,
            steps=self.config.eval_steps,
            images=total,
            references=len(self.references),
            photos=self.photos,
        )
        done = [0]

        def drawn(label: str, weight: float, sample: SampleFaces) -> None:
            done[0] += 1
            self.events.write(
                "eval",
                stage="sample",
                done=done[0],
                total=total,
                lora=label,
                weight=weight,
                path=sample.path,
                faces=len(sample.descriptors),
            )

        return drawn

    def _draw(
        self,
        base_model: Any,
        network: Any,
        label: str,
        weight: float,
        specs: list[SampleSpec],
        progress: Callable[[str, float, SampleFaces], None] | None,
    ) -> list[SampleFaces]:
        """Render and detect `specs` with the network at `weight` (0: the base model), modes restored after."""
        from qbtui.trainer.sampling import render, sampling_mode, save_png

        config = self.config
        size, found = min(config.size), []
        self.run.eval_dir.mkdir(parents=True, exist_ok=True)
        network.set_multiplier(weight)
        try:
            with sampling_mode(base_model.unet, base_model.text_encoder, base_model.vae):
                for spec in specs:
                    stop_requested(self.should_stop)
                    started = time.perf_counter()
                    image = render(
                        base_model,
                        spec.prompt,
                        seed=spec.seed,
                        steps=config.eval_steps,
                        size=size,
                        guidance_scale=7.0,
                        should_stop=self.should_stop,
                    )
                    path = self.run.eval_dir / sample_name(label, weight, spec)
                    parameters = (
                        f"{spec.prompt}\nSteps: {config.eval_steps}, Sampler: Euler, CFG scale: 7.0, "
                        f"Seed: {spec.seed}, Size: {size}x{size}, LoRA weight: {weight}"
                    )
                    save_png(image, path, parameters)
                    found.append(
                        sample_faces(self.detector, image, path=str(path), prompt=spec.prompt, kind=spec.kind, seed=spec.seed)
                    )
                    self._timed(time.perf_counter() - started)
                    if progress is not None:
                        progress(label, weight, found[-1])
        finally:
            network.set_multiplier(1.0)
        return found

    def _timed(self, seconds: float) -> None:
        self.sample_s = seconds if self.sample_s is None else (self.sample_s + seconds) / 2

    def _score_base(self, base_model: Any, network: Any) -> None:
        if self.base is None:
            self.base = self._base_cell(base_model, network)

    def _base_cell(self, base_model: Any, network: Any) -> CellScore:
        """The base model at weight 0 over every identity sample, from the cache when this model, these photos
        and these samples were scored before."""
        key = self._base_key(base_model)
        cache = self.run.path.parent / BASE_CACHE / f"{key}.json"
        cached = _read_cached(cache)
        if cached is not None:
            cell, self.sample_s = cached
        else:
            cell = score_cell(
                "base", None, "", 0.0, self._draw(base_model, network, "base", 0.0, self.specs, None), self.references
            )
            _write_cached(cache, cell, self.sample_s)
        self.events.write("likeness", **likeness_fields(cell, Choice(None, "")))
        return cell

    def _base_key(self, base_model: Any) -> str:
        config = self.config
        facts = [
            base_model.model_hash,
            base_model.name,
            config.eval_steps,
            min(config.size),
            [asdict(spec) for spec in self.specs],
        ]
        facts.append([[round(value, 4) for value in reference] for reference in self.references])
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _write_cached(path: Path, cell: CellScore, sample_s: float | None) -> None:
    """Keep the base cell for the next run; a folder that cannot be written only costs that run the base samples."""
    try:
        path.parent.mkdir(exist_ok=True)
        write_text_atomic(path, json.dumps({"cell": asdict(cell), "sample_s": sample_s}) + "\n")
    except OSError as error:
        print(f"note: the base model's likeness was not cached: {error}", file=sys.stderr)


def _read_cached(path: Path) -> tuple[CellScore, float | None] | None:
    """A cached base cell and its seconds per sample; None when absent or unreadable (scored again)."""
    try:
        if not path.exists():
            return None
        data = json.loads(read_text(path))
        sample_s = data.get("sample_s")
        validate_cell(data["cell"])
        return cell_from_json(data["cell"]), float(sample_s) if isinstance(sample_s, (int, float)) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def start_watch(config: TrainConfig, run_dir: Path, events: EventWriter) -> LikenessWatch | None:
    """The run's watch, or None (after one `skipped` event saying why and the fix) when likeness cannot be measured."""
    if not config.evaluate_after_training or not config.eval_prompts:
        return None
    from qbtui.trainer.evaluate import load_detector

    try:
        detector = load_detector()
        references, photos = friend_references(detector, Path(config.train_data_dir), config.friend_id)
    except QbtuiError as error:
        events.write("eval", stage="skipped", message=f"{NOT_MEASURED}: {error.message}", fix=error.fix or "")
        return None
    return LikenessWatch(config, run_dir, events, detector, references, photos)
