"""What is likely wrong with a scene before it is prompted or drawn, as warnings.

- a friend it names has no trained LoRA (or its file is not in `lora_dir`): A1111 loads
  nothing for the `<lora:...>` tag, and the picture shows a stranger;
- a capitalised word close to a friend's name that is not one (`Aad` for Ada): a typo;
- it names no friend at all: it gets no LoRA, so the nearest friend's name is suggested
  (only from a word of 3 letters or more, not a common one like "the", and only one alike
  enough to be a typo).

Warnings only: the prompt or drawing goes ahead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from qbtui.choice import lora_file
from qbtui.prompt import convert_names
from qbtui.registry import Friend, Settings

WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
POSSESSIVE = re.compile(r"['\u2019]s?$")
# How alike a word and a name must be to call the word a typo (difflib's ratio).
TYPO_CUTOFF = 0.6
# Words no friend's name is a typo of (shorter words are never compared).
MIN_WORD_LETTERS = 3
STOPWORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as words)
        "the and with for from into onto this that these those her his him its our your their them they she "
        "are was were has have had not but all any one who what where when while over under near beside at "
        "person man woman people"
    ).split()
)


def _aliases(friend: Friend) -> set[str]:
    """The lowercased words a friend goes by: the name, each word of it, the id, the token."""
    name = friend.name.lower()
    return {name, friend.id.lower(), friend.token.lower(), *(word for word in name.split() if len(word) >= 3)}


def _words(scene: str) -> list[str]:
    return [POSSESSIVE.sub("", word) for word in WORD.findall(scene)]


def _suggestion_words(scene: str) -> list[str]:
    """The scene's words a friend's name could be misspelt as: not short, not common."""
    return [word for word in _words(scene) if len(word) >= MIN_WORD_LETTERS and word.lower() not in STOPWORDS]


def _nearest(word: str, friends: Iterable[Friend]) -> tuple[float, Friend] | None:
    """The friend whose name, id or token is most like `word`, with difflib's ratio."""
    scored = [
        (difflib.SequenceMatcher(None, word.lower(), alias).ratio(), friend) for friend in friends for alias in _aliases(friend)
    ]
    return max(scored, key=lambda pair: pair[0], default=None)


def scene_warnings(scene: str, friends: Mapping[str, Friend], settings: Settings) -> list[str]:
    """Why the prompt or drawing of `scene` is probably not what was meant (empty when it looks fine)."""
    _converted, found = convert_names(scene, friends)
    warnings = []
    for friend in found:
        path = lora_file(friend, settings)
        if path is None:
            warnings.append(f"{friend.name} has no trained LoRA yet, so their tag draws a stranger: `qbtui train {friend.id}`")
        elif not path.is_file():
            warnings.append(f"{friend.name}'s LoRA file {path.name} is not in lora_dir ({settings.lora_dir})")
    known = {alias for friend in found for alias in _aliases(friend)}
    for word in dict.fromkeys(_words(scene)):
        if not word[:1].isupper() or word.lower() in known or len(word) < 3:
            continue
        nearest = _nearest(word, friends.values())
        if nearest and nearest[0] >= TYPO_CUTOFF and nearest[1] not in found:
            warnings.append(f"{word!r} is no friend's name: did you mean {nearest[1].name}?")
    if not found and friends:
        scored = [(nearest, word) for word in _suggestion_words(scene) if (nearest := _nearest(word, friends.values()))]
        best = max(scored, key=lambda pair: pair[0][0], default=None)
        best = best if best and best[0][0] >= TYPO_CUTOFF else None
        hint = f"; the nearest friend is {best[0][1].name} (from {best[1]!r})" if best else ""
        warnings.append(f"the scene names no friend, so it gets no LoRA{hint}")
    return warnings
