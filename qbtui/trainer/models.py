"""Load the SD1.5 base model offline: a diffusers folder or an A1111 single-file checkpoint.

Single files (`.safetensors`, `.ckpt`) are read once; their component configs are inferred from
the tensor shapes (`sd15.ldm_layout.infer_configs`) and handed to diffusers' single-file
converter as a local folder, so nothing is fetched from the hub. The CLIP tokenizer, which a
single file lacks, is looked for where users have one (`tokenizer_places`: settings, beside the
checkpoint, kohya's tokenizer cache, ComfyUI's copy, the Hugging Face cache).

Memory: a `.safetensors` single file is read tensor by tensor into aligned memory (no mmap), and
those tensors become the model's weights; a diffusers folder stays mapped as diffusers leaves it,
except the tensors `realign_tensors` must move, which are read again from the file. So a load holds
about one copy of the weights (`benchmarks/bench_load_memory.py`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.safefile import open_regular, read_text
from qbtui.trainer import tokenizer_places
from qbtui.trainer.tokenizer_places import TOKENIZER_FIX

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
HASH_CACHE_NAME = "model-hashes.json"
# The weights file diffusers or transformers reads in each component folder of a diffusers model.
FOLDER_WEIGHTS_FILES = (
    ("unet", "diffusion_pytorch_model.safetensors"),
    ("vae", "diffusion_pytorch_model.safetensors"),
    ("text_encoder", "model.safetensors"),
)
# Byte alignment of torch's own CPU allocations: tensors aligned so compute exactly like fresh ones.
TENSOR_ALIGNMENT = 64
SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}

BASE_MODEL_FIX = (
    "set base_model in registry.toml [settings] to an SD1.5 checkpoint such as "
    '"v1-5-pruned-emaonly.safetensors" (or .ckpt) or a diffusers folder with model_index.json'
)


@dataclass
class BaseModel:
    """The frozen SD1.5 components a LoRA is trained against (every base weight has requires_grad False)."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    noise_scheduler: Any
    path: Path
    name: str  # the checkpoint's file or folder name (kohya's ss_sd_model_name)
    model_hash: str  # kohya's short legacy hash (ss_sd_model_hash)
    vae_scale_factor: float

    def sha256(self) -> str:
        """Full SHA-256 of the weights file (kohya's ss_new_sd_model_hash), cached per size and mtime."""
        return file_sha256(_hashed_file(self.path))


def load_base_model(
    path: Path | str,
    *,
    tokenizer_dir: Path | str | None = None,
    tokenizer_cache_dir: Path | str | None = None,
    comfyui_dir: Path | str | None = None,
    device="cpu",
    dtype=None,
) -> BaseModel:
    """Load a diffusers folder or a single-file SD1.5 checkpoint with no hub access.

    `device` is a name or a `torch.device`; the three tokenizer settings say where a single
    file's tokenizer may be (`tokenizer_places`). Raises QbtuiError naming the file and the fix
    for a missing, corrupt or non-SD1.5 model or a missing tokenizer.
    """
    from qbtui.modelenv import prepare_model_environment

    prepare_model_environment()
    import torch

    dtype = dtype or torch.float32
    path = Path(path).expanduser()
    tokenizer_dir = Path(tokenizer_dir).expanduser() if tokenizer_dir else None
    places = {
        "tokenizer_cache_dir": Path(tokenizer_cache_dir).expanduser() if tokenizer_cache_dir else None,
        "comfyui_dir": Path(comfyui_dir).expanduser() if comfyui_dir else None,
    }
    if not path.exists():
        raise QbtuiError("base model not found", path=path, fix=BASE_MODEL_FIX)
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise QbtuiError("folder is not a diffusers model (no model_index.json)", path=path, fix=BASE_MODEL_FIX)
        unet, vae, text_encoder = _load_diffusers_folder(path, dtype)
        weights_files: list[Path | None] = [path / folder / name for folder, name in FOLDER_WEIGHTS_FILES]
        tokenizer = load_tokenizer(path, tokenizer_dir, **places)
    elif path.suffix.lower() in SINGLE_FILE_SUFFIXES:
        unet, vae, text_encoder = _load_single_file(path, dtype)
        weights_files = [None, None, None]
        tokenizer = load_tokenizer(path, tokenizer_dir, **places)
    else:
        raise QbtuiError(f"unsupported base model type {path.suffix or '(no suffix)'}", path=path, fix=BASE_MODEL_FIX)
    for module, weights_file in zip((unet, vae, text_encoder), weights_files, strict=True):
        if torch.device(device).type == "cpu":
            realign_tensors(module, weights_file)
        else:
            module.to(device)
        module.requires_grad_(False)
    return BaseModel(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        noise_scheduler=training_scheduler(),
        path=path,
        name=path.name,
        model_hash=legacy_model_hash(_hashed_file(path)),
        vae_scale_factor=float(vae.config.scaling_factor),
    )


