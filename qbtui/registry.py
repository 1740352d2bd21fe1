"""Typed view of registry.toml, the single source of truth.

`Registry.load` parses and validates the file; every problem is a `RegistryError` naming
the key, its line and the fix. Mutations (`add_friend`, `record_training`, `set_setting`,
`update_friend`) take an exclusive lock on a sibling `registry.toml.lock`, re-read the
file, edit the tomlkit document in place (leaf keys only, so comments and the layout of
untouched parts survive byte for byte), validate the result and replace the file atomically.
"""

from __future__ import annotations

import difflib
import fcntl
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.toml_document import TOMLDocument

from qbtui import locations
from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError

FlagValue = str | int | float | bool


class RegistryError(QbtuiError):
    """registry.toml is unreadable, invalid, or an edit to it was refused."""


@dataclass(frozen=True)
class Settings:
    """Paths and defaults from `[settings]`, with paths already resolved."""

    datasets_dir: Path
    lora_dir: Path
    logs_dir: Path
    base_model: Path
    style_suffix: str = "illustration in the style of Quentin Blake, watercolor, whimsical"
    lora_weight: float = 0.8
    backend: str = "builtin"
    preset: str = "standard"
    kohya_scripts: Path = Path("~/sd-scripts").expanduser()
    kohya_accelerate: Path = Path("~/sd-train-venv/bin/accelerate").expanduser()
    kohya_sdpa: bool = True
    theme: str = "paper-and-ink"
    image_protocol: str = "auto"
    device: str = "auto"
    tokenizer: Path | None = None


@dataclass(frozen=True)
class Preset:
    """A named set of training flags, named as kohya's train_network.py names them."""

    name: str
    flags: dict[str, FlagValue] = field(default_factory=dict)

    @property
    def max_train_steps(self) -> int:
        return int(self.flags.get("max_train_steps", 1200))

    @property
    def network_dim(self) -> int:
        return int(self.flags.get("network_dim", 16))

    @property
    def network_alpha(self) -> float:
        return float(self.flags.get("network_alpha", 8))

    @property
    def mixed_precision(self) -> str:
        return str(self.flags.get("mixed_precision", "no"))

    @property
    def save_every_n_steps(self) -> int | None:
        value = self.flags.get("save_every_n_steps")
        return int(value) if value is not None else None


@dataclass(frozen=True)
class Training:
    """One finished training of a friend, as the guide's registry table records it."""

    date: str
    steps: int
    images: int
    preset: str = ""
    backend: str = ""
    lora_file: str = ""
    notes: str = ""
    run_id: str = ""


@dataclass(frozen=True)
class Friend:
    """A friend whose LoRA qbtui trains."""

    id: str
    name: str
    token: str
    repeats: int = 30
    describe: str = ""
    notes: str = ""
    trainings: tuple[Training, ...] = ()

    @property
    def output_name(self) -> str:
        """The LoRA file stem the guide uses: `qb_peter_lora`."""
        return f"{self.token}_lora"

    @property
    def caption_template(self) -> str:
        """The guide's starting caption: `qb_peter person, man, curly hair`."""
        return f"{self.token} person, {self.describe}" if self.describe else f"{self.token} person"

    @property
    def last_training(self) -> Training | None:
        """The most recent training by date (the later entry on a tie), or None."""
        if not self.trainings:
            return None
        return max(enumerate(self.trainings), key=lambda pair: (pair[1].date, pair[0]))[1]


def friend_root(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>`: the friend's folder, parent of the training folder."""
    return settings.datasets_dir / friend.id


def dataset_dir(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>/<repeats>_<id>`: the folder kohya trains on."""
    return friend_root(settings, friend) / f"{friend.repeats}_{friend.id}"


def originals_dir(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>/originals`: where preparation keeps the photos it replaced."""
    return friend_root(settings, friend) / "originals"


# ---------------------------------------------------------------- schema

REQUIRED_SETTINGS = ("datasets_dir", "lora_dir", "logs_dir", "base_model")
PATH_SETTINGS = frozenset(
    {"datasets_dir", "lora_dir", "logs_dir", "base_model", "kohya_scripts", "kohya_accelerate", "tokenizer"}
)
SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "style_suffix": (str,),
    "lora_weight": (int, float),
    "backend": (str,),
    "preset": (str,),
    "kohya_sdpa": (bool,),
    "theme": (str,),
    "image_protocol": (str,),
    "device": (str,),
    **{name: (str,) for name in PATH_SETTINGS},
}
SETTING_CHOICES: dict[str, tuple[str, ...]] = {
    "backend": ("builtin", "kohya"),
    "image_protocol": ("auto", "halfcell", "sixel", "kitty"),
    "device": ("auto", "cuda", "mps", "cpu"),
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
}
FRIEND_ID_PATTERN = re.compile(r"^[^\W_][\w-]*$")
TOKEN_PATTERN = re.compile(r"^[^\W_]?[\w-]+$")
DEFAULT_REPEATS = 30


