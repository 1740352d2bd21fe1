"""Scores and the choice over synthetic descriptors: the rules, without a face model."""

from __future__ import annotations

import pytest

from qbtui.likeness.scoring import IDENTITY, STYLE, SampleFaces, choose, score_cell, standardise

PETER = (0.0,) * 128
NEAR = (0.03,) * 128  # distance 0.34 from PETER: the same person
FAR = (0.07,) * 128  # distance 0.79: someone else
REFERENCES = [PETER, PETER, NEAR]


def faces(descriptor, *, kind=IDENTITY, seed=1, prompt="a photo of qb_peter person", crop=None) -> SampleFaces:
    found = () if descriptor is None else (descriptor,)
    return SampleFaces(f"s{seed}.png", prompt, kind, seed, found, crop)


def cell(label, weight, descriptors, *, step=None, style=(), references=REFERENCES):
    samples = [faces(d, seed=seed) for seed, d in enumerate(descriptors)]
    samples += [faces(d, kind=STYLE, seed=100 + seed, prompt="style") for seed, d in enumerate(style)]
    step = step if step is not None else (int(label) if label.isdigit() else 1200)
    return score_cell(label, None if weight == 0 else step, f"{label}.safetensors", weight, samples, references)


def test_a_cell_is_scored_by_its_identity_samples() -> None:
    scored = cell("400", 0.8, [NEAR, NEAR, FAR, None], style=[None])
    assert scored.face_rate == pytest.approx(3 / 5)
    assert scored.style_face_rate == 0
    assert scored.match_rate == pytest.approx(2 / 4)
    assert scored.likeness == pytest.approx(0.34, abs=0.01)
    assert scored.key == "400@0.8"


def test_style_samples_count_for_face_rate_only() -> None:
    scored = cell("400", 0.8, [NEAR], style=[FAR, FAR])
    assert scored.face_rate == 1
    assert scored.likeness == pytest.approx(0.34, abs=0.01)
    assert scored.match_rate == 1


def test_the_most_alike_cell_with_enough_faces_is_chosen() -> None:
    cells = [
        cell("base", 0, [FAR, FAR]),
        cell("400", 0.8, [FAR, FAR]),
        cell("800", 0.8, [NEAR, PETER]),
        cell("final", 1.0, [PETER, PETER, None, None, None]),  # alike but too few faces
    ]
    choice = choose(cells, min_face_rate=0.7, has_references=True)
    assert choice.cell is not None and choice.cell.key == "800@0.8"
    assert "best likeness" in choice.reason


def test_ties_go_to_the_lower_weight_then_the_earlier_step() -> None:
    cells = [cell("800", 1.0, [NEAR]), cell("800", 0.6, [NEAR]), cell("400", 0.6, [NEAR]), cell("final", 0.6, [NEAR])]
    choice = choose(cells, min_face_rate=0.5, has_references=True)
    assert (choice.cell.label, choice.cell.weight) == ("400", 0.6)


def test_no_faces_in_the_samples_chooses_nothing() -> None:
    cells = [cell("base", 0, [None]), cell("20", 0.8, [None, None]), cell("final", 1.0, [None])]
    choice = choose(cells, min_face_rate=0.7, has_references=True)
    assert choice.cell is None
    assert choice.reason == "no faces in the samples"


def test_no_faces_in_the_photos_chooses_nothing() -> None:
    cells = [cell("400", 0.8, [NEAR], references=[])]
    assert cells[0].likeness is None and cells[0].match_rate is None
    choice = choose(cells, min_face_rate=0.7, has_references=False)
    assert choice.cell is None and "training photos" in choice.reason


def test_too_few_faces_everywhere_says_the_best_rate() -> None:
    choice = choose([cell("400", 0.8, [NEAR, None, None])], min_face_rate=0.7, has_references=True)
    assert choice.cell is None and "33%" in choice.reason and "70%" in choice.reason


def test_a_choice_no_better_than_the_base_model_is_warned_about() -> None:
    choice = choose([cell("base", 0, [NEAR]), cell("400", 0.8, [FAR])], min_face_rate=0.5, has_references=True)
    assert choice.cell.key == "400@0.8"
    assert any("base model" in warning for warning in choice.warnings)


def test_seeds_drawing_the_same_face_crop_collapse() -> None:
    crop = standardise([float(i % 7) for i in range(576)])
    other = standardise([float((i * 13) % 11) for i in range(576)])
    same = [faces(NEAR, seed=1, crop=crop), faces(NEAR, seed=2, crop=crop)]
    varied = [faces(NEAR, seed=1, crop=crop), faces(NEAR, seed=2, crop=other)]
    collapsed = score_cell("800", 800, "a", 0.8, same, REFERENCES)
    steady = score_cell("400", 400, "b", 0.8, varied, REFERENCES)
    assert collapsed.collapsed and not steady.collapsed
    choice = choose([collapsed, steady], min_face_rate=0.5, has_references=True)
    assert choice.cell.key == "400@0.8"
    assert any("800@0.8" in warning and "same face" in warning for warning in choice.warnings)
