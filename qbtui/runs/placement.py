"""Where a queued run starts: the one rule, as pure functions of the places and their runs.

A place is this machine (`HERE`) or a `[hosts.<name>]`; each takes `slots` runs at once
(one here, `max_runs` on a host). A queued run's target is `HERE`, a host's name, or
`ANYWHERE` (the first place with a free slot, this machine first, then the hosts in
registry order). A host that did not answer lately is skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from qbtui.registry import (
    ANYWHERE as ANYWHERE,  # re-exported: the places are named here for the runs layer
    HERE as HERE,
)


@dataclass(frozen=True)
class Place:
    """This machine or one host, and how many runs it takes at once."""

    name: str
    slots: int


@dataclass(frozen=True)
class Decision:
    """Where a queued run starts (`place`), or None and why it waits (`reason`)."""

    place: str | None
    reason: str = ""


def places_for(host_slots: Mapping[str, int], local_slots: int = 1) -> tuple[Place, ...]:
    """This machine first, then the hosts in the registry's order."""
    return (Place(HERE, local_slots), *(Place(name, slots) for name, slots in host_slots.items()))


def busy_counts(places_of_busy_runs: Iterable[str]) -> Counter[str]:
    """How many runs each place has, from the place of each busy run (`RunInfo.where`)."""
    return Counter(places_of_busy_runs)


def decide(
    target: str,
    places: Sequence[Place],
    busy: Mapping[str, int],
    *,
    unreachable: Collection[str] = (),
    held_by: Mapping[str, str] | None = None,
) -> Decision:
    """Where a run with `target` starts now, given the runs each place already has; `held_by` says, by place,
    what holds it when that is worth naming (a likeness pass) instead of the count of its runs."""
    by_name = {place.name: place for place in places}
    if target != ANYWHERE:
        place = by_name.get(target)
        if place is None:
            return Decision(None, f"host {target} is not in the registry")
        return _try(place, busy, unreachable, held_by or {})
    reasons = []
    for place in places:
        decision = _try(place, busy, unreachable, held_by or {})
        if decision.place is not None:
            return decision
        reasons.append(decision.reason)
    return Decision(None, "; ".join(reasons))


def _try(place: Place, busy: Mapping[str, int], unreachable: Collection[str], held_by: Mapping[str, str]) -> Decision:
    if place.name in unreachable:
        return Decision(None, f"host {place.name} did not answer")
    used = busy.get(place.name, 0)
    if used >= place.slots:
        return Decision(None, held_by.get(place.name) or f"{place.name} runs {used} of {place.slots}")
    return Decision(place.name)


def assign(
    targets: Sequence[str],
    places: Sequence[Place],
    busy: Mapping[str, int],
    *,
    unreachable: Collection[str] = (),
    held_by: Mapping[str, str] | None = None,
) -> list[Decision]:
    """Decide for each queued run in queue order, each start taking its slot from the ones after."""
    taken = Counter(busy)
    decisions = []
    for target in targets:
        decision = decide(target, places, taken, unreachable=unreachable, held_by=held_by)
        if decision.place is not None:
            taken[decision.place] += 1
        decisions.append(decision)
    return decisions
