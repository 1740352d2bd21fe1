"""The guide's prompt conversion for Automatic1111, as a plain function.

    >>> build_prompt("Peter climbing a tree", registry.friends, style_suffix=..., weight=0.8)
    '<lora:qb_peter_lora:0.8>, qb_peter person climbing a tree, illustration in the style of ...'

A friend is found by display name, id or token, case-insensitively, as a whole word and
whatever the Unicode normalisation (`Peter's` becomes `qb_peter person's`); each friend
found gets one LoRA tag, in order of first appearance; other words stay as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from qbtui.registry import Friend

PERSON = "person"


def _aliases(friend: Friend) -> list[str]:
    names = (friend.name.strip(), friend.id, friend.token)
    return [alias for alias in dict.fromkeys(unicodedata.normalize("NFC", name) for name in names) if alias]


def _alias_pattern(alias: str) -> str:
    return r"\s+".join(re.escape(word) for word in alias.split())


def _matcher(friends: list[Friend]) -> tuple[re.Pattern[str], dict[str, Friend]]:
    """One regex over every alias (longest first) and the lookup from lowercased alias to friend."""
    by_alias: dict[str, Friend] = {}
    for friend in friends:
        for alias in _aliases(friend):
            by_alias.setdefault(" ".join(alias.lower().split()), friend)
    alternatives = "|".join(_alias_pattern(alias) for alias in sorted(by_alias, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?P<who>{alternatives})(?!\w)(?P<person>\s+{PERSON}(?!\w))?", re.IGNORECASE)
    return pattern, by_alias


def _as_list(friends: Mapping[str, Friend] | Iterable[Friend]) -> list[Friend]:
    return list(friends.values()) if isinstance(friends, Mapping) else list(friends)


def lora_tag(friend: Friend, weight: float) -> str:
    """`<lora:qb_peter_lora:0.8>`: the Automatic1111 tag that loads a friend's LoRA (their chosen file, if any)."""
    return f"<lora:{friend.lora_name}:{weight:g}>"


def friend_weight(friend: Friend, default: float) -> float:
    """The weight the likeness evaluation chose for the friend's latest training, else `default`."""
    chosen = friend.chosen_weight
    return default if chosen is None else chosen


def convert_names(text: str, friends: Mapping[str, Friend] | Iterable[Friend]) -> tuple[str, list[Friend]]:
    """Replace each friend's name with `<token> person`; also return the friends found, in order.

    The scene is NFC-normalised first, so `Éva` typed with a combining accent finds Éva."""
    text = unicodedata.normalize("NFC", text)
    known = _as_list(friends)
    if not known:
        return text, []
    pattern, by_alias = _matcher(known)
    found: dict[str, Friend] = {}

    def swap(match: re.Match[str]) -> str:
        friend = by_alias[" ".join(match.group("who").lower().split())]
        found.setdefault(friend.id, friend)
        return f"{friend.token} {PERSON}"

    return pattern.sub(swap, text), list(found.values())


def build_prompt(
    text: str,
    friends: Mapping[str, Friend] | Iterable[Friend],
    *,
    style_suffix: str,
    weight: float,
    weights: Mapping[str, float] | None = None,
    use_choice: bool = True,
) -> str:
    """`Peter climbing a tree` -> `<lora:qb_peter_lora:0.8>, qb_peter person climbing a tree, <style>`.

    `weights` (friend id -> weight) decides for the friends it names. Else a friend whose
    latest training has a likeness choice gets its weight; `weight` applies to the others,
    and to everyone when `use_choice` is False (an explicit weight).
    """
    scene, found = convert_names(text.strip().rstrip(",").strip(), friends)
    chosen = weights or {}

    def weight_of(friend: Friend) -> float:
        if friend.id in chosen:
            return chosen[friend.id]
        return friend_weight(friend, weight) if use_choice else weight

    parts = [lora_tag(friend, weight_of(friend)) for friend in found]
    if scene:
        parts.append(scene)
    suffix = style_suffix.strip()
    if suffix and not scene.lower().endswith(suffix.lower()):
        parts.append(suffix)
    return ", ".join(parts)