def friend_id_for(name: str) -> str:
    """The registry key and folder name for a display name: `Peter` -> `peter`."""
    return name.strip().lower()


def default_token(friend_id: str) -> str:
    """The guide's trigger token: `qb_<id>`, other characters turned into `_`."""
    return "qb_" + re.sub(r"[^\w-]", "_", friend_id)


def check_friend_id(friend_id: str) -> str | None:
    """Why `friend_id` is not usable as a registry key and folder name, or None."""
    if not FRIEND_ID_PATTERN.match(friend_id) or friend_id != friend_id.lower():
        return (
            f"friend id {friend_id!r} must be one lowercase word of letters, digits, '_' or '-', "
            "starting with a letter or digit (it names the dataset folder)"
        )
    return None


def check_token(token: str) -> str | None:
    """Why `token` cannot be a trigger token, or None."""
    if not TOKEN_PATTERN.match(token):
        return f"token {token!r} must be one word of letters, digits, '_' or '-' (e.g. qb_peter)"
    return None


# ---------------------------------------------------------------- line numbers

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_LINE = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s"'-]+?)\s*=""")


def _split_dotted(text: str) -> tuple[str, ...]:
    """`friends."mary jane".token` -> ("friends", "mary jane", "token")."""
    parts, current, quote = [], "", ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return tuple(parts)


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map every table header and `key =` line to its 1-based line number.

    Arrays of tables get their index in the path: `("friends", "peter", "trainings", 0)`.
    Multi-line strings and arrays are skipped well enough for error messages.
    """
    lines: dict[tuple[Any, ...], int] = {}
    aot_counts: dict[tuple[str, ...], int] = {}
    table: tuple[Any, ...] = ()
    in_multiline = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = ""
            continue
        header = _HEADER.match(line)
        if header and "=" not in header.group(2):
            path = _split_dotted(header.group(2))
            if header.group(1) == "[[":
                index = aot_counts.get(path, 0)
                aot_counts[path] = index + 1
                lines.setdefault(path, number)
                table = (*path, index)
            else:
                table = _with_aot_indexes(path, aot_counts)
            lines.setdefault(table, number)
            continue
        key = _KEY_LINE.match(line)
        if key:
            lines.setdefault((*table, *_split_dotted(key.group(1))), number)
            for marker in ('"""', "'''"):
                if line.count(marker) % 2 == 1:
                    in_multiline = marker
    return lines


def _with_aot_indexes(path: tuple[str, ...], aot_counts: dict[tuple[str, ...], int]) -> tuple[Any, ...]:
    """Insert the current index after each array-of-tables prefix of `path`."""
    result: list[Any] = []
    for depth, part in enumerate(path):
        result.append(part)
        prefix = path[: depth + 1]
        if prefix in aot_counts and depth + 1 < len(path):
            result.append(aot_counts[prefix] - 1)
    return tuple(result)


