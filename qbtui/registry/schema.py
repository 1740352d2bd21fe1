"""Validation of registry.toml: parsed values in, typed objects out, or a RegistryError
naming the key, its line and the fix.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from qbtui.filenames import bare_name_problem
from qbtui.printable import printable
from qbtui.registry.hosts import Host, add_host_advice, parse_hosts
from qbtui.registry.model import (
    BACKENDS,
    DEFAULT_REPEATS,
    DRAW_SAMPLERS,
    FLAG_MINIMUMS,
    LORA_WEIGHT_FIX,
    FlagValue,
    Friend,
    Preset,
    RegistryError,
    Settings,
    Training,
    check_friend_id,
    check_token,
    default_token,
    lora_weight_problem,
    range_problem,
)
from qbtui.registry.tomllines import key_lines

REQUIRED_SETTINGS = ("datasets_dir", "lora_dir", "logs_dir", "base_model")
PATH_SETTINGS = frozenset(
    {
        "datasets_dir",
        "lora_dir",
        "logs_dir",
        "base_model",
        "kohya_scripts",
        "kohya_accelerate",
        "tokenizer",
        "tokenizer_cache_dir",
        "comfyui_dir",
        "drawings_dir",
    }
)
# Optional folders a file cannot stand for, with the fix when one does.
FOLDER_SETTINGS = {
    "tokenizer": "point it at the folder holding vocab.json and merges.txt",
    "tokenizer_cache_dir": "point it at the folder given to kohya's --tokenizer_cache_dir",
    "comfyui_dir": "point it at the ComfyUI folder (the one holding main.py and comfy/)",
}
SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "style_suffix": (str,),
    "lora_weight": (int, float),
    "backend": (str,),
    "preset": (str,),
    "kohya_sdpa": (bool,),
    "theme": (str,),
    "image_protocol": (str,),
    "device": (str,),
    "host": (str,),
    "prep_mode": (str,),
    "negative_prompt": (str,),
    "draw_sampler": (str,),
    "guidance_scale": (int, float),
    "draw_steps": (int,),
    **dict.fromkeys(PATH_SETTINGS, (str,)),
    "eval_prompts": (list,),
    "eval_seeds": (int,),
    "eval_seed": (int,),
    "eval_steps": (int,),
    "eval_min_face_rate": (int, float),
    "eval_after_training": (bool,),
    "stop_early": (bool,),
    "stop_early_patience": (int,),
    "stop_early_margin": (int, float),
}
# Whole-number settings and their inclusive ranges, with the fix a bad value gets.
SETTING_RANGES: dict[str, tuple[float, float, str]] = {
    "eval_seeds": (1, 16, "use 1 to 16 seeds per prompt (default 2)"),
    "eval_seed": (0, 2**32 - 1, "use a seed from 0 to 4294967295 (default 1000)"),
    "eval_steps": (1, 150, "use 1 to 150 sampling steps (default 12)"),
    "eval_min_face_rate": (0, 1, "use a share from 0 to 1, e.g. 0.7"),
    "stop_early_patience": (1, 100, "use 1 or more checkpoints (default 2)"),
    "stop_early_margin": (0, 0.5, "use a likeness margin such as 0.02"),
}
SETTING_CHOICES: dict[str, tuple[str, ...]] = {
    "backend": BACKENDS,
    "image_protocol": ("auto", "halfcell", "sixel", "kitty"),
    "device": ("auto", "cuda", "mps", "cpu"),
    "prep_mode": ("face", "letterbox"),
    "draw_sampler": DRAW_SAMPLERS,
}
# Preset flags with a range (inclusive; the bool: above the low end only), with the fix a bad value
# gets. Every other number in a preset need only be finite.
PRESET_FLAG_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "learning_rate": (0, 1, True, "use a rate such as 1e-4 (the guide's standard)"),
    "unet_lr": (0, 1, True, "use a rate such as 1e-4"),
    "text_encoder_lr": (0, 1, False, "use 0 (frozen) or a rate such as 5e-5"),
}
# Flags qbtui derives from the settings and the friend; a preset must not set them.
DERIVED_FLAGS = ("pretrained_model_name_or_path", "train_data_dir", "output_dir", "logging_dir", "output_name")
FRIEND_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "token": (str,),
    "repeats": (int,),
    "describe": (str,),
    "notes": (str,),
}
TRAINING_TYPES: dict[str, tuple[type, ...]] = {
    "date": (str,),
    "steps": (int,),
    "images": (int,),
    "preset": (str,),
    "backend": (str,),
    "lora_file": (str,),
    "notes": (str,),
    "run_id": (str,),
    "chosen_lora": (str,),
    "chosen_weight": (int, float),
    "chosen_sample": (str,),
    "likeness": (int, float),
    "scores": (dict,),
}


KEYMAP_FIX = 'write `"dashboard.train" = "t,ctrl+n"` under [keymap]; binding ids are on the help screen (f1)'


class RegistryParts(NamedTuple):
    """A validated registry: settings, presets, friends and the key remaps."""

    settings: Settings
    presets: dict[str, Preset]
    friends: dict[str, Friend]
    keymap: dict[str, str]
    hosts: dict[str, Host]


class _Validator:
    """Turns a parsed document into typed objects, raising on the first problem."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text
        self._lines: dict[tuple[Any, ...], int] | None = None

    def line_of(self, key_path: tuple[Any, ...]) -> int | None:
        if self._lines is None:
            self._lines = key_lines(self.text)
        for length in range(len(key_path), 0, -1):
            if key_path[:length] in self._lines:
                return self._lines[key_path[:length]]
        return None

    def fail(self, key_path: tuple[Any, ...], message: str, fix: str) -> RegistryError:
        dotted = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in key_path)
        dotted = dotted.replace(".[", "[")
        return RegistryError(f"{dotted}: {message}" if dotted else message, path=self.path, line=self.line_of(key_path), fix=fix)

    def check_type(self, key_path: tuple[Any, ...], value: Any, allowed: tuple[type, ...]) -> None:
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if not ok:
            kinds = (float,) if float in allowed and int in allowed else allowed
            wanted = " or ".join(TYPE_NAMES[kind] for kind in kinds)
            raise self.fail(
                key_path,
                f"expected {wanted}, found {TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}",
                f"write it as {_example(kinds[0])}",
            )

    def check_known(self, key_path: tuple[Any, ...], key: str, known: Any) -> None:
        if key in known:
            return
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise self.fail(key_path, f"unknown key {key!r}", f"{hint}known keys: {', '.join(known)}")

    def table(self, document: dict[str, Any], key: str) -> dict[str, Any]:
        value = document.get(key, {})
        if not isinstance(value, dict):
            raise self.fail((key,), "must be a table", f"write it as a [{key}] section")
        return value

    def settings(self, document: dict[str, Any], folder: Path) -> Settings:
        raw = document.get("settings")
        if not isinstance(raw, dict):
            raise self.fail((), "missing [settings] section", "add a [settings] section with " + ", ".join(REQUIRED_SETTINGS))
        for key, value in raw.items():
            self.check_known(("settings", key), key, SETTING_TYPES)
            self.check_type(("settings", key), value, SETTING_TYPES[key])
            choices = SETTING_CHOICES.get(key)
            if choices and value not in choices:
                raise self.fail(
                    ("settings", key),
                    f"{value!r} is not one of {', '.join(choices)}",
                    f"set {key} to one of: {', '.join(choices)}",
                )
        for key in REQUIRED_SETTINGS:
            if key not in raw:
                raise self.fail(("settings",), f"missing key {key!r}", f'add `{key} = "..."` under [settings]')
        if not raw.get("style_suffix", "x").strip():
            raise self.fail(
                ("settings", "style_suffix"),
                "is empty",
                'write the house style, e.g. "illustration in the style of Quentin Blake, watercolor, whimsical"',
            )
        self.check_eval_settings(raw)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            values[key] = resolve_path(value, folder) if key in PATH_SETTINGS else value
        for key in ("lora_weight", "guidance_scale", "eval_min_face_rate", "stop_early_margin"):
            if key in values:
                values[key] = float(values[key])
        if values.get("draw_steps", 1) < 1:
            raise self.fail(
                ("settings", "draw_steps"),
                f"must be at least 1, found {values['draw_steps']}",
                "use 30 (or 20 on a slow machine)",
            )
        problem = range_problem(values.get("guidance_scale", 7.0), 0, 30, above_low=True)
        if problem:
            raise self.fail(("settings", "guidance_scale"), problem, "A1111's default CFG scale is 7")
        problem = lora_weight_problem(values.get("lora_weight", 0.8))
        if problem:
            raise self.fail(("settings", "lora_weight"), problem, LORA_WEIGHT_FIX)
        if "eval_prompts" in values:
            values["eval_prompts"] = tuple(values["eval_prompts"])
        for key in FOLDER_SETTINGS:
            if key in values and values[key].is_file():
                raise self.fail(("settings", key), f"{values[key]} is a file, not a folder", FOLDER_SETTINGS[key])
        return Settings(**values)

    def check_eval_settings(self, raw: dict[str, Any]) -> None:
        """The likeness evaluation's settings: ranges, and prompts that name the friend's token."""
        for key, (low, high, fix) in SETTING_RANGES.items():
            problem = range_problem(raw[key], low, high) if key in raw else None
            if problem:
                raise self.fail(("settings", key), problem, fix)
        prompts = raw.get("eval_prompts")
        if prompts is None:
            return
        example = 'write eval_prompts = ["a photo of {token} person"]'
        if not prompts:
            raise self.fail(("settings", "eval_prompts"), "is empty", example)
        for index, prompt in enumerate(prompts):
            if not isinstance(prompt, str) or "{token}" not in prompt:
                raise self.fail(
                    ("settings", "eval_prompts", index),
                    f"{prompt!r} does not name the friend as {{token}}",
                    example + " ({token} becomes the friend's trigger token)",
                )

    def presets(self, document: dict[str, Any]) -> dict[str, Preset]:
        presets: dict[str, Preset] = {}
        for name, raw in self.table(document, "presets").items():
            key_path = ("presets", name)
            if not isinstance(raw, dict):
                raise self.fail(key_path, "must be a table of flags", f"write it as a [presets.{name}] section")
            flags: dict[str, FlagValue] = {}
            for flag, value in raw.items():
                if flag.startswith("-"):
                    raise self.fail(
                        (*key_path, flag), "flag names are written without dashes", f"rename it to {flag.lstrip('-')}"
                    )
                if flag in DERIVED_FLAGS:
                    raise self.fail((*key_path, flag), "is derived from [settings] and the friend", "remove it from the preset")
                self.check_type((*key_path, flag), value, (str, int, float, bool))
                self.check_flag_number((*key_path, flag), flag, value)
                flags[flag] = value
            presets[name] = Preset(name=name, flags=flags)
        return presets

    def check_flag_number(self, key_path: tuple[Any, ...], flag: str, value: FlagValue) -> None:
        """A number in a preset is finite (`inf` and `nan` train nothing) and within its flag's range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if flag in FLAG_MINIMUMS:
            minimum, fix = FLAG_MINIMUMS[flag]
            if not math.isfinite(value) or value < minimum:
                raise self.fail(key_path, f"must be at least {minimum}, found {value!r}", fix)
        elif flag in PRESET_FLAG_RANGES:
            low, high, above_low, fix = PRESET_FLAG_RANGES[flag]
            problem = range_problem(value, low, high, above_low=above_low)
            if problem:
                raise self.fail(key_path, problem, fix)
        else:
            self.check_finite(key_path, value)

    def friends(self, document: dict[str, Any]) -> dict[str, Friend]:
        friends: dict[str, Friend] = {}
        token_owner: dict[str, str] = {}
        for friend_id, raw in self.table(document, "friends").items():
            key_path = ("friends", friend_id)
            problem = check_friend_id(friend_id)
            if problem:
                raise self.fail(
                    key_path, problem, f"rename the table to [friends.{default_friend_key(friend_id)}] and its folder to match"
                )
            if not isinstance(raw, dict):
                raise self.fail(key_path, "must be a table", f"write it as a [friends.{friend_id}] section")
            for key, value in raw.items():
                if key == "trainings":
                    continue
                self.check_known((*key_path, key), key, FRIEND_TYPES)
                self.check_type((*key_path, key), value, FRIEND_TYPES[key])
            for key in ("name", "token"):
                if key not in raw:
                    example = friend_id.capitalize() if key == "name" else default_token(friend_id)
                    raise self.fail(key_path, f"missing key {key!r}", f'add `{key} = "{example}"` under [friends.{friend_id}]')
            token = raw["token"]
            problem = check_token(token)
            if problem:
                raise self.fail((*key_path, "token"), problem, f"use a token like {default_token(friend_id)!r}")
            if token.lower() in token_owner:
                raise self.fail(
                    (*key_path, "token"),
                    f"token {token!r} is already used by friends.{token_owner[token.lower()]}",
                    "give each friend a unique token (the guide uses qb_<name>)",
                )
            token_owner[token.lower()] = friend_id
            repeats = raw.get("repeats", DEFAULT_REPEATS)
            if repeats < 1:
                raise self.fail((*key_path, "repeats"), f"must be at least 1, found {repeats}", "the guide uses repeats = 30")
            friends[friend_id] = Friend(
                id=friend_id,
                name=raw["name"],
                token=token,
                repeats=repeats,
                describe=raw.get("describe", ""),
                notes=raw.get("notes", ""),
                trainings=self.trainings(key_path, raw.get("trainings", [])),
            )
        return friends

    def trainings(self, friend_path: tuple[Any, ...], raw: Any) -> tuple[Training, ...]:
        key_path = (*friend_path, "trainings")
        if not isinstance(raw, list):
            raise self.fail(key_path, "must be an array of tables", f"write each training as [[{'.'.join(map(str, key_path))}]]")
        result = []
        for index, entry in enumerate(raw):
            entry_path = (*key_path, index)
            if not isinstance(entry, dict):
                raise self.fail(entry_path, "must be a table", f"write each training as [[{'.'.join(map(str, key_path))}]]")
            fields = {key: value.isoformat() if isinstance(value, date) else value for key, value in entry.items()}
            for key, value in fields.items():
                self.check_known((*entry_path, key), key, TRAINING_TYPES)
                self.check_type((*entry_path, key), value, TRAINING_TYPES[key])
            self.check_scores(entry_path, entry.get("scores", {}))
            for key in ("chosen_weight", "likeness"):
                if key in entry:
                    entry[key] = float(entry[key])
                    self.check_finite((*entry_path, key), entry[key])
            problem = bare_name_problem(fields["chosen_lora"]) if fields.get("chosen_lora") else None
            if problem:
                raise self.fail(
                    (*entry_path, "chosen_lora"), problem, "write the LoRA's file name in lora_dir (no folder), or remove the key"
                )
            problem = lora_weight_problem(entry["chosen_weight"]) if "chosen_weight" in entry else None
            if problem:
                raise self.fail((*entry_path, "chosen_weight"), problem, LORA_WEIGHT_FIX)
            for key in ("date", "steps", "images"):
                if key not in fields:
                    raise self.fail(
                        entry_path, f"missing key {key!r}", f"add `{key} = {_example(TRAINING_TYPES[key][0])}` to this training"
                    )
            result.append(Training(**fields))  # type: ignore[arg-type]  # each value's type was checked above
        return tuple(result)

    def check_scores(self, entry_path: tuple[Any, ...], scores: dict[str, Any]) -> None:
        """`scores = { "800@0.8" = 0.41, ... }`: likeness per checkpoint and weight, numbers only."""
        for label, value in scores.items():
            self.check_type((*entry_path, "scores", label), value, (int, float))
            self.check_finite((*entry_path, "scores", label), value)

    def check_finite(self, key_path: tuple[Any, ...], value: float) -> None:
        if not math.isfinite(value):
            raise self.fail(key_path, f"must be a finite number, found {value!r}", "write a finite number, or remove the key")

    def keymap(self, document: dict[str, Any]) -> dict[str, str]:
        keymap = self.table(document, "keymap")
        for binding_id, keys in keymap.items():
            if isinstance(keys, dict):
                key_path: tuple[Any, ...] = ("keymap", binding_id)
                nested: Any = keys
                while isinstance(nested, dict) and nested:
                    name, nested = next(iter(nested.items()))
                    key_path = (*key_path, name)
                dotted = ".".join(key_path[1:])
                raise self.fail(key_path, "a binding id with dots must be quoted", f'write "{dotted}" = "keys" under [keymap]')
            if not isinstance(keys, str) or not keys.strip():
                found = TYPE_NAMES.get(type(keys), type(keys).__name__)
                raise self.fail(("keymap", binding_id), f"expected a string of keys, found {found} {keys!r}", KEYMAP_FIX)
        return dict(keymap)

    def check_no_nul(self, key_path: tuple[Any, ...], value: Any) -> None:
        """No key or string anywhere holds a NUL: no path, host or command can carry one."""
        if isinstance(value, str) and "\0" in value:
            raise self.fail(key_path, "contains a NUL character (\\u0000)", "remove the \\u0000 from the value")
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            if isinstance(key, str) and "\0" in key:
                raise self.fail(
                    key_path, f"the key {printable(key)} contains a NUL character (\\u0000)", "remove it from the key"
                )
            self.check_no_nul((*key_path, key), item)

    def registry_parts(self, document: dict[str, Any]) -> RegistryParts:
        self.check_no_nul((), document)
        for key in document:
            self.check_known((key,), key, ("settings", "presets", "friends", "keymap", "hosts"))
        settings = self.settings(document, self.path.parent)
        presets = self.presets(document)
        if settings.preset not in presets:
            raise self.fail(
                ("settings", "preset"),
                f"unknown preset {settings.preset!r}",
                f"use one of: {', '.join(presets) or '(none defined)'}, or add a [presets.{settings.preset}] section",
            )
        hosts = parse_hosts(document.get("hosts"), self.fail)
        if settings.host and settings.host not in hosts:
            raise self.fail(
                ("settings", "host"),
                f"unknown host {settings.host!r}",
                f"use one of: {', '.join(hosts) or '(none defined)'}; remove the key; {add_host_advice(settings.host)}",
            )
        return RegistryParts(settings, presets, self.friends(document), self.keymap(document), hosts)


TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "an array", dict: "a table"}


def _example(kind: type) -> str:
    return {str: '"text"', int: "30", float: "0.8", bool: "true"}.get(kind, "a value")


def default_friend_key(text: str) -> str:
    """A usable friend id derived from arbitrary text (for error fixes)."""
    cleaned = re.sub(r"[^\w-]+", "_", text.lower()).strip("_-")
    return cleaned or "friend"


def resolve_path(value: str, folder: Path) -> Path:
    """`~` expanded; a relative path taken against the registry's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = folder / path
    return Path(os.path.normpath(path))


SYNTAX_FIX = "correct the TOML syntax on that line (strings need quotes, one key = value per line)"

_TOML_POSITION = re.compile(r"^(?P<message>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.DOTALL)


def validated_parts(path: Path, text: str) -> RegistryParts:
    """Parse (with the fast tomllib) and validate registry text into settings, presets, friends and keymap."""
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_POSITION.match(str(error))
        message, line, column = (found["message"], int(found["line"]), found["column"]) if found else (str(error), None, "?")
        raise RegistryError(f"TOML syntax error: {message} (column {column})", path=path, line=line, fix=SYNTAX_FIX) from None
    return _Validator(path, text).registry_parts(values)
