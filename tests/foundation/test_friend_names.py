"""New friends' names: NFC, the README's folding, no hidden or direction-changing characters,
no Latin mixed with Cyrillic or Greek, ASCII tokens, and no look-alike of an existing friend."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from qbtui.friend_names import friend_id_for, look_alike_key, new_friend
from qbtui.registry import Friend, Registry, RegistryError, check_friend_id, check_token


def _registry(registry_path: Path, *names: str) -> Registry:
    registry = Registry.load(registry_path)
    for name in names:
        registry.add_friend(name)
    return registry


def _refusal(registry: Registry, name: str, token: str | None = None) -> RegistryError:
    before = registry.path.read_bytes()
    with pytest.raises(RegistryError) as caught:
        registry.add_friend(name, token=token)
    assert registry.path.read_bytes() == before
    return caught.value


def test_punctuation_runs_fold_to_one_underscore_and_collide(registry_path: Path) -> None:
    assert friend_id_for("mary-jane") == friend_id_for("Mary  Jane") == friend_id_for("Mary_Jane!") == "mary_jane"
    registry = _registry(registry_path, "Mary Jane")
    assert "friend 'mary_jane' already exists (Mary Jane)" in _refusal(registry, "mary-jane").message


def test_nfc_and_nfd_are_one_name(registry_path: Path) -> None:
    registry = _registry(registry_path, "E\u0301va")
    eva = registry.friends["\u00e9va"]
    assert eva.name == "\u00c9va" and eva.token == "qb_eva"
    assert "already exists (\u00c9va)" in _refusal(registry, "\u00c9va").message


def test_fullwidth_folds_to_the_same_id(registry_path: Path) -> None:
    assert friend_id_for("\uff41\uff44\uff41") == "ada"
    registry = _registry(registry_path, "Ada")
    assert "already exists (Ada)" in _refusal(registry, "\uff41\uff44\uff41").message


def test_latin_mixed_with_cyrillic_is_refused_one_script_is_not(registry_path: Path) -> None:
    registry = _registry(registry_path, "Ada")
    error = _refusal(registry, "\u0410da")
    assert "mixes Cyrillic and Latin letters" in error.message
    friend = registry.add_friend("\u0414\u043c\u0438\u0442\u0440\u0438\u0439", token="qb_dmitri")
    assert (friend.id, friend.token) == ("\u0434\u043c\u0438\u0442\u0440\u0438\u0439", "qb_dmitri")


@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\u200f", "\u2066", "\u00ad", "\ufeff"])
def test_invisible_and_bidirectional_characters_are_refused(registry_path: Path, hidden: str) -> None:
    error = _refusal(_registry(registry_path), f"Ada{hidden}x")
    assert "invisible or direction-changing characters" in error.message
    assert f"U+{ord(hidden):04X}" in error.message


def test_tokens_are_ascii_and_look_alike_tokens_collide(registry_path: Path) -> None:
    registry = _registry(registry_path, "Zoë")
    assert registry.friends["zoë"].token == "qb_zoe"
    assert "looks like the existing friend Zoë (id zoë)" in _refusal(registry, "Zoe").message
    assert "token 'qb-ZOE' looks like 'qb_zoe' of 'zoë'" in _refusal(registry, "Zed", token="qb-ZOE").message
    assert "ASCII" in _refusal(registry, "Zed", token="qb_zëd").message


def test_a_name_without_a_latin_spelling_needs_a_typed_token(registry_path: Path) -> None:
    registry = _registry(registry_path)
    error = _refusal(registry, "山田")
    assert "ASCII letters" in error.message and "qb_yamada" in (error.fix or "")
    assert registry.add_friend("山田", token="qb_yamada").id == "山田"


def test_existing_friends_keep_their_ids_and_tokens(registry_path: Path) -> None:
    old = '\n[friends.mary-jane]\nname = "Mary-Jane"\ntoken = "qb_mary-jane"\n\n[friends."zoë"]\nname = "Zoë"\ntoken = "qb_zoë"\n'
    registry_path.write_text(registry_path.read_text() + old, encoding="utf-8")
    registry = Registry.load(registry_path)
    assert [(f.id, f.token) for f in registry.friends.values()] == [("mary-jane", "qb_mary-jane"), ("zoë", "qb_zoë")]
    assert "looks like the existing friend Mary-Jane (id mary-jane)" in _refusal(registry, "Mary Jane").message
    assert "looks like the existing friend Zoë (id zoë)" in _refusal(registry, "Zoe").message


def test_the_cli_refuses_a_look_alike_naming_the_friend(run_cli, demo_registry: Path) -> None:
    code, _out, err = run_cli("--registry", demo_registry, "add", "\uff41\uff44\uff41")
    assert code == 2 and "already exists (Ada)" in err


NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)
EXISTING = (Friend(id="ada", name="Ada", token="qb_ada"), Friend(id="mary_jane", name="Mary Jane", token="qb_mary_jane"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES)
def test_an_accepted_name_is_clean_and_unlike_every_existing_friend(name: str) -> None:
    planned = new_friend(name, None, EXISTING)
    if planned.problem:
        return
    assert planned.name == unicodedata.normalize("NFC", name)
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in planned.name)
    assert planned.token.isascii() and planned.id == friend_id_for(planned.name)
    assert check_friend_id(planned.id) is None and check_token(planned.token) is None
    keys = {look_alike_key(text) for friend in EXISTING for text in (friend.id, friend.name, friend.token)}
    assert look_alike_key(planned.id) not in keys and look_alike_key(planned.token) not in keys


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Ada", "Mary Jane"]), st.sampled_from(["upper", "lower", "nfd", "dash", "fullwidth", "spaces"]))
def test_every_variant_of_an_existing_name_is_refused(name: str, variant: str) -> None:
    changed = {
        "upper": name.upper(),
        "lower": name.lower(),
        "nfd": unicodedata.normalize("NFD", name),
        "dash": name.replace(" ", "-"),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name),
        "spaces": name.replace(" ", " - "),
    }[variant]
    assert new_friend(changed, None, EXISTING).problem


def test_the_prompt_finds_a_friend_whatever_the_normalisation(registry_path: Path) -> None:
    from qbtui.prompt import convert_names

    registry = _registry(registry_path, "\u00c9va")
    for typed in ("\u00c9va at sea", "E\u0301va at sea"):
        text, found = convert_names(typed, registry.friends)
        assert [friend.id for friend in found] == ["\u00e9va"] and text == "qb_eva person at sea"
