"""A new friend's name: what it becomes (display name, id, token) and why it is refused.

The rules apply to names being added (`qbtui add`, the Add dialog); friends already in a
registry keep their ids and tokens, whatever rules added them.

- The display name is NFC-normalised: an NFD `Éva` (E + combining accent) and an NFC `Éva`
  are one name. Control, invisible (zero-width, soft hyphen) and bidirectional characters
  (a right-to-left override) are refused: they change how a name looks, not what it says.
- A name mixing Latin with Cyrillic or Greek letters (`Аda` with a Cyrillic `А`) is refused:
  it looks like a Latin name it is not. A name in one script (`Дмитрий`) is fine.
- The id (registry key and folder name): NFKC (fullwidth `ａｄａ` becomes `ada`), lowercase,
  apostrophes dropped, every other run of characters that are not letters or digits one `_`
  (`Mary Jane`, `mary-jane` -> `mary_jane`).
- The token: `qb_` + the id in ASCII, accents dropped (`Zoë` -> `qb_zoe`): CLIP's tokenizer
  splits a non-ASCII letter into byte pieces, so `qb_zoë` would be several rare tokens
  instead of one made-up word. A name with no Latin spelling (`山田`) needs a token typed
  in ASCII (`--token qb_yamada`).
- A name whose id, display name or token folds (`look_alike_key`) to an existing friend's is
  refused, naming that friend: `mary-jane` beside `Mary Jane`, `Zoe` beside `Zoë`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class Friend(Protocol):
    """What the look-alike check reads of an existing friend (`qbtui.registry.Friend`)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def token(self) -> str: ...


APOSTROPHES = "'\u2019\u02bc`"
# Letters that NFKD does not split into an ASCII letter and a mark.
ASCII_SPELLING = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
ASCII_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
NAME_FIX = "use a plain name such as Peter or Maria"


def _fold_runs(text: str) -> str:
    """Every run of characters that are not letters or digits becomes one `_`; none at the ends.

    What is kept matches `\\w`, so the id fits FRIEND_ID_PATTERN and run ids; a combining mark
    that NFKC could not compose (some scripts' vowel signs) separates, as it always did."""
    folded = "".join(char if char.isalnum() else " " for char in text)
    return "_".join(folded.split())


def friend_id_for(name: str) -> str:
    """The registry key and folder name for a display name: `Peter` -> `peter`.

    NFKC, lowercase, apostrophes dropped, every other run of characters that are not letters
    or digits one `_`: `Mary Jane` and `mary-jane` -> `mary_jane`, `O'Brien` -> `obrien`.
    """
    lowered = unicodedata.normalize("NFKC", name).strip().lower()
    return _fold_runs(lowered.translate(str.maketrans("", "", APOSTROPHES)))


def ascii_spelling(text: str) -> str:
    """`text` with accents dropped (`zoë` -> `zoe`, `ß` -> `ss`); letters of other scripts stay."""
    decomposed = unicodedata.normalize("NFKD", text.translate(ASCII_SPELLING))
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not unicodedata.combining(char)))


def default_token(friend_id: str) -> str:
    """The guide's trigger token: `qb_<id>` in ASCII where the id has a Latin spelling (`qb_zoe`)."""
    return "qb_" + re.sub(r"[^\w-]", "_", ascii_spelling(friend_id))


def look_alike_key(text: str) -> str:
    """What two names, ids or tokens that look alike share: `Mary-Jane`, `mary_jane` -> `mary_jane`."""
    folded = ascii_spelling(unicodedata.normalize("NFKC", text)).casefold()
    return _fold_runs(folded.translate(str.maketrans("", "", APOSTROPHES)))


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


def _hidden_characters(name: str) -> list[str]:
    """Control, invisible and bidirectional characters: categories Cc, Cf, Zl and Zp."""
    return [char for char in name if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")]


def _scripts(name: str) -> list[str]:
    """The confusable scripts (Latin, Cyrillic, Greek) whose letters `name` uses, in order."""
    found: dict[str, None] = {}
    for char in unicodedata.normalize("NFKC", name):
        if char.isalpha():
            words = unicodedata.name(char, "").split()
            found.update((script, None) for script in CONFUSABLE_SCRIPTS if script in words[:1])
    return list(found)


def new_name_problem(name: str) -> str | None:
    """Why `name` cannot be a new friend's display name, or None."""
    problem = check_friend_name(name)
    if problem:
        return problem
    hidden = _hidden_characters(name)
    if hidden:
        codes = ", ".join(f"U+{ord(char):04X} {unicodedata.name(char, 'control').lower()}" for char in dict.fromkeys(hidden))
        return f"the name holds invisible or direction-changing characters ({codes})"
    scripts = _scripts(name)
    if len(scripts) > 1:
        return (
            f"the name mixes {' and '.join(script.capitalize() for script in scripts)} letters, so it looks like a name it is not"
        )
    return None


def new_token_problem(token: str) -> str | None:
    """Why `token` cannot be a new friend's trigger token, or None (ASCII only: see the module)."""
    if not ASCII_TOKEN.match(token):
        return (
            f"token {token!r} must be one word of ASCII letters, digits, '_' or '-' "
            "(CLIP splits other letters into byte pieces), e.g. qb_peter"
        )
    return None


@dataclass(frozen=True)
class NewFriend:
    """A name being added: its NFC display name, id and token, or the reason it is refused and the fix."""

    name: str
    id: str
    token: str
    problem: str | None = None
    fix: str = NAME_FIX


def new_friend(name: str, token: str | None, friends: Iterable[Friend]) -> NewFriend:
    """What `name` (and an optional typed `token`) become beside `friends`, and why not if refused."""
    name = unicodedata.normalize("NFC", name)
    friend_id = friend_id_for(name)
    token = token or default_token(friend_id)
    problem = new_name_problem(name)
    if problem:
        return NewFriend(name, friend_id, token, problem)
    if not friend_id:
        return NewFriend(name, friend_id, token, f"name {name!r} has no letter or digit to make a folder name from")
    problem = new_token_problem(token)
    if problem:
        return NewFriend(name, friend_id, token, problem, "type a token in ASCII letters, e.g. qb_yamada")
    for friend in friends:
        refusal = _look_alike(friend, name, friend_id, token)
        if refusal:
            return NewFriend(name, friend_id, token, *refusal)
    return NewFriend(name, friend_id, token)


def _look_alike(friend: Friend, name: str, friend_id: str, token: str) -> tuple[str, str] | None:
    """Why a new friend is too like `friend` (message, fix), or None."""
    if friend.id == friend_id:
        return f"friend {friend_id!r} already exists ({friend.name})", "choose another name, or edit the existing friend"
    if look_alike_key(friend.id) == look_alike_key(friend_id) or look_alike_key(friend.name) == look_alike_key(name):
        return f"{name!r} looks like the existing friend {friend.name} (id {friend.id})", "choose a name that reads differently"
    if friend.token.lower() == token.lower():
        return f"token {token!r} is already used by {friend.id!r}", "choose another token"
    if look_alike_key(friend.token) == look_alike_key(token):
        return f"token {token!r} looks like {friend.token!r} of {friend.id!r}", "choose another token"
    return None
