"""Where SD1.5's CLIP tokenizer may be on this machine: every place, in the order qbtui looks.

A single-file checkpoint carries no tokenizer, so one is looked for in, in order: the
`tokenizer` setting, a `tokenizer/` folder beside the checkpoint, kohya's
`--tokenizer_cache_dir` layout (`<tokenizer_cache_dir>/openai_clip-vit-large-patch14/`, the
name sd-scripts derives from the model id), the copy every ComfyUI install ships in
`comfy/sd1_tokenizer/` (the `comfyui_dir` setting first), the user's Hugging Face cache, and
last ComfyUI's usual install places. Torch-free, so the CLI can report the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qbtui.errors import QbtuiError

TOKENIZER_FILES = ("vocab.json", "merges.txt")
CLIP_REPO = "openai/clip-vit-large-patch14"
# Hugging Face repositories whose cached files hold SD1.5's CLIP tokenizer, with its folder in each.
TOKENIZER_REPOS = (
    (CLIP_REPO, ""),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "tokenizer/"),
    ("runwayml/stable-diffusion-v1-5", "tokenizer/"),
)
# sd-scripts saves the tokenizer to os.path.join(tokenizer_cache_dir, model_id.replace("/", "_")).
KOHYA_CACHE_NAME = CLIP_REPO.replace("/", "_")
COMFYUI_TOKENIZER = Path("comfy", "sd1_tokenizer")
# Where ComfyUI is usually installed: by hand, by comfy-cli (Linux, then macOS), the desktop app on macOS.
COMFYUI_USUAL_PLACES = (
    "~/ComfyUI",
    "~/comfy/ComfyUI",
    "~/Documents/ComfyUI",
    "~/Documents/comfy/ComfyUI",
    "/Applications/ComfyUI.app/Contents/Resources/ComfyUI",
    "~/Applications/ComfyUI.app/Contents/Resources/ComfyUI",
)
TOKENIZER_FIX = (
    'set tokenizer = "/path/to/folder" (holding vocab.json and merges.txt) in registry.toml [settings], '
    'set comfyui_dir = "/path/to/ComfyUI" if ComfyUI is installed elsewhere, '
    "put a tokenizer/ folder next to the checkpoint, or run once online: "
    "python -c \"from transformers import CLIPTokenizer; CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14')\""
)


@dataclass(frozen=True)
class Place:
    """One place a tokenizer may be: what it is and the folder looked at."""

    what: str
    folder: Path

    @property
    def found(self) -> bool:
        return has_tokenizer_files(self.folder)

    def describe(self) -> str:
        return f"{self.what}: {self.folder}"


@dataclass(frozen=True)
class TokenizerSearch:
    """The places looked at, in order, and the first that holds a tokenizer (None if none did)."""

    looked: tuple[Place, ...]
    found: Place | None

    def error(self, checkpoint: Path) -> QbtuiError:
        """The error naming every place looked, in order, and the fix."""
        places = "; ".join(f"{index}. {place.describe()}" for index, place in enumerate(self.looked, 1))
        return QbtuiError(f"no CLIP tokenizer for this checkpoint; looked in {places}", path=checkpoint, fix=TOKENIZER_FIX)


def has_tokenizer_files(folder: Path) -> bool:
    """Whether `folder` holds a CLIP tokenizer's vocab.json and merges.txt."""
    return all((folder / name).is_file() for name in TOKENIZER_FILES)


def comfyui_installs(comfyui_dir: Path | None = None, home: Path | None = None) -> list[Path]:
    """The ComfyUI install folders to look in: the setting first, then the usual places."""
    home = home or Path.home()
    usual = [home / place[2:] if place.startswith("~/") else Path(place) for place in COMFYUI_USUAL_PLACES]
    return [*([comfyui_dir] if comfyui_dir else []), *(folder for folder in usual if folder != comfyui_dir)]


def cached_tokenizer_place() -> Place:
    """The user's Hugging Face cache: the snapshot folder that holds the tokenizer, else the first repo's folder."""
    from huggingface_hub import constants, try_to_load_from_cache

    for repo_id, folder in TOKENIZER_REPOS:
        found = [try_to_load_from_cache(repo_id, folder + name) for name in TOKENIZER_FILES]
        if all(isinstance(item, str) for item in found):
            return Place(f"Hugging Face cache ({repo_id})", Path(str(found[0])).parent)
    return Place(f"Hugging Face cache ({CLIP_REPO})", Path(constants.HF_HUB_CACHE) / f"models--{CLIP_REPO.replace('/', '--')}")


def candidate_places(
    checkpoint: Path,
    *,
    tokenizer_cache_dir: Path | None = None,
    comfyui_dir: Path | None = None,
    home: Path | None = None,
) -> Iterator[Place]:
    """Every place after the `tokenizer` setting, in the order looked (the cache is read only when reached)."""
    if checkpoint.is_dir():
        yield Place("in the model folder", checkpoint / "tokenizer")
    else:
        yield Place("beside the checkpoint", checkpoint.parent / "tokenizer")
    if tokenizer_cache_dir is not None:
        yield Place("kohya tokenizer_cache_dir", tokenizer_cache_dir / KOHYA_CACHE_NAME)
    installs = comfyui_installs(comfyui_dir, home)
    if comfyui_dir is not None:
        yield Place("ComfyUI (comfyui_dir)", installs.pop(0) / COMFYUI_TOKENIZER)
    yield cached_tokenizer_place()
    for install in installs:
        yield Place("ComfyUI", install / COMFYUI_TOKENIZER)


def search_tokenizer(
    checkpoint: Path,
    *,
    tokenizer_dir: Path | None = None,
    tokenizer_cache_dir: Path | None = None,
    comfyui_dir: Path | None = None,
    home: Path | None = None,
) -> TokenizerSearch:
    """Look in each place in order and stop at the first tokenizer.

    A `tokenizer` setting is the only place looked when given; one without the files raises
    QbtuiError naming it (the user asked for that folder).
    """
    if tokenizer_dir is not None:
        chosen = Place("settings tokenizer", tokenizer_dir)
        if not chosen.found:
            raise QbtuiError(
                f"the tokenizer folder lacks {' or '.join(TOKENIZER_FILES)}",
                path=tokenizer_dir,
                fix="point tokenizer in registry.toml [settings] at a CLIP tokenizer folder, or remove it to look elsewhere",
            )
        return TokenizerSearch((chosen,), chosen)
    looked: list[Place] = []
    for place in candidate_places(checkpoint, tokenizer_cache_dir=tokenizer_cache_dir, comfyui_dir=comfyui_dir, home=home):
        looked.append(place)
        if place.found:
            return TokenizerSearch(tuple(looked), place)
    return TokenizerSearch(tuple(looked), None)


def find_tokenizer(
    checkpoint: Path,
    tokenizer_dir: Path | None = None,
    *,
    tokenizer_cache_dir: Path | None = None,
    comfyui_dir: Path | None = None,
    home: Path | None = None,
) -> Path:
    """The CLIP tokenizer folder for a checkpoint, or QbtuiError listing every place looked and the fix."""
    search = search_tokenizer(
        checkpoint, tokenizer_dir=tokenizer_dir, tokenizer_cache_dir=tokenizer_cache_dir, comfyui_dir=comfyui_dir, home=home
    )
    if search.found is None:
        raise search.error(checkpoint)
    return search.found.folder
