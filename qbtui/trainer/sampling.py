"""Sample images with a kohya-format LoRA at several weights, the way A1111 applies one.

`merged_lora` adds `multiplier * alpha/dim * up @ down` to each adapted module's weight (kohya's
and A1111's merge; a missing `.alpha` counts as `dim`, scale 1) and restores the base weights
afterwards. It reads only the file's keys, independently of the training network, so a sample
shows what users will get from the saved file. `generate_samples` runs a fixed-seed Euler loop
with classifier-free guidance for every prompt and weight and writes PNGs.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.atomicfile import write_bytes_atomic
from qbtui.errors import QbtuiError
from qbtui.safefile import require_regular
from qbtui.trainer.config import SAMPLE_WEIGHTS
from qbtui.trainer.stopflag import StopRequested, stop_requested

UNET_PREFIX = "lora_unet_"
TEXT_ENCODER_PREFIX = "lora_te_"
WRONG_BASE_FIX = "use a LoRA trained for Stable Diffusion 1.5 in kohya's format (lora_unet_*/lora_te_* keys)"


@dataclass(frozen=True)
class Sample:
    """One written sample image."""

    path: Path
    prompt: str
    weight: float


def read_lora(path: Path | str) -> dict:
    """The tensors of a kohya LoRA `.safetensors` file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    try:
        require_regular(path)
        return load_file(path)
    except (SafetensorError, OSError) as error:
        raise QbtuiError(
            f"cannot read the LoRA file: {error}", path=path, fix="train it again or restore it from a checkpoint"
        ) from error


def kohya_module_names(unet, text_encoder) -> dict[str, Any]:
    """kohya LoRA name -> module, for every Linear and Conv2d of the UNet and the text encoder."""
    import torch

    names = {}
    # transformers 5 dropped the `text_model` level that kohya's text-encoder names keep.
    text_root = "" if hasattr(text_encoder, "text_model") else "text_model_"
    for prefix, root in ((UNET_PREFIX, unet), (TEXT_ENCODER_PREFIX + text_root, text_encoder)):
        for path, module in root.named_modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                names[prefix + path.replace(".", "_")] = module
    return names


