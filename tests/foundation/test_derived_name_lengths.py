"""Every file named after a friend's token (the LoRA, its checkpoints, their cards, previews and
LoRA Manager sidecars, samples) fits the file system's 255 bytes: `add` refuses a token or name
that would make a longer one, and accepts the longest that fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtui.atomicfile import temp_path_for
from qbtui.cards import card_path, preview_path
from qbtui.lora_manager_sidecar import sidecar_path
from qbtui.pathlimits import longest_lora_name, name_max
from qbtui.registry import Registry, RegistryError
from tests.foundation.test_registry_safety import SETTINGS


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    if name_max(tmp_path) != 255:
        pytest.skip("the temp folder's file system does not allow 255-byte names")
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    return path


def _accepts_token(folder: Path, length: int) -> bool:
    """Whether a fresh registry in `folder` adds a friend with a token of `length` characters."""
    folder.mkdir()
    (folder / "registry.toml").write_text(SETTINGS)
    try:
        Registry.load(folder / "registry.toml").add_friend("Tom", token="t" * length)
    except RegistryError:
        return False
    return True


def _longest_accepted_token(tmp_path: Path) -> int:
    """The longest token the registry accepts, found by asking it (binary search)."""
    low, high = 1, 300
    while low < high:
        middle = (low + high + 1) // 2
        if _accepts_token(tmp_path / f"probe-{middle}", middle):
            low = middle
        else:
            high = middle - 1
    return low


def test_add_refuses_the_225_letter_name_and_accepts_the_longest_name_that_fits(registry_path: Path, run_cli) -> None:
    code, _, err = run_cli("--registry", registry_path, "add", "L" * 225)
    assert code == 2
    assert "the token makes file names of" in err and "(limit 255)" in err
    assert "use a shorter name, or pass a shorter --token" in err and "nothing was written" in err
    assert registry_path.read_text() == SETTINGS
    suffix = len(longest_lora_name("")[0])
    longest = 255 - suffix - len("_lora") - len("qb_")
    code, _, err = run_cli("--registry", registry_path, "add", "L" * (longest + 1))
    assert code == 2 and "(limit 255)" in err
    code, _, err = run_cli("--registry", registry_path, "add", "L" * longest)
    assert code == 0, err
    assert Registry.load(registry_path).friends["l" * longest].token == "qb_" + "l" * longest


def test_a_typed_token_too_long_names_the_token_flag(registry_path: Path, run_cli) -> None:
    code, _, err = run_cli("--registry", registry_path, "add", "Tom", "--token", "t" * 230)
    assert code == 2
    assert "the token makes file names of" in err and "fix: pass a shorter --token; nothing was written" in err
    assert registry_path.read_text() == SETTINGS


def test_every_name_written_after_the_longest_accepted_token_fits(tmp_path: Path) -> None:
    if name_max(tmp_path) != 255:
        pytest.skip("the temp folder's file system does not allow 255-byte names")
    from qbtui.trainer.loop import checkpoint_name
    from qbtui.trainer.sampling import sample_file_name, sample_stem

    length = _longest_accepted_token(tmp_path)
    assert length > 150
    registry = Registry.load(tmp_path / f"probe-{length}" / "registry.toml")
    friend = registry.friends["tom"]
    lora_dir = registry.settings.lora_dir
    final = lora_dir / f"{friend.output_name}.safetensors"
    checkpoint = lora_dir / checkpoint_name(friend.output_name, 99_999_999)
    written = [final, checkpoint]
    for lora in (final, checkpoint):
        written += [card_path(lora), preview_path(lora), sidecar_path(lora)]
    written.append(lora_dir / "sample" / sample_file_name(sample_stem(friend.output_name, 999_999), 99, 10.0, 2**32 - 1))
    written += [temp_path_for(path) for path in list(written)]
    too_long = [path.name for path in written if len(path.name.encode()) > 255]
    assert not too_long
