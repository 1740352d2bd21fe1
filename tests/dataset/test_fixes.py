"""apply_fix: every action in the catalogue does what the problem's fix promises."""

from __future__ import annotations

import pytest

from qbtui.dataset import apply_fix, scan_friend
from qbtui.errors import QbtuiError
from qbtui.registry import originals_dir


def problems_by_code(settings, friend):
    return {problem.code: problem for problem in scan_friend(settings, friend).all_problems()}


def test_each_action_clears_its_problem(settings, friend, folder, photos):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(700, 500))
    photos.jpeg(folder / "nocap.jpg", seed=2)
    (folder / "wide.txt").write_text("man, qb_peter person\n", encoding="utf-8")
    (folder / "stray.pdf").write_bytes(b"%PDF")
    for code in ("not-512", "no-caption", "token-not-first", "unsupported-type"):
        problem = problems_by_code(settings, friend)[code]
        assert apply_fix(settings, friend, problem)
        assert code not in problems_by_code(settings, friend), code
    assert (originals_dir(settings, friend) / "stray.pdf").exists()


def test_add_folder(settings, friend):
    problem = problems_by_code(settings, friend)["folder-missing"]
    apply_fix(settings, friend, problem)
    assert "folder-missing" not in problems_by_code(settings, friend)


def test_a_problem_without_action_is_refused_with_its_fix(settings, friend, folder, photos):
    photos.jpeg(folder / "a.jpg", seed=1)
    (folder / "a.txt").write_bytes(b"caf\xe9")
    problem = problems_by_code(settings, friend)["caption-not-utf8"]
    with pytest.raises(QbtuiError) as caught:
        apply_fix(settings, friend, problem)
    assert caught.value.fix == problem.fix
