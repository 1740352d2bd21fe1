"""Likeness scores from face descriptors, and the choice of a checkpoint and weight.

Pure functions over what the face model found: a sample is scored by the median dlib
descriptor distance to the friend's training photos (lower is more alike; dlib's
same-person threshold is about 0.6), a cell (one LoRA file at one weight) by its face rate,
the median of its identity samples' distances and the share of them under the threshold.
Style samples (the house style, ink and watercolour) count for the face rate only: face
recognition on drawings is unreliable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

SAME_PERSON = 0.6
# Likeness values this close count as a tie (dlib's distances wobble by about this much).
LIKENESS_TIE = 0.02
# Face crops of different seeds correlating this much are "nearly the same face".
COLLAPSE_SIMILARITY = 0.92
IDENTITY, STYLE = "identity", "style"

Descriptor = Sequence[float]


@dataclass(frozen=True)
class SampleFaces:
    """What the face model found in one evaluation sample."""

    path: str
    prompt: str
    kind: str  # IDENTITY or STYLE
    seed: int
    descriptors: tuple[tuple[float, ...], ...] = ()
    crop: tuple[float, ...] | None = None  # the single face as a small standardised grey thumbnail

    @property
    def one_face(self) -> bool:
        return len(self.descriptors) == 1


@dataclass(frozen=True)
class SampleScore:
    """One sample's line in eval.json."""

    path: str
    prompt: str
    kind: str
    seed: int
    faces: int
    distance: float | None


@dataclass(frozen=True)
class CellScore:
    """One LoRA file at one weight (weight 0: the base model alone)."""

    label: str  # "400", "final" or "base"
    step: int | None
    lora: str  # file name; "" for the base model
    weight: float
    face_rate: float
    style_face_rate: float | None
    likeness: float | None
    match_rate: float | None
    collapse: float | None
    samples: tuple[SampleScore, ...] = ()

    @property
    def key(self) -> str:
        """`800@0.8`: how the registry's scores table names the cell."""
        return f"{self.label}@{self.weight:g}"

    @property
    def baseline(self) -> bool:
        return self.weight == 0

    @property
    def collapsed(self) -> bool:
        return self.collapse is not None and self.collapse >= COLLAPSE_SIMILARITY

    @property
    def faces(self) -> int:
        return sum(sample.faces == 1 for sample in self.samples)


@dataclass(frozen=True)
class Choice:
    """The chosen cell, or None with the reason nothing was chosen."""

    cell: CellScore | None
    reason: str
    warnings: tuple[str, ...] = field(default_factory=tuple)


def distance(a: Descriptor, b: Descriptor) -> float:
    """Euclidean distance between two descriptors (dlib's measure)."""
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def sample_distance(descriptor: Descriptor, references: Sequence[Descriptor]) -> float | None:
    """The median distance from one face to the friend's photos, or None without photos."""
    if not references:
        return None
    return statistics.median(distance(descriptor, reference) for reference in references)


def crop_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Correlation of two standardised crops of equal size: 1 for the same picture."""
    return sum(x * y for x, y in zip(a, b, strict=True)) / len(a)


def standardise(values: Sequence[float]) -> tuple[float, ...]:
    """Mean 0, deviation 1 (a flat crop stays all zeros)."""
    mean = statistics.fmean(values)
    spread = math.sqrt(statistics.fmean((value - mean) ** 2 for value in values)) or 1.0
    return tuple((value - mean) / spread for value in values)


def collapse_score(samples: Sequence[SampleFaces]) -> float | None:
    """Median crop similarity between samples of one prompt with different seeds; None under two faces."""
    similarities = []
    for first, second in combinations([s for s in samples if s.kind == IDENTITY and s.crop is not None], 2):
        if first.prompt == second.prompt and first.seed != second.seed:
            assert first.crop is not None and second.crop is not None  # filtered above
            similarities.append(crop_similarity(first.crop, second.crop))
    return statistics.median(similarities) if similarities else None


def score_cell(
    label: str,
    step: int | None,
    lora: str,
    weight: float,
    samples: Sequence[SampleFaces],
    references: Sequence[Descriptor],
    *,
    threshold: float = SAME_PERSON,
) -> CellScore:
    """Face rate over every sample; likeness and match rate over the identity samples."""
    scored = []
    for sample in samples:
        value = sample_distance(sample.descriptors[0], references) if sample.one_face and sample.kind == IDENTITY else None
        scored.append(SampleScore(sample.path, sample.prompt, sample.kind, sample.seed, len(sample.descriptors), value))
    identity = [score for score in scored if score.kind == IDENTITY]
    style = [score for score in scored if score.kind == STYLE]
    distances = [score.distance for score in identity if score.distance is not None]
    return CellScore(
        label=label,
        step=step,
        lora=lora,
        weight=float(weight),
        face_rate=_share(scored, lambda score: score.faces == 1),
        style_face_rate=_share(style, lambda score: score.faces == 1) if style else None,
        likeness=statistics.median(distances) if distances else None,
        match_rate=_share(identity, lambda score: score.distance is not None and score.distance < threshold)
        if references and identity
        else None,
        collapse=collapse_score(samples),
        samples=tuple(scored),
    )


def _share(items: Sequence, test) -> float:
    return sum(1 for item in items if test(item)) / len(items) if items else 0.0


def choose(cells: Sequence[CellScore], *, min_face_rate: float, has_references: bool, tie: float = LIKENESS_TIE) -> Choice:
    """The best likeness among LoRA cells drawing a face often enough; ties to the lower weight, then the earlier step.

    Collapsed cells (every seed the same face) lose to any cell that is not collapsed.
    """
    loras = [cell for cell in cells if not cell.baseline]
    warnings = tuple(
        f"{cell.key}: samples of different seeds show nearly the same face (overtrained?)" for cell in loras if cell.collapsed
    )
    if not loras:
        return Choice(None, "no LoRA files to evaluate", warnings)
    if not any(cell.faces for cell in cells):
        return Choice(None, "no faces in the samples", warnings)
    if not has_references:
        return Choice(None, "no faces in the friend's training photos to compare with", warnings)
    eligible = [cell for cell in loras if cell.likeness is not None and cell.face_rate >= min_face_rate]
    likeness = {id(cell): cell.likeness for cell in eligible if cell.likeness is not None}
    if not eligible:
        best_rate = max(cell.face_rate for cell in loras)
        return Choice(
            None, f"no checkpoint draws a face often enough (best face rate {best_rate:.0%}, needs {min_face_rate:.0%})", warnings
        )
    steady = [cell for cell in eligible if not cell.collapsed] or eligible
    best = min(likeness[id(cell)] for cell in steady)
    tied = [cell for cell in steady if likeness[id(cell)] <= best + tie]
    chosen = min(tied, key=lambda cell: (cell.weight, cell.step if cell.step is not None else math.inf))
    reason = f"best likeness {chosen.likeness:.3f} with faces in {chosen.face_rate:.0%} of the samples"
    baseline = next((cell for cell in cells if cell.baseline and cell.likeness is not None), None)
    if baseline is not None and baseline.likeness is not None and likeness[id(chosen)] >= baseline.likeness:
        warnings += (f"the choice looks no more like the friend than the base model does ({baseline.likeness:.3f})",)
    return Choice(chosen, reason, warnings)
