"""The likeness evaluation pass: sample every LoRA file at every weight, score the faces, choose.

The builtin trainer scores while it trains (`qbtui.trainer.watch`); this full pass is for a
deliberate `qbtui eval` (more seeds, other weights) and for kohya runs, as an evaluation run of its own: `python -m qbtui.trainer.evaluate RUN_DIR` reads the plan
from RUN_DIR/run.toml `[train]`, writes its events to RUN_DIR/events.jsonl and the scores to
the training run's `eval.json`. The face model is dlib's (`qbtui.faces`, no torch).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.events import EventWriter
from qbtui.likeness.faces import reference_descriptors, sample_faces, training_photos
from qbtui.likeness.plan import EvalPlan, LoraFile, reuse_key
from qbtui.likeness.report import Evaluation, write_evaluation
from qbtui.likeness.scoring import STYLE, Choice, SampleFaces, choose, score_cell
from qbtui.modelenv import prepare_model_environment
from qbtui.rundir import RunDir, read_run_toml
from qbtui.safefile import open_regular

STOPPED = "the evaluation was stopped before every sample was drawn"


def prepare_for_sampling(base: Any) -> None:
    """Half precision for the UNet and text encoder on a GPU (as A1111 samples), the VAE kept in float32."""
    import torch

    device = next(base.unet.parameters()).device
    if device.type in ("cuda", "mps"):
        base.unet.to(torch.float16)
        base.text_encoder.to(torch.float16)
        base.vae.to(torch.float32)


def run_pass(
    plan: EvalPlan, base: Any, detector: Any, events: EventWriter, *, should_stop: Callable[[], bool] = lambda: False
) -> Evaluation:
    """Sample, detect, score and choose; events along the way, `eval.json` and a `result` event at the end."""
    from PIL import Image

    from qbtui.trainer.sampling import merged_lora, read_lora, render, save_png

    photos = training_photos(plan.reference_dir)
    references, photo_count = reference_descriptors(detector, photos)
    specs = plan.sample_specs()
    total = plan.image_count()
    events.write(
        "eval",
        stage="plan",
        run_id=plan.run_id,
        loras=[lora.label for lora in plan.loras],
        weights=plan.weights,
        prompts=[*plan.identity_prompts, plan.style_prompt],
        seeds=plan.seeds,
        steps=plan.steps,
        images=total,
        references=len(references),
        photos=photo_count,
    )
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    cells = []
    done = 0
    complete = True
    tensors_of: tuple[LoraFile | None, Any] = (None, {})
    for lora, weight in plan.cells():
        if tensors_of[0] is not lora:
            tensors_of = (lora, read_lora(lora.path) if lora else {})
        found: list[SampleFaces] = []
        with merged_lora(base, tensors_of[1], weight, source=lora.path if lora else None):
            for spec in specs:
                if should_stop():
                    complete = False
                    break
                path = plan.sample_path(lora, weight, spec)
                reused = plan.reused.get(reuse_key(_label(lora), weight)) if spec.kind == STYLE else None
                if reused and Path(reused).is_file():
                    path = Path(reused)
                    with open_regular(path) as handle, Image.open(handle) as opened:
                        image = opened.convert("RGB")
                else:
                    image = render(
                        base, spec.prompt, seed=spec.seed, steps=plan.steps, size=plan.size, guidance_scale=plan.guidance_scale
                    )
                    parameters = (
                        f"{spec.prompt}\nSteps: {plan.steps}, Sampler: Euler, CFG scale: {plan.guidance_scale}, "
                        f"Seed: {spec.seed}, Size: {plan.size}x{plan.size}, LoRA weight: {weight}"
                    )
                    save_png(image, path, parameters)
                found.append(sample_faces(detector, image, path=str(path), prompt=spec.prompt, kind=spec.kind, seed=spec.seed))
                done += 1
                events.write(
                    "eval",
                    stage="sample",
                    done=done,
                    total=total,
                    lora=_label(lora),
                    weight=weight,
                    path=str(path),
                    faces=len(found[-1].descriptors),
                )
        if not complete:
            break
        cell = score_cell(_label(lora), lora.step if lora else None, lora.path.name if lora else "", weight, found, references)
        cells.append(cell)
        events.write(
            "eval",
            stage="cell",
            key=cell.key,
            lora=cell.lora,
            weight=weight,
            face_rate=cell.face_rate,
            likeness=cell.likeness,
            match_rate=cell.match_rate,
            style_face_rate=cell.style_face_rate,
            collapse=cell.collapse,
        )
    choice = (
        choose(cells, min_face_rate=plan.min_face_rate, has_references=bool(references)) if complete else Choice(None, STOPPED)
    )
    evaluation = Evaluation.from_choice(
        plan.run_id,
        plan.friend_id,
        cells,
        choice,
        references=len(references),
        photos=photo_count,
        settings=_settings_of(plan),
        complete=complete,
    )
    write_evaluation(plan.eval_json, evaluation)
    events.write("eval", stage="result", path=str(plan.eval_json), **result_fields(evaluation))
    return evaluation


def result_fields(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation without its per-sample lines: what the `result` event carries."""
    data = evaluation.to_json()
    for cell in data["cells"]:
        cell.pop("samples", None)
    return {
        key: data[key]
        for key in ("run_id", "friend_id", "cells", "chosen", "reason", "warnings", "references", "photos", "complete")
    }


