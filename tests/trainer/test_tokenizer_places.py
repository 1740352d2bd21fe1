"""Where a single file's CLIP tokenizer is found: each place, their order, and the error naming them all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qbtui.errors import QbtuiError
from qbtui.trainer.tiny import write_tiny_tokenizer
from qbtui.trainer.tokenizer_places import TOKENIZER_FIX, find_tokenizer, search_tokenizer


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def home(tmp_path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def checkpoint(tmp_path, hf_cache) -> Path:
    """A single-file checkpoint alone in its folder (only its existence matters here)."""
    path = tmp_path / "models" / "v1-5-pruned-emaonly.safetensors"
    path.parent.mkdir()
    path.write_bytes(b"weights")
    return path


def cached_snapshot(cache: Path) -> Path:
    """The tokenizer as `CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14')` leaves it in the cache."""
    repo = cache / "models--openai--clip-vit-large-patch14"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    return write_tiny_tokenizer(repo / "snapshots" / "0123abcd")


def comfyui_install(root: Path) -> Path:
    """A ComfyUI checkout's own tokenizer copy: comfy/sd1_tokenizer/ (vocab, merges, configs)."""
    folder = write_tiny_tokenizer(root / "comfy" / "sd1_tokenizer")
    (folder / "special_tokens_map.json").write_text("{}", encoding="utf-8")
    (root / "main.py").write_text("", encoding="utf-8")
    return folder


def kohya_cache(cache_dir: Path) -> Path:
    """What sd-scripts' `tokenizer.save_pretrained(os.path.join(tokenizer_cache_dir, model_id.replace("/", "_")))` writes."""
    return write_tiny_tokenizer(cache_dir / "openai_clip-vit-large-patch14")


def test_the_tokenizer_setting_wins(checkpoint, tmp_path, home):
    chosen = write_tiny_tokenizer(tmp_path / "clip")
    write_tiny_tokenizer(checkpoint.parent / "tokenizer")
    assert find_tokenizer(checkpoint, chosen, home=home) == chosen


def test_a_tokenizer_setting_without_the_files_is_an_error_naming_it(checkpoint, tmp_path, home):
    empty = tmp_path / "empty"
    empty.mkdir()
    write_tiny_tokenizer(checkpoint.parent / "tokenizer")
    with pytest.raises(QbtuiError, match=r"lacks vocab\.json") as caught:
        find_tokenizer(checkpoint, empty, home=home)
    assert caught.value.path == empty


def test_beside_the_checkpoint(checkpoint, tmp_path, home):
    beside = write_tiny_tokenizer(checkpoint.parent / "tokenizer")
    kohya_cache(tmp_path / "kohya")
    search = search_tokenizer(checkpoint, tokenizer_cache_dir=tmp_path / "kohya", home=home)
    assert search.found is not None and search.found.folder == beside
    assert search.found.what == "beside the checkpoint"


def test_a_diffusers_folder_uses_its_own_tokenizer(tmp_path, hf_cache, home):
    model = tmp_path / "sd15"
    own = write_tiny_tokenizer(model / "tokenizer")
    assert find_tokenizer(model, home=home) == own


def test_kohya_tokenizer_cache_dir(checkpoint, tmp_path, home):
    saved = kohya_cache(tmp_path / "kohya")
    comfyui_install(tmp_path / "ComfyUI")
    found = find_tokenizer(checkpoint, tokenizer_cache_dir=tmp_path / "kohya", comfyui_dir=tmp_path / "ComfyUI", home=home)
    assert found == saved


def test_comfyui_dir_setting_comes_before_the_cache(checkpoint, tmp_path, hf_cache, home):
    cached_snapshot(hf_cache)
    comfy = comfyui_install(tmp_path / "elsewhere" / "ComfyUI")
    assert find_tokenizer(checkpoint, comfyui_dir=tmp_path / "elsewhere" / "ComfyUI", home=home) == comfy


def test_the_hugging_face_cache_comes_before_guessed_comfyui_places(checkpoint, hf_cache, home):
    snapshot = cached_snapshot(hf_cache)
    comfyui_install(home / "ComfyUI")
    search = search_tokenizer(checkpoint, home=home)
    assert search.found is not None and search.found.folder == snapshot
    assert search.found.what == "Hugging Face cache (openai/clip-vit-large-patch14)"


@pytest.mark.parametrize(
    "install",
    [
        "ComfyUI",
        "comfy/ComfyUI",
        "Documents/ComfyUI",
        "Documents/comfy/ComfyUI",
        "Applications/ComfyUI.app/Contents/Resources/ComfyUI",
    ],
)
def test_comfyui_at_its_usual_places(checkpoint, home, install):
    comfy = comfyui_install(home / install)
    search = search_tokenizer(checkpoint, home=home)
    assert search.found is not None and search.found.folder == comfy and search.found.what == "ComfyUI"


def test_a_comfyui_folder_without_its_tokenizer_is_passed_over(checkpoint, home):
    (home / "ComfyUI" / "comfy").mkdir(parents=True)
    comfy = comfyui_install(home / "Documents" / "ComfyUI")
    assert find_tokenizer(checkpoint, home=home) == comfy


def test_nothing_anywhere_names_every_place_in_order_and_the_fix(checkpoint, tmp_path, hf_cache, home):
    with pytest.raises(QbtuiError, match="no CLIP tokenizer") as caught:
        find_tokenizer(checkpoint, tokenizer_cache_dir=tmp_path / "kohya", comfyui_dir=tmp_path / "Comfy", home=home)
    error = caught.value
    assert error.path == checkpoint and error.fix == TOKENIZER_FIX
    expected = [
        f"1. beside the checkpoint: {checkpoint.parent / 'tokenizer'}",
        f"2. kohya tokenizer_cache_dir: {tmp_path / 'kohya' / 'openai_clip-vit-large-patch14'}",
        f"3. ComfyUI (comfyui_dir): {tmp_path / 'Comfy' / 'comfy' / 'sd1_tokenizer'}",
        f"4. Hugging Face cache (openai/clip-vit-large-patch14): {hf_cache / 'models--openai--clip-vit-large-patch14'}",
        f"5. ComfyUI: {home / 'ComfyUI' / 'comfy' / 'sd1_tokenizer'}",
        f"6. ComfyUI: {home / 'comfy' / 'ComfyUI' / 'comfy' / 'sd1_tokenizer'}",
    ]
    positions = [error.message.index(text) for text in expected]
    assert positions == sorted(positions)
    assert "/Applications/ComfyUI.app/Contents/Resources/ComfyUI/comfy/sd1_tokenizer" in error.message
    assert 'tokenizer = "' in error.fix and "comfyui_dir" in error.fix and "clip-vit-large-patch14" in error.fix


def test_the_search_imports_no_torch_or_transformers():
    import subprocess

    code = (
        "import sys; from pathlib import Path; from qbtui.trainer.tokenizer_places import search_tokenizer; "
        "search_tokenizer(Path('/nonexistent.safetensors')); "
        "print(sorted(m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