def lora_deltas(tensors: Mapping, modules: Mapping[str, Any], source: Path | None = None) -> dict[str, Any]:
    """kohya name -> `alpha/dim * up @ down` shaped like the module's weight (float32)."""
    import torch

    groups: dict[str, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        name, _, part = key.partition(".")
        if not name.startswith((UNET_PREFIX, TEXT_ENCODER_PREFIX)) or part not in ("lora_down.weight", "lora_up.weight", "alpha"):
            raise QbtuiError(f"not a kohya LoRA key: {key}", path=source, fix=WRONG_BASE_FIX)
        groups.setdefault(name, {})[part] = tensor
    deltas = {}
    for name, parts in groups.items():
        module = modules.get(name)
        if module is None or "lora_down.weight" not in parts or "lora_up.weight" not in parts:
            raise QbtuiError(f"LoRA module {name} matches nothing in this base model", path=source, fix=WRONG_BASE_FIX)
        down = parts["lora_down.weight"].to(torch.float32)
        up = parts["lora_up.weight"].to(torch.float32)
        dim = down.shape[0]
        alpha = float(parts["alpha"]) if "alpha" in parts else float(dim)
        delta = torch.einsum("or,rikl->oikl", up.flatten(1), down) if down.dim() == 4 else up @ down
        if delta.shape != module.weight.shape:
            raise QbtuiError(
                f"LoRA module {name} has shape {tuple(delta.shape)}, the base model {tuple(module.weight.shape)}",
                path=source,
                fix=WRONG_BASE_FIX,
            )
        deltas[name] = delta * (alpha / dim)
    return deltas


@contextlib.contextmanager
def merged_lora(base, tensors: Mapping, multiplier: float, *, source: Path | None = None) -> Iterator[int]:
    """Within the block the base weights carry the LoRA at `multiplier`; yields the adapted-module count."""
    import torch

    modules = kohya_module_names(base.unet, base.text_encoder)
    deltas = lora_deltas(tensors, modules, source)
    originals = {name: modules[name].weight.detach().clone() for name in deltas}
    try:
        with torch.no_grad():
            for name, delta in deltas.items():
                weight = modules[name].weight
                weight.copy_((originals[name].to(torch.float32) + multiplier * delta.to(weight.device)).to(weight.dtype))
        yield len(deltas)
    finally:
        with torch.no_grad():
            for name, original in originals.items():
                modules[name].weight.copy_(original)


def default_size(base) -> int:
    """The base model's native image size: 512 for SD1.5, 64 for the tiny test model."""
    return int(base.unet.config.sample_size) * 2 ** (len(base.vae.config.block_out_channels) - 1)


def _encode(base, prompts: list[str]):
    import torch

    tokenizer = base.tokenizer
    ids = tokenizer(
        prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids
    device = next(base.text_encoder.parameters()).device
    with torch.no_grad():
        return base.text_encoder(ids.to(device))[0]


def render(
    base,
    prompt: str,
    *,
    seed: int,
    steps: int,
    size: int,
    guidance_scale: float,
    negative_prompt: str = "",
    should_stop: Callable[[], bool] | None = None,
):
    """One image (PIL) from a fixed seed: Euler sampling with classifier-free guidance, then the VAE.

    `should_stop` is asked before each denoising step and before the VAE: StopRequested when it says so."""
    import torch
    from diffusers import EulerDiscreteScheduler
    from PIL import Image

    unet, vae = base.unet, base.vae
    device, dtype = next(unet.parameters()).device, next(unet.parameters()).dtype
    scheduler = EulerDiscreteScheduler.from_config(base.noise_scheduler.config)
    scheduler.set_timesteps(steps, device=device)
    generator = torch.Generator().manual_seed(seed)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    shape = (1, unet.config.in_channels, size // factor, size // factor)
    latents = (torch.randn(shape, generator=generator) * scheduler.init_noise_sigma).to(device)
    context = _encode(base, [negative_prompt, prompt]).to(dtype)
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            stop_requested(should_stop)
            model_input = scheduler.scale_model_input(torch.cat([latents, latents]), timestep)
            noise = unet(model_input.to(dtype), timestep, encoder_hidden_states=context).sample.float()
            unconditional, conditional = noise.chunk(2)
            guided = unconditional + guidance_scale * (conditional - unconditional)
            latents = scheduler.step(guided, timestep, latents, generator=generator).prev_sample
        stop_requested(should_stop)
        pixels = vae.decode((latents / base.vae_scale_factor).to(vae.dtype)).sample
    array = ((pixels[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


@contextlib.contextmanager
def sampling_mode(*models) -> Iterator[None]:
    """Eval mode during sampling, each model's own mode back afterwards."""
    modes = [model.training for model in models]
    try:
        for model in models:
            model.eval()
        yield
    finally:
        for model, mode in zip(models, modes, strict=True):
            model.train(mode)


@contextlib.contextmanager
def _network_muted(network) -> Iterator[None]:
    """A training network hooked into the base contributes nothing while its tensors are merged."""
    if network is None:
        yield
        return
    network.set_multiplier(0.0)
    try:
        yield
    finally:
        network.set_multiplier(1.0)


def save_png(image, path: Path, parameters: str) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    write_bytes_atomic(path, buffer.getvalue())


def sample_stem(output_name: str, step: int) -> str:
    """A training sample's stem: `qb_peter_lora_000400`."""
    return f"{output_name}_{step:06d}"


def sample_file_name(stem: str, index: int, weight: float, seed: int) -> str:
    """`qb_peter_lora_000400_00_w0.80_1000.png`: the stem, prompt index, LoRA weight and seed."""
    return f"{stem}_{index:02d}_w{weight:.2f}_{seed}.png"


def generate_samples(
    base,
    lora,
    *,
    prompts: Sequence[str],
    weights: Sequence[float] = SAMPLE_WEIGHTS,
    seed: int,
    out_dir: Path | str,
    steps: int = 20,
    size: int | None = None,
    guidance_scale: float = 7.0,
    stem: str = "sample",
    should_stop: Callable[[], bool] | None = None,
) -> list[Sample]:
    """Write one PNG per prompt and LoRA weight, all from the same noise per prompt; base weights restored.

    `lora` is a kohya `.safetensors` path, its tensors, a training network (anything with
    `kohya_tensors()` and `set_multiplier()`, muted while its tensors are merged) or None for the
    base model alone. Files: `<stem>_<prompt index>_w<weight>_<seed>.png`, with A1111-style
    `parameters` text. The global RNG state is left untouched. Once `should_stop()` says so (asked
    before each weight, image and denoising step) the rest is abandoned: only the samples written so far return.
    """
    network = lora if hasattr(lora, "kohya_tensors") else None
    source = Path(lora) if isinstance(lora, (str, Path)) else None
    if network is not None:
        tensors = network.kohya_tensors()
    elif source is not None:
        tensors = read_lora(source)
    else:
        tensors = lora or {}
    size = size or default_size(base)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    with contextlib.suppress(StopRequested), sampling_mode(base.unet, base.text_encoder, base.vae), _network_muted(network):
        for weight in weights:
            stop_requested(should_stop)
            with merged_lora(base, tensors, weight, source=source):
                for index, prompt in enumerate(prompts):
                    image = render(
                        base,
                        prompt,
                        seed=seed + index,
                        steps=steps,
                        size=size,
                        guidance_scale=guidance_scale,
                        should_stop=should_stop,
                    )
                    path = out_dir / sample_file_name(stem, index, weight, seed + index)
                    parameters = (
                        f"{prompt}\nSteps: {steps}, Sampler: Euler, CFG scale: {guidance_scale}, "
                        f"Seed: {seed + index}, Size: {size}x{size}, LoRA weight: {weight}"
                    )
                    save_png(image, path, parameters)
                    samples.append(Sample(path=path, prompt=prompt, weight=float(weight)))
    return samples