def _label(lora: LoraFile | None) -> str:
    return lora.label if lora else "base"


def _settings_of(plan: EvalPlan) -> dict[str, Any]:
    return {
        "weights": plan.weights,
        "prompts": plan.identity_prompts,
        "style_prompt": plan.style_prompt,
        "seeds": plan.seeds,
        "seed": plan.seed,
        "steps": plan.steps,
        "size": plan.size,
        "min_face_rate": plan.min_face_rate,
    }


def load_detector() -> Any:
    """dlib's face model; FaceModelMissing (a QbtuiError with the install command) when it is not installed."""
    from qbtui.faces import FaceModel

    return FaceModel.load()


# ---------------------------------------------------------------- the evaluation run


def read_plan(run_dir: Path) -> EvalPlan:
    run = RunDir(run_dir)
    return EvalPlan.from_table(read_run_toml(run)["train"], path=run.run_toml)


def evaluate_run(run_dir: Path, should_stop: Callable[[], bool]) -> int:
    """The body of an evaluation run: its own start and done events around the pass."""
    from qbtui.trainer.devices import pick_device
    from qbtui.trainer.models import load_base_model

    with EventWriter(RunDir(run_dir).events) as events:
        try:
            plan = read_plan(run_dir)
            events.write(
                "start",
                run_id=run_dir.name,
                friend=plan.friend_id,
                backend="eval",
                max_steps=plan.image_count(),
                device=plan.device,
                images=plan.image_count(),
                preset="eval",
            )
            detector = load_detector()
            if plan.base_model is None:
                raise QbtuiError(
                    "the evaluation plan names no base model", path=RunDir(run_dir).run_toml, fix="run `qbtui eval` again"
                )
            import torch

            device = pick_device(plan.device)
            dtype = torch.float16 if device in ("cuda", "mps") else torch.float32
            started = time.perf_counter()
            base = load_base_model(plan.base_model, **plan.tokenizer_options(), device=device, dtype=dtype)
            prepare_for_sampling(base)
            evaluation = run_pass(plan, base, detector, events, should_stop=should_stop)
        except QbtuiError as error:
            events.write("error", message=error.describe().splitlines()[0], hint=error.fix or "")
            events.write("done", status="failed", lora_path=None)
            print(f"error: {error.describe()}", file=sys.stderr)
            return 2
        except Exception as error:  # noqa: BLE001 - reported as an event; the traceback goes to output.log
            events.write("error", message=f"{type(error).__name__}: {error}", hint="see output.log for the traceback")
            events.write("done", status="failed", lora_path=None)
            traceback.print_exc()
            return 1
        # The chosen file, else the run's last one: a completed run names an existing LoRA file.
        chosen = evaluation.chosen
        lora_path = next(
            (str(lora.path) for lora in plan.loras if chosen and lora.path.name == chosen.lora), str(plan.loras[-1].path)
        )
        print(f"evaluated {len(evaluation.cells)} cells in {time.perf_counter() - started:.1f} s", flush=True)
        events.write("done", status="completed" if evaluation.complete else "stopped", lora_path=lora_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    from qbtui.trainer.stopflag import StopFlag

    parser = argparse.ArgumentParser(prog="python -m qbtui.trainer.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the evaluation run's directory (its run.toml holds the plan)")
    args = parser.parse_args(argv)
    prepare_model_environment()
    stop = StopFlag()
    stop.install()
    return evaluate_run(args.run_dir.absolute(), stop)


if __name__ == "__main__":
    sys.exit(main())