# ---------------------------------------------------------------- parsing


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
        if isinstance(value, bool) and bool not in allowed:
            ok = False
        else:
            ok = isinstance(value, allowed)
        if not ok:
            kinds = (float,) if float in allowed and int in allowed else allowed
            wanted = " or ".join(_TYPE_NAMES[kind] for kind in kinds)
            raise self.fail(
                key_path,
                f"expected {wanted}, found {_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}",
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
                raise self.fail(("settings", key), f"{value!r} is not one of {', '.join(choices)}", f"set {key} to one of: {', '.join(choices)}")
        for key in REQUIRED_SETTINGS:
            if key not in raw:
                raise self.fail(("settings",), f"missing key {key!r}", f"add `{key} = \"...\"` under [settings]")
        if not raw.get("style_suffix", "x").strip():
            raise self.fail(("settings", "style_suffix"), "is empty", "write the house style, e.g. \"illustration in the style of Quentin Blake, watercolor, whimsical\"")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            values[key] = resolve_path(value, folder) if key in PATH_SETTINGS else value
        if "lora_weight" in values:
            values["lora_weight"] = float(values["lora_weight"])
        return Settings(**values)

    def presets(self, document: dict[str, Any]) -> dict[str, Preset]:
        presets: dict[str, Preset] = {}
        for name, raw in self.table(document, "presets").items():
            key_path = ("presets", name)
            if not isinstance(raw, dict):
                raise self.fail(key_path, "must be a table of flags", f"write it as a [presets.{name}] section")
            flags: dict[str, FlagValue] = {}
            for flag, value in raw.items():
                if flag.startswith("-"):
                    raise self.fail((*key_path, flag), "flag names are written without dashes", f"rename it to {flag.lstrip('-')}")
                if flag in DERIVED_FLAGS:
                    raise self.fail((*key_path, flag), "is derived from [settings] and the friend", "remove it from the preset")
                self.check_type((*key_path, flag), value, (str, int, float, bool))
                flags[flag] = value
            presets[name] = Preset(name=name, flags=flags)
        return presets

    def friends(self, document: dict[str, Any]) -> dict[str, Friend]:
        friends: dict[str, Friend] = {}
        token_owner: dict[str, str] = {}
        for friend_id, raw in self.table(document, "friends").items():
            key_path = ("friends", friend_id)
            problem = check_friend_id(friend_id)
            if problem:
                raise self.fail(key_path, problem, f"rename the table to [friends.{default_friend_key(friend_id)}] and its folder to match")
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
                    raise self.fail(key_path, f"missing key {key!r}", f"add `{key} = \"{example}\"` under [friends.{friend_id}]")
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
            entry = {key: value.isoformat() if isinstance(value, date) else value for key, value in entry.items()}
            for key, value in entry.items():
                self.check_known((*entry_path, key), key, TRAINING_TYPES)
                self.check_type((*entry_path, key), value, TRAINING_TYPES[key])
            for key in ("date", "steps", "images"):
                if key not in entry:
                    raise self.fail(entry_path, f"missing key {key!r}", f"add `{key} = {_example(TRAINING_TYPES[key][0])}` to this training")
            result.append(Training(**entry))
        return tuple(result)

    def registry_parts(self, document: dict[str, Any]) -> tuple[Settings, dict[str, Preset], dict[str, Friend]]:
        for key in document:
            self.check_known((key,), key, ("settings", "presets", "friends"))
        settings = self.settings(document, self.path.parent)
        presets = self.presets(document)
        if settings.preset not in presets:
            raise self.fail(
                ("settings", "preset"),
                f"unknown preset {settings.preset!r}",
                f"use one of: {', '.join(presets) or '(none defined)'}, or add a [presets.{settings.preset}] section",
            )
        return settings, presets, self.friends(document)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "an array", dict: "a table"}


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


def parse_document(path: Path, text: str) -> TOMLDocument:
    """tomlkit's document, TOML syntax errors turned into a RegistryError with the line."""
    try:
        return tomlkit.parse(text)
    except ParseError as error:
        message = str(error).split(" at line ")[0]
        raise RegistryError(f"TOML syntax error: {message} (column {error.col})", path=path, line=error.line, fix=SYNTAX_FIX) from None


