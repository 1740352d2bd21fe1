"""Typed view of registry.toml, the single source of truth.

`Registry.load` parses and validates the file; every problem is a `RegistryError` naming
the key, its line and the fix. Mutations (`add_friend`, `record_training`, `set_setting`,
`update_friend`) take an exclusive lock on a sibling `registry.toml.lock`, re-read the
file, edit the tomlkit document in place (leaf keys only, so comments and the layout of
untouched parts survive byte for byte), validate the result and replace the file atomically.

The types live in `qbtui.registry.model` and validation in `qbtui.registry.schema`;
`qbtui.registry` is the face other layers import from.
"""

from __future__ import annotations

import copy
import difflib
import fcntl
import os
import stat
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.toml_document import TOMLDocument

from qbtui import locations
from qbtui.atomicfile import write_text_atomic
from qbtui.filenames import bare_name_problem
from qbtui.friend_names import NewFriend, new_friend
from qbtui.mounts import make_writable_fix
from qbtui.pathlimits import name_too_long
from qbtui.printable import printable
from qbtui.registry.hosts import Host
from qbtui.registry.layout import friend_section, keep_line_endings, move_tail_comments
from qbtui.registry.model import (
    DEFAULT_REPEATS,
    Friend,
    Preset,
    RegistryError,
    Settings,
    Training,
    check_friend_id,
    check_token,
)
from qbtui.registry.name_lengths import NameTooLongError
from qbtui.registry.schema import (
    FRIEND_TYPES,
    REQUIRED_SETTINGS,
    SETTING_TYPES,
    SYNTAX_FIX,
    TRAINING_TYPES,
    TYPE_NAMES,
    RegistryParts,
    validated_parts,
)
from qbtui.safefile import NotARegularFileError, open_lock, read_bytes


def parse_document(path: Path, text: str) -> TOMLDocument:
    """tomlkit's document, TOML syntax errors turned into a RegistryError with the line."""
    try:
        return tomlkit.parse(text)
    except ParseError as error:
        message = str(error).split(" at line ")[0]
        raise RegistryError(
            f"TOML syntax error: {message} (column {error.col})", path=path, line=error.line, fix=SYNTAX_FIX
        ) from None


BOM = "\ufeff"


def _read_raw(path: Path) -> str:
    """The registry's text as stored (a UTF-8 BOM kept)."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        raise RegistryError(
            "registry not found",
            path=path,
            fix="create it with `qbtui demo` or copy registry.toml from the qbtui repository",
        ) from None
    except NotARegularFileError as error:
        raise RegistryError(
            f"the registry {error.strerror}", path=path, fix="point QBTUI_REGISTRY or --registry at the registry file"
        ) from None
    except OSError as error:
        raise RegistryError(
            f"cannot read the registry: {error.strerror}", path=path, fix="check the file's permissions"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RegistryError("not valid UTF-8", path=path, line=line, fix="save the file as UTF-8") from None


def _read_text(path: Path) -> str:
    """The registry's text, a UTF-8 BOM (which TOML does not allow) dropped."""
    return _read_raw(path).removeprefix(BOM)


