"""`python -m qbtui.draw.worker`: draw a plan (JSON on stdin) with torch, reporting on stdout.

The base model is loaded once with the trainer's loader (A1111 single file or diffusers
folder, offline) on the trainer's device choice; each friend's LoRA is loaded once as its own
diffusers adapter (`load_lora_weights(adapter_name=...)`), and each scene switches on the
adapters of the friends in it at their weights (`set_adapters`). Progress is one JSON object
a line on stdout: `loading`, `loaded` (once per batch), `step`, `image`, `error`, `done`.
Every image is a PNG with A1111's `parameters` text, and a line in the drawings index.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from qbtui.atomicfile import write_bytes_atomic
from qbtui.draw.parameters import Generation, model_short_hash
from qbtui.draw.plan import DrawPlan, Job, entry_json
from qbtui.errors import QbtuiError
from qbtui.modelenv import prepare_model_environment

SCHEDULERS = {
    "Euler a": "EulerAncestralDiscreteScheduler",
    "Euler": "EulerDiscreteScheduler",
    "DPM++ 2M": "DPMSolverMultistepScheduler",
    "DDIM": "DDIMScheduler",
}
MAX_FRIENDS_IN_NAME = 80


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def model_name(path: Path) -> str:
    """A1111's `Model:` field: the checkpoint file's stem, or a diffusers folder's name."""
    return path.stem if path.is_file() else path.name


def build_pipeline(plan: DrawPlan):
    """The base model as a StableDiffusionPipeline with every planned LoRA loaded as an adapter; (pipe, base)."""
    import diffusers
    import torch

    from qbtui.trainer.devices import pick_device
    from qbtui.trainer.models import load_base_model

    device = pick_device(plan.device)
    dtype = torch.float16 if device == "cuda" else torch.float32
    base = load_base_model(plan.base_model, **plan.tokenizer_options(), device=device, dtype=dtype)
    scheduler_class = getattr(diffusers, SCHEDULERS[plan.sampler])
    # diffusers adds these methods through mixins its type hints do not show.
    pipe: Any = diffusers.StableDiffusionPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=base.unet,
        scheduler=scheduler_class.from_config(base.noise_scheduler.config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    for index, lora in enumerate(plan.loras.values()):
        try:
            pipe.load_lora_weights(lora.path, adapter_name=adapter_name(index))
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise QbtuiError(
                f"cannot load {lora.friend}'s LoRA: {str(error).splitlines()[0]}",
                path=lora.path,
                fix="train it again (`qbtui train " + lora.friend + "`): it must be an SD 1.5 LoRA in kohya's format",
            ) from error
    return pipe, base, device


def adapter_name(index: int) -> str:
    return f"friend_{index}"


def use_adapters(pipe, plan: DrawPlan, job: Job) -> None:
    """Only the friends of this scene, each at their weight; the base model alone when none."""
    if not plan.loras:
        return
    order = list(plan.loras)
    if not job.friends:
        pipe.disable_lora()
        return
    names = [adapter_name(order.index(friend)) for friend in job.friends]
    pipe.enable_lora()
    pipe.set_adapters(names, adapter_weights=[job.weights[friend] for friend in job.friends])
    # Merged into the weights for the scene (as A1111 applies a LoRA): many small adapted layers run much faster.
    pipe.fuse_lora(adapter_names=names)


def release_adapters(pipe, plan: DrawPlan, job: Job) -> None:
    if plan.loras and job.friends:
        pipe.unfuse_lora()


def file_name(job: Job, seed: int, folder: Path) -> Path:
    """`<UTC time>_<friend ids>_<seed>.png`, never an existing file's name."""
    who = "-".join(job.friends)[:MAX_FRIENDS_IN_NAME] or "scene"
    stem = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}_{who}_{seed}"
    candidate, count = folder / f"{stem}.png", 1
    while candidate.exists() or candidate.is_symlink():
        count += 1
        candidate = folder / f"{stem}-{count}.png"
    return candidate


def save_png(image, path: Path, parameters: str) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    write_bytes_atomic(path, buffer.getvalue())


def append_index(path: Path, entry: dict[str, Any]) -> None:
    """One whole line appended with a single write, so readers never see half an entry."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (entry_json(entry) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def draw_plan(plan: DrawPlan) -> int:
    import torch

    folder = Path(plan.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    emit("loading", model=plan.base_model, images=plan.image_count)
    started = time.perf_counter()
    pipe, base, device = build_pipeline(plan)
    model_hash = model_short_hash(base.sha256())
    name = model_name(Path(plan.base_model))
    if plan.size:
        width, height = plan.size
    else:
        from qbtui.trainer.sampling import default_size

        width = height = default_size(base)
    emit("loaded", seconds=round(time.perf_counter() - started, 3), device=device)
    done = 0
    for job_index, job in enumerate(plan.jobs):
        use_adapters(pipe, plan, job)
        for image_index, seed in enumerate(job.seeds):

            def on_step(pipeline, step, timestep, kwargs, _image=done):
                emit("step", image=_image, step=step + 1, steps=plan.steps)
                return kwargs

            result = pipe(
                prompt=job.text,
                negative_prompt=plan.negative_prompt or None,
                num_inference_steps=plan.steps,
                guidance_scale=plan.guidance_scale,
                width=width,
                height=height,
                generator=torch.Generator().manual_seed(seed),
                callback_on_step_end=on_step,
            )
            generation = Generation(
                prompt=job.prompt,
                negative_prompt=plan.negative_prompt,
                steps=plan.steps,
                sampler=plan.sampler,
                cfg_scale=plan.guidance_scale,
                seed=seed,
                width=width,
                height=height,
                model_hash=model_hash,
                model=name,
                lora_hashes=tuple((plan.loras[friend].name, plan.loras[friend].hash) for friend in job.friends),
            )
            path = file_name(job, seed, folder)
            save_png(result.images[0], path, generation.text())
            entry = {
                "t": time.time(),
                "path": str(path),
                "scene": job.scene,
                "prompt": job.prompt,
                "negative_prompt": plan.negative_prompt,
                "friends": [
                    {"id": friend, "lora": plan.loras[friend].name, "weight": job.weights[friend]} for friend in job.friends
                ],
                "seed": seed,
                "steps": plan.steps,
                "size": f"{width}x{height}",
                "sampler": plan.sampler,
                "cfg_scale": plan.guidance_scale,
                "model": name,
                "model_hash": model_hash,
            }
            append_index(Path(plan.index), entry)
            emit("image", job=job_index, image=done, index=image_index, **entry)
            done += 1
        release_adapters(pipe, plan, job)
    emit("done", images=done, seconds=round(time.perf_counter() - started, 3))
    return 0


def main() -> int:
    prepare_model_environment()
    try:
        plan = DrawPlan.from_json(sys.stdin.read())
        return draw_plan(plan)
    except QbtuiError as error:
        emit("error", message=error.message, fix=error.fix, path=str(error.path) if error.path else None)
        return 2
    except Exception as error:  # noqa: BLE001 - reported to the caller, traceback on stderr
        import traceback

        traceback.print_exc()
        emit("error", message=f"{type(error).__name__}: {error}", fix="see the traceback above", path=None)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