_TOML_POSITION = re.compile(r"^(?P<message>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.DOTALL)


def _validated_parts(path: Path, text: str) -> tuple[Settings, dict[str, Preset], dict[str, Friend]]:
    """Parse (with the fast tomllib) and validate registry text into settings, presets and friends."""
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_POSITION.match(str(error))
        message, line, column = (found["message"], int(found["line"]), found["column"]) if found else (str(error), None, "?")
        raise RegistryError(f"TOML syntax error: {message} (column {column})", path=path, line=line, fix=SYNTAX_FIX) from None
    return _Validator(path, text).registry_parts(values)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(
            "registry not found",
            path=path,
            fix="create it with `qbtui demo` or copy registry.toml from the qbtui repository",
        ) from None
    except OSError as error:
        raise RegistryError(f"cannot read the registry: {error.strerror}", path=path, fix="check the file's permissions") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RegistryError("not valid UTF-8", path=path, line=line, fix="save the file as UTF-8") from None


def _signature(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


# ---------------------------------------------------------------- the registry


class Registry:
    """The loaded registry: settings, presets and friends, plus safe in-place edits."""

    def __init__(self, path: Path, text: str, signature: tuple[int, int, int] | None = None):
        self.path = path
        self._signature = signature
        self._install(text)

    def _install(self, text: str) -> None:
        """Validate `text` and take its values; on error the previous values stay."""
        self._take(text, _validated_parts(self.path, text))

    def _take(self, text: str, parts: tuple[Settings, dict[str, Preset], dict[str, Friend]]) -> None:
        self.settings, self.presets, self.friends = parts
        self.text = text

    @classmethod
    def load(cls, path: Path | str) -> Registry:
        """Read and validate `path`; raises RegistryError naming key, line and fix."""
        path = Path(path).expanduser().absolute()
        text = _read_text(path)
        return cls(path, text, _signature(path))

    def reload_if_changed(self) -> bool:
        """Re-read the file if its mtime, size or inode changed; True when it did."""
        try:
            signature = _signature(self.path)
        except FileNotFoundError:
            return False
        if signature == self._signature:
            return False
        text = _read_text(self.path)
        self._install(text)
        self._signature = signature
        return True

    def friend(self, friend_id: str) -> Friend:
        """The friend with this id, or a RegistryError listing the known ones."""
        try:
            return self.friends[friend_id]
        except KeyError:
            known = ", ".join(self.friends) or "none yet"
            raise RegistryError(f"no friend {friend_id!r}", path=self.path, fix=f"use one of: {known}; or `qbtui add NAME`") from None

    def preset(self, name: str | None = None) -> Preset:
        """The named preset (default: settings.preset), or a RegistryError listing the known ones."""
        name = name or self.settings.preset
        try:
            return self.presets[name]
        except KeyError:
            raise RegistryError(f"no preset {name!r}", path=self.path, fix=f"use one of: {', '.join(self.presets)}") from None

    # ------------------------------------------------------------ mutations

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock = open(lock_path, "a")
        except OSError as error:
            raise RegistryError(
                f"cannot create the lock file {lock_path.name}: {error.strerror}",
                path=self.path,
                fix="make the registry's folder writable",
            ) from None
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _edit(self, change: Callable[[TOMLDocument, Registry], None]) -> None:
        """Lock, re-read, apply `change` to the document, validate, save atomically, unlock."""
        with self._locked():
            text = _read_text(self.path)
            self._install(text)
            document = parse_document(self.path, text)
            change(document, self)
            new_text = tomlkit.dumps(document)
            if new_text != text:
                parts = _validated_parts(self.path, new_text)
                try:
                    write_text_atomic(self.path, new_text)
                except OSError as error:
                    raise RegistryError(
                        f"cannot save the registry: {error.strerror}", path=self.path, fix="free disk space or make the file writable; it is unchanged"
                    ) from None
                self._take(new_text, parts)
            self._signature = _signature(self.path)

    def add_friend(
        self, name: str, token: str | None = None, repeats: int = DEFAULT_REPEATS, describe: str = "", notes: str = ""
    ) -> Friend:
        """Add `[friends.<id>]`; refuses a bad name, a duplicate id or a duplicate token."""
        problem = check_friend_name(name)
        if problem:
            raise RegistryError(problem, path=self.path, fix="use a plain name such as Peter or Maria")
        friend_id = friend_id_for(name)
        token = token or default_token(friend_id)
        self._check_new_values(friend_id, token, repeats)

        def change(document: TOMLDocument, fresh: Registry) -> None:
            if friend_id in fresh.friends:
                raise RegistryError(f"friend {friend_id!r} already exists", path=self.path, fix="choose another name, or edit the existing friend")
            owner = fresh.token_owner(token)
            if owner:
                raise RegistryError(f"token {token!r} is already used by {owner!r}", path=self.path, fix="pass another --token")
            entry = tomlkit.table()
            entry["name"] = name
            entry["token"] = token
            entry["repeats"] = repeats
            entry["describe"] = describe
            entry["notes"] = notes
            entry.add(tomlkit.nl())
            if "friends" not in document:
                document.add("friends", tomlkit.table(is_super_table=True))
            document["friends"][friend_id] = entry

        self._edit(change)
        return self.friends[friend_id]

    def _check_new_values(self, friend_id: str, token: str, repeats: int) -> None:
        for problem in (check_friend_id(friend_id), check_token(token)):
            if problem:
                raise RegistryError(problem, path=self.path, fix="use a plain name such as Peter (id peter, token qb_peter)")
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise RegistryError(f"repeats must be a whole number of at least 1, not {repeats!r}", path=self.path, fix="the guide uses 30")

    def token_owner(self, token: str, *, ignore: str | None = None) -> str | None:
        """The id of the friend already using `token` (case-insensitive), if any."""
        for friend in self.friends.values():
            if friend.id != ignore and friend.token.lower() == token.lower():
                return friend.id
        return None

    def record_training(self, friend_id: str, training: Training) -> None:
        """Append a `[[friends.<id>.trainings]]` entry; a run_id already recorded is skipped."""

        def change(document: TOMLDocument, fresh: Registry) -> None:
            friend = fresh.friend(friend_id)
            if training.run_id and any(done.run_id == training.run_id for done in friend.trainings):
                return
            entry = tomlkit.table()
            for item in fields(Training):
                value = getattr(training, item.name)
                if value != "" or item.name in ("date", "steps", "images"):
                    entry[item.name] = value
            entry.add(tomlkit.nl())
            table = document["friends"][friend_id]
            if "trainings" in table:
                table["trainings"].append(entry)
            else:
                table["trainings"] = tomlkit.aot()
                table["trainings"].append(entry)

        self._check_training(training)
        self._edit(change)

    def _check_training(self, training: Training) -> None:
        for item in fields(Training):
            value = getattr(training, item.name)
            kind = TRAINING_TYPES[item.name][0]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise RegistryError(f"training {item.name} must be {_TYPE_NAMES[kind]}, not {value!r}", path=self.path, fix="pass the right type")

    def set_setting(self, key: str, value: Any) -> None:
        """Set one `[settings]` key (paths as given, e.g. `~/loras`) keeping its comment; None removes an optional key."""
        if key not in SETTING_TYPES:
            close = difflib.get_close_matches(key, list(SETTING_TYPES), n=1)
            raise RegistryError(f"unknown setting {key!r}", path=self.path, fix=f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(SETTING_TYPES)}")
        if value is None and key in REQUIRED_SETTINGS:
            raise RegistryError(f"setting {key!r} cannot be removed", path=self.path, fix=f"give {key} a value")
        stored = str(value) if isinstance(value, Path) else value

        def change(document: TOMLDocument, fresh: Registry) -> None:
            settings = document["settings"]
            if stored is None:
                settings.pop(key, None)
            else:
                _set_leaf(settings, key, stored)

        self._edit(change)

    def update_friend(self, friend_id: str, **changes: Any) -> Friend:
        """Change a friend's name, token, repeats, describe or notes, keeping comments."""
        for key in changes:
            if key not in FRIEND_TYPES:
                raise RegistryError(f"cannot update {key!r} of a friend", path=self.path, fix=f"update one of: {', '.join(FRIEND_TYPES)}")

        def change(document: TOMLDocument, fresh: Registry) -> None:
            current = fresh.friend(friend_id)
            updated = replace(current, **changes)
            self._check_new_values(friend_id, updated.token, updated.repeats)
            owner = fresh.token_owner(updated.token, ignore=friend_id)
            if owner:
                raise RegistryError(f"token {updated.token!r} is already used by {owner!r}", path=self.path, fix="choose another token")
            table = document["friends"][friend_id]
            for key, value in changes.items():
                _set_leaf(table, key, value)

        self._edit(change)
        return self.friends[friend_id]


def _set_leaf(table: Any, key: str, value: Any) -> None:
    """Replace one value, keeping its inline comment and indentation."""
    if key in table:
        old = table.item(key)
        new = tomlkit.item(value)
        new.trivia.indent = old.trivia.indent
        new.trivia.comment_ws = old.trivia.comment_ws
        new.trivia.comment = old.trivia.comment
        new.trivia.trail = old.trivia.trail
        table[key] = new
    else:
        table[key] = value


def check_friend_name(name: str) -> str | None:
    """Why `name` cannot be a friend's name (it must be one safe path component), or None."""
    if not name or not name.strip():
        return "the name is empty"
    if name != name.strip():
        return f"name {name!r} starts or ends with a space"
    if "\0" in name:
        return "the name contains a NUL character"
    if "/" in name or "\\" in name:
        return f"name {name!r} contains a path separator"
    if name in (".", "..") or name.startswith("."):
        return f"name {name!r} starts with a dot"
    if any(ord(char) < 32 for char in name):
        return f"name {name!r} contains a control character"
    return None


# ---------------------------------------------------------------- location


def locate_registry(cli_value: str | None, *, announce: Callable[[str], None] | None = None) -> Path:
    """The registry to use: --registry, $QBTUI_REGISTRY, ./registry.toml, then the user's.

    The user config one is created from the starter registry on first use; `announce`
    (default: print to stderr) is told where.
    """
    if cli_value:
        return Path(cli_value).expanduser().absolute()
    from_env = os.environ.get(locations.REGISTRY_ENV)
    if from_env:
        return Path(from_env).expanduser().absolute()
    local = Path.cwd() / locations.REGISTRY_FILENAME
    if local.is_file():
        return local
    user = locations.user_registry_path()
    if not user.exists():
        user.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(user, locations.STARTER_REGISTRY.read_text(encoding="utf-8"))
        (announce or _to_stderr)(f"qbtui: created a starter registry at {user}; edit it to point at your datasets")
    return user


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)