def _writable_target(path: Path) -> Path:
    """The file a save replaces: a symlink's target (so the link survives), refused when read-only."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except OSError:
        return target
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise RegistryError(
            "the registry is read-only; nothing was changed",
            path=target,
            fix=f"{make_writable_fix(target)}, and run the command again",
        )
    return target


def _signature(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


# ---------------------------------------------------------------- the registry


class Registry:
    """The loaded registry: settings, presets, friends and `[keymap]`, plus safe in-place edits.

    `keymap` maps Textual binding ids to keys (`{"dashboard.train": "t,ctrl+n"}`); which
    ids exist is the TUI's business, so they are not checked here.
    """

    settings: Settings
    presets: dict[str, Preset]
    friends: dict[str, Friend]
    keymap: dict[str, str]
    hosts: dict[str, Host]

    def __init__(self, path: Path, text: str, signature: tuple[int, int, int] | None = None):
        self.path = path
        self._signature = signature
        self._install(text)

    def _install(self, text: str) -> None:
        """Validate `text` and take its values; on error the previous values stay."""
        self._take(validated_parts(self.path, text))

    def _take(self, parts: RegistryParts) -> None:
        self.settings, self.presets, self.friends, self.keymap, self.hosts = parts

    @classmethod
    def load(cls, path: Path | str) -> Registry:
        """Read and validate `path`; raises RegistryError naming key, line and fix."""
        path = Path(path).expanduser().absolute()
        text = _read_text(path)
        return cls(path, text, _signature(path))

    def changed_on_disk(self) -> bool:
        """True when the file's mtime, size or inode differ from what was loaded (False when it is gone)."""
        try:
            return _signature(self.path) != self._signature
        except FileNotFoundError:
            return False

    def reload_if_changed(self) -> bool:
        """Re-read the file in place if `changed_on_disk()`; True when it did.

        For one-thread callers (the CLI, the supervisor); the dashboard swaps in a new
        `Registry.load` instead (qbtui.workspace).
        """
        if not self.changed_on_disk():
            return False
        signature = _signature(self.path)
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
            raise RegistryError(
                f"no friend {friend_id!r}", path=self.path, fix=f"use one of: {known}; or `qbtui add NAME`"
            ) from None

    def preset(self, name: str | None = None) -> Preset:
        """The named preset (default: settings.preset), or a RegistryError listing the known ones."""
        name = name or self.settings.preset
        try:
            return self.presets[name]
        except KeyError:
            raise RegistryError(f"no preset {name!r}", path=self.path, fix=f"use one of: {', '.join(self.presets)}") from None

    # ------------------------------------------------------------ mutations

    @contextmanager
    def _locked(self, target: Path) -> Iterator[None]:
        lock_path = target.with_name(target.name + ".lock")
        try:
            # Opened outside the `with` only to turn its OSError into a RegistryError; the `with lock` below closes it.
            lock = os.fdopen(open_lock(lock_path), "r+b")
        except NotARegularFileError as error:
            raise RegistryError(
                f"the lock file {lock_path.name} {error.strerror}", path=self.path, fix=f"remove {lock_path}: qbtui creates it"
            ) from None
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

    def _edit(self, change: Callable[[TOMLDocument, Registry], None], expect: Callable[[dict[str, Any], Registry], None]) -> None:
        """Lock, re-read, apply `change` to the document, check, save atomically, unlock.

        `expect` applies the same change to the plain parsed values: the saved text must
        parse to exactly that (so nothing outside the keys concerned changes), else the
        edit is refused and the file stays as it was. Line endings and a BOM are kept.
        """
        target = _writable_target(self.path)
        with self._locked(target):
            raw = _read_raw(target)
            text = raw.removeprefix(BOM)
            self._install(text)
            document = parse_document(self.path, text)
            change(document, self)
            new_text = keep_line_endings(text, tomlkit.dumps(document))
            if new_text != text:
                self._check_outcome(text, new_text, expect)
                parts = validated_parts(self.path, new_text)
                try:
                    write_text_atomic(target, raw[: len(raw) - len(text)] + new_text)
                except OSError as error:
                    raise RegistryError(
                        f"cannot save the registry: {error.strerror}",
                        path=target,
                        fix="free disk space or make the file and its folder writable; it is unchanged",
                    ) from None
                self._take(parts)
            self._signature = _signature(self.path)

    def _check_outcome(self, text: str, new_text: str, expect: Callable[[dict[str, Any], Registry], None]) -> None:
        wanted = tomllib.loads(text)
        expect(wanted, self)
        try:
            found = tomllib.loads(new_text)
        except tomllib.TOMLDecodeError:
            found = None
        if found != wanted:
            raise RegistryError(
                "qbtui cannot make this change in the registry's layout without touching other keys; nothing was changed",
                path=self.path,
                fix="write each friend as its own [friends.<id>] section, then run the command again",
            )

    def add_friend(
        self, name: str, token: str | None = None, repeats: int = DEFAULT_REPEATS, describe: str = "", notes: str = ""
    ) -> Friend:
        """Add `[friends.<id>]`; refuses what `qbtui.friend_names.new_friend` refuses (a bad or
        look-alike name, a duplicate id or token), naming the existing friend."""
        token_typed = bool(token)
        planned = self.new_friend(name, token)
        if planned.problem:
            raise RegistryError(planned.problem, path=self.path, fix=planned.fix)
        name, friend_id, token = planned.name, planned.id, planned.token
        self._check_new_values(friend_id, token, repeats, token_typed=token_typed)

        def change(document: TOMLDocument, fresh: Registry) -> None:
            again = fresh.new_friend(name, token)
            if again.problem:
                raise RegistryError(again.problem, path=self.path, fix=again.fix)
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

        def expect(values: dict[str, Any], fresh: Registry) -> None:
            values.setdefault("friends", {})[friend_id] = {
                "name": name,
                "token": token,
                "repeats": repeats,
                "describe": describe,
                "notes": notes,
            }

        self._edit(change, expect)
        return self.friends[friend_id]

    def new_friend(self, name: str, token: str | None = None) -> NewFriend:
        """What `name` would become beside this registry's friends, or why it is refused (no write)."""
        return new_friend(name, token, self.friends.values())

    def _check_new_values(self, friend_id: str, token: str, repeats: int, *, token_typed: bool = True) -> None:
        for problem in (check_friend_id(friend_id), check_token(token)):
            if problem:
                raise RegistryError(problem, path=self.path, fix="use a plain name such as Peter (id peter, token qb_peter)")
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise RegistryError(
                f"repeats must be a whole number of at least 1, not {repeats!r}", path=self.path, fix="the guide uses 30"
            )
        settings = self.settings
        refusal = name_too_long(settings.datasets_dir, settings.lora_dir, settings.logs_dir, friend_id, token, repeats)
        if refusal:
            raise NameTooLongError(refusal, self.path, token_typed=token_typed)

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
            for key, value in _training_entry(training).items():
                entry[key] = value
            entry.add(tomlkit.nl())
            table = friend_section(document, friend_id)
            if "trainings" in table:
                move_tail_comments(table["trainings"][-1], entry)
                table["trainings"].append(entry)
            else:
                move_tail_comments(table, entry)
                table["trainings"] = tomlkit.aot()
                table["trainings"].append(entry)

        def expect(values: dict[str, Any], fresh: Registry) -> None:
            friend = fresh.friend(friend_id)
            if training.run_id and any(done.run_id == training.run_id for done in friend.trainings):
                return
            values["friends"][friend_id].setdefault("trainings", []).append(_training_entry(training))

        self._check_training(training)
        self._edit(change, expect)

    def _check_training(self, training: Training) -> None:
        for item in fields(Training):
            value = getattr(training, item.name)
            kinds = TRAINING_TYPES[item.name]
            if value is None and item.default is None:
                continue
            if isinstance(value, bool) or not isinstance(value, kinds):
                kind = kinds[-1]
                raise RegistryError(
                    f"training {item.name} must be {TYPE_NAMES[kind]}, not {value!r}", path=self.path, fix="pass the right type"
                )

    def record_choice(
        self,
        friend_id: str,
        run_id: str,
        *,
        chosen_lora: str,
        chosen_weight: float | None,
        likeness: float | None,
        scores: dict[str, float],
        chosen_sample: str = "",
    ) -> bool:
        """Write a likeness evaluation into the training row of `run_id` (chosen file, weight, sample, likeness, scores).

        A weight of None (the evaluation chose nothing) keeps an earlier choice (a hand pick, a
        pass that found faces) and only replaces the scores: a choice is replaced by a choice,
        never erased by a pass that made none. False when the friend has no training row for that run.
        """
        for key, value in (("chosen_weight", chosen_weight), ("likeness", likeness)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise RegistryError(f"training {key} must be a number, not {value!r}", path=self.path, fix="pass a number")
        problem = bare_name_problem(chosen_lora) if chosen_lora else None
        if problem:
            raise RegistryError(
                f"training chosen_lora {printable(chosen_lora)} {problem}",
                path=self.path,
                fix="choose a LoRA by its file name in the LoRA folder (no folder in it)",
            )
        # None removes the key.
        updates: dict[str, Any] = {"scores": {label: round(float(score), 4) for label, score in scores.items()} or None}
        if chosen_weight is not None:
            updates |= {
                "chosen_lora": chosen_lora or None,
                "chosen_weight": round(float(chosen_weight), 4),
                "chosen_sample": chosen_sample or None,
                "likeness": round(float(likeness), 4) if likeness is not None else None,
            }
        found = []

        def change(document: TOMLDocument, fresh: Registry) -> None:
            fresh.friend(friend_id)
            rows = friend_section(document, friend_id).get("trainings", [])
            row = next((row for row in rows if row.get("run_id") == run_id), None)
            if row is None:
                return
            found.append(row)
            for key, value in updates.items():
                if value is None:
                    row.pop(key, None)
                elif key == "scores":
                    table = tomlkit.inline_table()
                    table.update(value)
                    row[key] = table
                else:
                    _set_leaf(row, key, value)

        def expect(plain: dict[str, Any], fresh: Registry) -> None:
            rows = plain["friends"][friend_id].get("trainings", [])
            row = next((row for row in rows if row.get("run_id") == run_id), None)
            if row is None:
                return
            for key, value in updates.items():
                if value is None:
                    row.pop(key, None)
                else:
                    row[key] = value

        self._edit(change, expect)
        return bool(found)

    def set_setting(self, key: str, value: Any) -> None:
        """Set one `[settings]` key (paths as given, e.g. `~/loras`) keeping its comment; None removes an optional key."""
        if key not in SETTING_TYPES:
            close = difflib.get_close_matches(key, list(SETTING_TYPES), n=1)
            raise RegistryError(
                f"unknown setting {key!r}",
                path=self.path,
                fix=f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(SETTING_TYPES)}",
            )
        if value is None and key in REQUIRED_SETTINGS:
            raise RegistryError(f"setting {key!r} cannot be removed", path=self.path, fix=f"give {key} a value")
        stored = str(value) if isinstance(value, Path) else value

        def change(document: TOMLDocument, fresh: Registry) -> None:
            settings = document["settings"]
            if stored is None:
                settings.pop(key, None)
            else:
                _set_leaf(settings, key, stored)

        def expect(values: dict[str, Any], fresh: Registry) -> None:
            if stored is None:
                values["settings"].pop(key, None)
            else:
                values["settings"][key] = stored

        self._edit(change, expect)

    def update_friend(self, friend_id: str, **changes: Any) -> Friend:
        """Change a friend's name, token, repeats, describe or notes, keeping comments."""
        for key in changes:
            if key not in FRIEND_TYPES:
                raise RegistryError(
                    f"cannot update {key!r} of a friend", path=self.path, fix=f"update one of: {', '.join(FRIEND_TYPES)}"
                )

        def change(document: TOMLDocument, fresh: Registry) -> None:
            current = fresh.friend(friend_id)
            updated = replace(current, **changes)
            self._check_new_values(friend_id, updated.token, updated.repeats)
            owner = fresh.token_owner(updated.token, ignore=friend_id)
            if owner:
                raise RegistryError(
                    f"token {updated.token!r} is already used by {owner!r}", path=self.path, fix="choose another token"
                )
            table = friend_section(document, friend_id)
            for key, value in changes.items():
                _set_leaf(table, key, value)

        def expect(values: dict[str, Any], fresh: Registry) -> None:
            values["friends"][friend_id].update(copy.deepcopy(changes))

        self._edit(change, expect)
        return self.friends[friend_id]


def _training_entry(training: Training) -> dict[str, Any]:
    """The keys a training row is written with: date, steps, images and every other key that is set."""
    return {
        item.name: getattr(training, item.name)
        for item in fields(Training)
        if getattr(training, item.name) not in ("", None, {}) or item.name in ("date", "steps", "images")
    }


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
