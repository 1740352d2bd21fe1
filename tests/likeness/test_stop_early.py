"""The early-stop rule on scripted score sequences (issue 23, deliver 5): the best likeness so far after
each checkpoint; None while no cell draws faces often enough."""

from __future__ import annotations

from qbtui.likeness.live import STOP_EARLY_MARGIN, STOP_EARLY_PATIENCE, stop_early_reason


def test_it_stops_once_the_best_is_alike_and_flat_for_the_patience():
    assert STOP_EARLY_PATIENCE == 2 and STOP_EARLY_MARGIN == 0.02
    assert stop_early_reason([0.52, 0.40]) is None  # too few checkpoints to see a plateau
    assert stop_early_reason([0.52, 0.40, 0.39]) is None  # 0.40 -> 0.39 ... but 0.52 two checkpoints ago
    assert stop_early_reason([0.52, 0.40, 0.39, 0.385]) == "likeness 0.39, no better for 2 checkpoints"


def test_it_does_not_stop_while_it_improves_by_more_than_the_margin():
    assert stop_early_reason([0.55, 0.50, 0.45, 0.40]) is None
    assert stop_early_reason([0.45, 0.44, 0.42], margin=0.01) is None
    assert stop_early_reason([0.45, 0.44, 0.435], margin=0.02) == "likeness 0.43, no better for 2 checkpoints"


def test_it_never_stops_on_samples_without_faces():
    assert stop_early_reason([None, None, None, None]) is None
    assert stop_early_reason([None, None, 0.4]) is None  # faces only just appeared


def test_it_does_not_stop_above_the_same_person_threshold():
    assert stop_early_reason([0.7, 0.68, 0.68, 0.68]) is None
    assert stop_early_reason([0.61, 0.6, 0.6]) is None


def test_the_patience_is_a_setting():
    assert stop_early_reason([0.5, 0.4, 0.4], patience=1) == "likeness 0.40, no better for 1 checkpoint"
    assert stop_early_reason([0.5, 0.4, 0.4, 0.4], patience=3) is None