def realign_tensors(module, weights_file: Path | None = None) -> int:
    """Move each tensor that is not `TENSOR_ALIGNMENT`-aligned into fresh memory; returns how many moved.

    Tensors read from a safetensors file through mmap sit at arbitrary byte offsets, and CPU
    kernels take other code paths for unaligned data, so the same weights would give slightly
    different results depending on where they came from. Aligned tensors stay where they are (an
    untouched mmap costs no memory), and a misaligned one is read again from `weights_file` when
    that safetensors file holds it under the same name, dtype and shape, so the mmap's pages are
    never touched; any other misaligned tensor is cloned.
    """
    tensors = [*module.named_parameters(), *module.named_buffers()]
    misaligned = [(name, tensor) for name, tensor in tensors if tensor.data_ptr() % TENSOR_ALIGNMENT]
    if not misaligned:
        return 0
    stored = safetensors_index(weights_file) if weights_file is not None and weights_file.is_file() else {}
    with open_regular(weights_file) if stored and weights_file is not None else nullcontext() as handle:
        for name, tensor in misaligned:
            entry = stored.get(name)
            if entry is not None and entry.matches(tensor):
                tensor.data = entry.read(handle)
            else:
                tensor.data = tensor.data.clone()
    return len(misaligned)


@dataclass(frozen=True)
class StoredTensor:
    """Where one tensor's bytes sit in a safetensors file."""

    dtype: Any
    shape: tuple[int, ...]
    start: int
    end: int

    def matches(self, tensor) -> bool:
        """Whether `tensor` could be an unmodified view of these bytes."""
        return tensor.dtype == self.dtype and tuple(tensor.shape) == self.shape and tensor.is_contiguous()

    def read(self, handle):
        """The tensor, read into freshly allocated (so aligned) memory without mmap."""
        import torch

        size = self.end - self.start
        buffer = torch.empty(size, dtype=torch.uint8)
        handle.seek(self.start)
        if size and handle.readinto(buffer.numpy()) != size:
            raise ValueError(f"file ends inside a tensor (bytes {self.start}-{self.end})")
        return buffer.view(self.dtype).reshape(self.shape)


def safetensors_index(path: Path) -> dict[str, StoredTensor]:
    """Every tensor's dtype, shape and absolute byte range in a .safetensors file, checked against its size.

    Raises ValueError for a truncated file, an unknown dtype or a header that does not add up.
    """
    import torch

    file_size = path.stat().st_size
    with open_regular(path) as handle:
        prefix = handle.read(8)
        header_size = int.from_bytes(prefix, "little") if len(prefix) == 8 else file_size
        if header_size > file_size - 8:
            raise ValueError("the header is longer than the file")
        header = json.loads(handle.read(header_size))
    try:
        listed = [
            (name, info["dtype"], info["shape"], info["data_offsets"]) for name, info in header.items() if name != "__metadata__"
        ]
    except (AttributeError, TypeError, KeyError) as error:
        raise ValueError("the header does not give every tensor a dtype, shape and data_offsets") from error
    data_start = 8 + header_size
    index = {}
    for name, code, listed_shape, (begin, end) in listed:
        if code not in SAFETENSORS_DTYPES:
            raise ValueError(f"tensor {name} has unknown dtype {code!r}")
        dtype = getattr(torch, SAFETENSORS_DTYPES[code])
        shape = tuple(int(n) for n in listed_shape)
        if end - begin != dtype.itemsize * torch.Size(shape).numel() or begin < 0 or data_start + end > file_size:
            raise ValueError(f"tensor {name} lies outside the file or has the wrong size (truncated file?)")
        index[name] = StoredTensor(dtype, shape, data_start + begin, data_start + end)
    return index


def read_safetensors(path: Path) -> dict:
    """All tensors of a .safetensors file, each read into its own aligned memory (no mmap)."""
    index = safetensors_index(path)
    with open_regular(path) as handle:
        return {name: entry.read(handle) for name, entry in index.items()}


