"""The card picture is found by every UI's own rule, and a person's picture is never replaced.

Each finder below is written from that UI's source (named in its docstring); it returns the
file the UI shows beside `<stem>.safetensors`, or None.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import torch
from PIL import Image, PngImagePlugin

from qbtui.cards import PREVIEW_MARKER, update_preview, update_thumbnail
from qbtui.lora_header import read_metadata
from qbtui.trainer.metadata import save_lora


def a1111_forge(lora: Path) -> Path | None:
    """AUTOMATIC1111 v1.10.1 modules/ui_extra_networks.py `find_preview` (Forge's is the same):
    for each of `allowed_preview_extensions()` (png, jpg, jpeg, webp, gif) `<path>.<ext>` then `<path>.preview.<ext>`."""
    path = lora.with_suffix("")
    for extension in ("png", "jpg", "jpeg", "webp", "gif"):
        for candidate in (Path(f"{path}.{extension}"), Path(f"{path}.preview.{extension}")):
            if candidate.exists():
                return candidate
    return None


def swarmui(lora: Path) -> Path | None:
    """mcmonkeyprojects/SwarmUI src/Text2Image/T2IModelHandler.cs `GetAutoFormatImage`: the first existing
    `AutoImageFormatSuffixes` (used when the header has no `modelspec.preview_image`/`thumbnail` data: URI)."""
    suffixes = [".jpg", ".png", ".preview.png", ".preview.jpg", ".jpeg", ".preview.jpeg", ".thumb.jpg", ".thumb.png"]
    prefix = str(lora.with_suffix(""))
    return next((Path(prefix + suffix) for suffix in suffixes if Path(prefix + suffix).exists()), None)


def lora_manager(lora: Path) -> Path | None:
    """willmiao/ComfyUI-Lora-Manager py/utils/file_utils.py `find_preview_file`: `PREVIEW_EXTENSIONS`
    (py/utils/constants.py) in order, then `.example.0.jpeg`."""
    suffixes = [".webp", ".preview.webp", ".preview.png", ".preview.jpeg", ".preview.jpg", ".preview.mp4"]
    suffixes += [".png", ".jpeg", ".jpg", ".mp4", ".gif", ".webm", ".example.0.jpeg"]
    base = lora.parent / lora.stem
    return next((Path(f"{base}{suffix}") for suffix in suffixes if Path(f"{base}{suffix}").exists()), None)


def invokeai(lora: Path) -> Path | None:
    """invoke-ai/InvokeAI invokeai/backend/model_manager/util/lora_metadata_extractor.py `_process_preview_image`:
    `<stem>.png`, `.jpg`, `.jpeg`, `.webp` beside the model, at import."""
    return next(
        (
            lora.parent / f"{lora.stem}{ext}"
            for ext in (".png", ".jpg", ".jpeg", ".webp")
            if (lora.parent / f"{lora.stem}{ext}").exists()
        ),
        None,
    )


FINDERS = {"A1111/Forge": a1111_forge, "SwarmUI": swarmui, "LoRA Manager": lora_manager, "InvokeAI": invokeai}


def sample_png(path: Path, colour=(1, 2, 3), text: str | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("parameters", text)
    Image.new("RGB", (16, 16), colour).save(path, pnginfo=info)
    return path.read_bytes()


def is_ours(path: Path) -> bool:
    with Image.open(path) as image:
        return PREVIEW_MARKER in image.text


def test_every_ui_finds_qbtuis_picture_and_only_one_is_written(tmp_path):
    lora = tmp_path / "qb_ada_lora.safetensors"
    sample = tmp_path / "samples" / "s.png"
    sample.parent.mkdir()
    sample_png(sample)
    assert update_preview(lora, sample, "r1").action == "written"
    found = {name: finder(lora) for name, finder in FINDERS.items()}
    assert found == dict.fromkeys(FINDERS, tmp_path / "qb_ada_lora.png") and is_ours(tmp_path / "qb_ada_lora.png")
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == ["qb_ada_lora.png"]


def test_qbtuis_old_preview_name_gives_way_so_lora_manager_shows_the_new_picture(tmp_path):
    lora = tmp_path / "qb_ada_lora.safetensors"
    sample = tmp_path / "s.png"
    sample_png(sample)
    old = tmp_path / "qb_ada_lora.preview.png"
    update_preview(lora, sample, "r0")
    (tmp_path / "qb_ada_lora.png").rename(old)  # what qbtui wrote before this version
    assert update_preview(lora, sample, "r1").action == "written"
    assert not old.exists() and lora_manager(lora) == tmp_path / "qb_ada_lora.png"


def test_a_persons_picture_under_any_uis_name_is_kept_and_every_ui_still_shows_theirs(tmp_path):
    sample = tmp_path / "s.png"
    sample_png(sample)
    for name in ("x.png", "x.jpg", "x.preview.png", "x.webp", "x.thumb.png", "x.preview.webp"):
        folder = tmp_path / name
        folder.mkdir()
        lora = folder / "x.safetensors"
        theirs = sample_png(folder / name, (200, 10, 10), "made in A1111")
        outcome = update_preview(lora, sample, "r1")
        assert outcome.action == "kept" and name in outcome.detail
        assert (folder / name).read_bytes() == theirs
        assert sorted(path.name for path in folder.iterdir()) == [name], "nothing added beside the person's picture"
        for ui, finder in FINDERS.items():
            assert finder(lora) in (None, folder / name), ui


def swarmui_picture(lora: Path) -> str | None:
    """SwarmUI T2IModelHandler.cs `LoadMetadata`: `modelspec.preview_image`, `modelspec.thumbnail`, `thumbnail`,
    `preview_image` from the header when it is a `data:image/` URI, else `GetAutoFormatImage` (the file)."""
    metadata = read_metadata(lora)
    keys = ("modelspec.preview_image", "modelspec.thumbnail", "thumbnail", "preview_image")
    image = next((metadata[key] for key in keys if key in metadata), None)
    if image is not None and not image.startswith("data:image/"):
        image = None
    auto = swarmui(lora)
    return image or (str(auto) if auto else None)


def comfyui_model_library_picture(lora: Path) -> str | None:
    """Comfy-Org/ComfyUI_frontend src/stores/modelStore.ts: `image` = the first of `modelspec.thumbnail`,
    `thumbnail`, `image`, `icon` in the file's metadata (`/view_metadata`)."""
    metadata = read_metadata(lora)
    return next((metadata[key] for key in ("modelspec.thumbnail", "thumbnail", "image", "icon") if metadata.get(key)), None)


def test_swarmui_and_comfyuis_model_library_show_the_picture_from_inside_the_lora(tmp_path):
    lora = save_lora(tmp_path / "qb_ada_lora.safetensors", {"a.alpha": torch.tensor(1.0)}, {"ss_output_name": "qb_ada_lora"})
    sample = tmp_path / "s.png"
    sample_png(sample, (10, 250, 10))
    update_preview(lora, sample, "r1")
    assert update_thumbnail(lora, sample).action == "written"
    for shown in (swarmui_picture(lora), comfyui_model_library_picture(lora)):
        assert shown is not None and shown.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(shown.split(",", 1)[1]))) as picture:
            assert picture.getpixel((8, 8))[1] > 240
