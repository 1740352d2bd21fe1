"""registry.toml, the single source of truth: its types, validation, hosts and locked edits.

Other layers import from here alone. Inside: `model` (the typed settings, presets, friends,
trainings and the rules for names and values), `hosts` (`[hosts.<name>]`), `schema`
(validation), `tomllines` (key line numbers for errors), `layout` (tomlkit edits that keep
hand-written layouts) and `store` (`Registry`: load, lock, edit, write atomically).
Names are imported on first use, so a constant such as `CAPTION_SUFFIX` costs no tomlkit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbtui.lazy import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers; tests/test_lazy_exports.py keeps both lists equal
    from qbtui.registry.hosts import (
        ANYWHERE as ANYWHERE,
        HERE as HERE,
        LOCAL as LOCAL,
        Host as Host,
        add_host_advice as add_host_advice,
    )
    from qbtui.registry.model import (
        BACKENDS as BACKENDS,
        CAPTION_SUFFIX as CAPTION_SUFFIX,
        DEFAULT_REPEATS as DEFAULT_REPEATS,
        FLAG_MINIMUMS as FLAG_MINIMUMS,
        LORA_WEIGHT_FIX as LORA_WEIGHT_FIX,
        LORA_WEIGHT_MAX as LORA_WEIGHT_MAX,
        FlagValue as FlagValue,
        Friend as Friend,
        Preset as Preset,
        RegistryError as RegistryError,
        Settings as Settings,
        Training as Training,
        check_friend_id as check_friend_id,
        check_token as check_token,
        dataset_dir as dataset_dir,
        default_token as default_token,
        friend_id_for as friend_id_for,
        friend_root as friend_root,
        lora_weight_problem as lora_weight_problem,
        originals_dir as originals_dir,
    )
    from qbtui.registry.name_lengths import NameTooLongError as NameTooLongError
    from qbtui.registry.store import Registry as Registry, locate_registry as locate_registry


_EXPORTS = {
    "Registry": "store",
    "locate_registry": "store",
    "RegistryError": "model",
    "NameTooLongError": "name_lengths",
    "Settings": "model",
    "Preset": "model",
    "Friend": "model",
    "Training": "model",
    "FlagValue": "model",
    "DEFAULT_REPEATS": "model",
    "BACKENDS": "model",
    "CAPTION_SUFFIX": "model",
    "FLAG_MINIMUMS": "model",
    "LORA_WEIGHT_FIX": "model",
    "LORA_WEIGHT_MAX": "model",
    "lora_weight_problem": "model",
    "check_friend_id": "model",
    "check_token": "model",
    "default_token": "model",
    "friend_id_for": "model",
    "dataset_dir": "model",
    "friend_root": "model",
    "originals_dir": "model",
    "Host": "hosts",
    "LOCAL": "hosts",
    "HERE": "hosts",
    "ANYWHERE": "hosts",
    "add_host_advice": "hosts",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