def training_scheduler():
    """SD1.5's training noise schedule as kohya builds it: DDPM, 1000 scaled-linear steps, epsilon."""
    from diffusers import DDPMScheduler

    from qbtui.trainer.sd15 import configs

    return DDPMScheduler(**{k: v for k, v in configs.SCHEDULER.items() if not k.startswith("_")})


def _load_diffusers_folder(path: Path, dtype):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    try:
        unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=dtype, local_files_only=True)
        vae = AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=dtype, local_files_only=True)
        text_encoder = CLIPTextModel.from_pretrained(path, subfolder="text_encoder", dtype=dtype, local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise QbtuiError(
            f"cannot load the diffusers model: {_first_line(error)}",
            path=path,
            fix="check that unet/, vae/ and text_encoder/ hold config.json and their weights (re-copy the folder)",
        ) from error
    return unet, vae, text_encoder


class _TrainingFrameworkObject:
    """Stand-in for a PyTorch Lightning callback pickled beside the weights; its state is dropped."""

    def __setstate__(self, state) -> None:
        del state


def _checkpoint_extras() -> list:
    """Harmless globals that original SD1.x `.ckpt` files pickle next to their tensors.

    Training-step counters as numpy scalars and a Lightning `ModelCheckpoint` callback (A1111's
    safe unpickler admits the same); everything else still fails `weights_only` loading.
    """
    import numpy

    scalar = numpy.dtype("int64").type(0).__reduce__()[0]
    dtypes = [getattr(numpy.dtypes, name) for name in dir(numpy.dtypes) if name.endswith("DType")]
    return [
        numpy.dtype,
        *dtypes,
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        (_TrainingFrameworkObject, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
    ]


def read_checkpoint(path: Path) -> dict:
    """The tensors of a .safetensors or .ckpt file (a .ckpt's "state_dict" unwrapped), loaded safely.

    Safetensors are read into fresh aligned memory rather than mapped: the single-file converter
    keeps them as the model's weights, so the file's pages never add to the process's memory.
    """
    import pickle

    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            state_dict = read_safetensors(path)
        else:
            with torch.serialization.safe_globals(_checkpoint_extras()):
                state_dict = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state_dict, dict) and isinstance(state_dict.get("state_dict"), dict):
                state_dict = state_dict["state_dict"]
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, TypeError, pickle.UnpicklingError) as error:
        raise QbtuiError(
            f"cannot read the checkpoint (truncated or not a model file): {_first_line(error)}",
            path=path,
            fix="download the checkpoint again and check its size, or " + BASE_MODEL_FIX,
        ) from error
    if not isinstance(state_dict, dict) or not all(isinstance(t, torch.Tensor) for t in state_dict.values()):
        raise QbtuiError("file holds no model weights", path=path, fix=BASE_MODEL_FIX)
    return state_dict


def check_sd15(state_dict: dict, path: Path) -> None:
    """Refuse SDXL, SD2 and anything that is not an SD1.x text-to-image checkpoint in A1111 layout."""
    from qbtui.trainer.sd15.ldm_layout import TEXT_PREFIX, UNET_PREFIX, VAE_PREFIX

    keys = state_dict.keys()
    if any(k.startswith(("conditioner.", UNET_PREFIX + "label_emb")) for k in keys):
        raise QbtuiError("this is an SDXL checkpoint; qbtui trains SD1.5 LoRAs", path=path, fix=BASE_MODEL_FIX)
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        raise QbtuiError("this is a Stable Diffusion 2.x checkpoint; qbtui trains SD1.5 LoRAs", path=path, fix=BASE_MODEL_FIX)
    missing = [
        part
        for part, prefix in (("UNet", UNET_PREFIX), ("VAE", VAE_PREFIX), ("CLIP text encoder", TEXT_PREFIX))
        if not any(k.startswith(prefix) for k in keys)
    ]
    if missing:
        raise QbtuiError(
            f"not a Stable Diffusion 1.5 checkpoint: no {', '.join(missing)} weights in the A1111 layout",
            path=path,
            fix=BASE_MODEL_FIX + " (a LoRA, VAE or embedding file is not a base model)",
        )
    conv_in = state_dict.get(UNET_PREFIX + "input_blocks.0.0.weight")
    if conv_in is not None and conv_in.shape[1] != 4:
        raise QbtuiError(
            f"the UNet takes {conv_in.shape[1]} input channels (an inpainting or other special model), not SD1.5's 4",
            path=path,
            fix=BASE_MODEL_FIX,
        )


def _load_single_file(path: Path, dtype):
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from qbtui.trainer.sd15.ldm_layout import UNET_PREFIX, VAE_PREFIX, infer_configs

    state_dict = read_checkpoint(path)
    check_sd15(state_dict, path)
    try:
        inferred = infer_configs(state_dict)
        with tempfile.TemporaryDirectory(prefix="qbtui-sd15-config-") as config_dir:
            for component in ("unet", "vae"):
                folder = Path(config_dir) / component
                folder.mkdir()
                (folder / "config.json").write_text(json.dumps(inferred[component]), encoding="utf-8")
            options = {"config": config_dir, "local_files_only": True}
            if dtype != torch.float32:
                options["torch_dtype"] = dtype
            # Each component's source tensors are dropped once it is built: a half-precision file
            # loaded in float32 otherwise keeps its whole 2 GB alive beside the 4.3 GB models.
            unet = UNet2DConditionModel.from_single_file(state_dict, subfolder="unet", **options)
            _drop_prefix(state_dict, UNET_PREFIX)
            vae = AutoencoderKL.from_single_file(state_dict, subfolder="vae", **options)
            _drop_prefix(state_dict, VAE_PREFIX)
        text_encoder = _text_encoder_from_single_file(state_dict, inferred["text_encoder"], dtype)
        state_dict.clear()
    except (KeyError, StopIteration, ValueError, RuntimeError, ZeroDivisionError) as error:
        raise QbtuiError(
            f"the checkpoint's SD1.5 weights are incomplete or mis-shaped: {_first_line(error)}",
            path=path,
            fix="download the checkpoint again, or " + BASE_MODEL_FIX,
        ) from error
    return unet, vae, text_encoder


def _drop_prefix(state_dict: dict, prefix: str) -> None:
    for key in [key for key in state_dict if key.startswith(prefix)]:
        del state_dict[key]


def _text_encoder_from_single_file(state_dict: dict, config: dict, dtype):
    from transformers import CLIPTextConfig, CLIPTextModel

    from qbtui.trainer.sd15.ldm_layout import TEXT_PREFIX

    weights = {
        key[len(TEXT_PREFIX) :]: tensor
        for key, tensor in state_dict.items()
        if key.startswith(TEXT_PREFIX) and not key.endswith("position_ids")
    }
    text_config = CLIPTextConfig(**{k: v for k, v in config.items() if k not in ("architectures", "model_type")})
    # Built without random initialisation, adopting the checkpoint's tensors instead of copying them.
    model, info = cast(Any, CLIPTextModel.from_pretrained)(
        None, config=text_config, state_dict=weights, dtype=dtype, output_loading_info=True
    )
    wrong = [*info["missing_keys"], *info["unexpected_keys"], *info["mismatched_keys"]]
    if wrong:
        raise ValueError(f"text encoder weights missing, unexpected or mis-shaped: {', '.join(map(str, wrong[:3]))}")
    return model.eval()


def load_tokenizer(checkpoint: Path, tokenizer_dir: Path | None, **places):
    """`CLIPTokenizer` from the first folder `tokenizer_places` finds (`places`: tokenizer_cache_dir, comfyui_dir), offline."""
    from transformers import CLIPTokenizer

    folder = tokenizer_places.find_tokenizer(checkpoint, tokenizer_dir, **places)
    try:
        return CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, json.JSONDecodeError) as error:
        raise QbtuiError(f"cannot load the CLIP tokenizer: {_first_line(error)}", path=folder, fix=TOKENIZER_FIX) from error


def _hashed_file(path: Path) -> Path:
    """The file a model's hashes are taken over: the checkpoint, or a diffusers folder's UNet weights."""
    if path.is_file():
        return path
    weights = sorted((path / "unet").glob("diffusion_pytorch_model*"))
    return weights[0] if weights else path / "model_index.json"


def legacy_model_hash(path: Path) -> str:
    """kohya's and A1111's short hash: SHA-256 of the 64 KiB at offset 1 MiB, first 8 hex digits."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        handle.seek(0x100000)
        digest.update(handle.read(0x10000))
    return digest.hexdigest()[:8]


def file_sha256(path: Path, cache_file: Path | None = None) -> str:
    """SHA-256 of a whole file, remembered in the user config folder by path, size and mtime."""
    from qbtui.locations import config_dir

    cache_file = cache_file or config_dir() / HASH_CACHE_NAME
    stat = path.stat()
    key = str(path.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns]
    try:
        cache = json.loads(read_text(cache_file))
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return entry["sha256"]
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    cache[key] = {"stamp": stamp, "sha256": digest.hexdigest()}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cache_file, json.dumps(cache, indent=1))
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
