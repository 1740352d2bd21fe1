"""Where a queued run starts: every branch of `placement.decide`, and properties of `assign`."""

from __future__ import annotations

from hypothesis import given, strategies as st

from qbtui.runs.placement import ANYWHERE, HERE, Decision, Place, assign, busy_counts, decide, places_for

PLACES = places_for({"gpu1": 1, "gpu2": 2})


def test_places_are_this_machine_first_then_the_hosts_in_registry_order():
    assert (Place(HERE, 1), Place("gpu1", 1), Place("gpu2", 2)) == PLACES
    assert places_for({}, local_slots=2) == (Place(HERE, 2),)


def test_busy_counts_count_runs_per_place():
    assert busy_counts([HERE, "gpu2", "gpu2"]) == {HERE: 1, "gpu2": 2}


def test_anywhere_takes_this_machine_when_it_is_free():
    assert decide(ANYWHERE, PLACES, {}) == Decision(HERE)


def test_anywhere_takes_the_first_host_with_a_free_slot():
    assert decide(ANYWHERE, PLACES, {HERE: 1}) == Decision("gpu1")
    assert decide(ANYWHERE, PLACES, {HERE: 1, "gpu1": 1, "gpu2": 1}) == Decision("gpu2")


def test_anywhere_waits_when_every_place_is_full_and_says_why():
    decision = decide(ANYWHERE, PLACES, {HERE: 1, "gpu1": 1, "gpu2": 2})
    assert decision.place is None
    assert decision.reason == "here runs 1 of 1; gpu1 runs 1 of 1; gpu2 runs 2 of 2"


def test_anywhere_skips_a_host_that_did_not_answer():
    assert decide(ANYWHERE, PLACES, {HERE: 1}, unreachable={"gpu1"}) == Decision("gpu2")
    waits = decide(ANYWHERE, PLACES[:2], {HERE: 1}, unreachable={"gpu1"})
    assert waits == Decision(None, "here runs 1 of 1; host gpu1 did not answer")


def test_a_run_pinned_here_waits_for_this_machine_even_with_hosts_free():
    assert decide(HERE, PLACES, {}) == Decision(HERE)
    assert decide(HERE, PLACES, {HERE: 1}) == Decision(None, "here runs 1 of 1")


def test_a_run_pinned_to_a_host_starts_there_or_waits_for_it():
    assert decide("gpu2", PLACES, {"gpu2": 1}) == Decision("gpu2")
    assert decide("gpu1", PLACES, {"gpu1": 1}) == Decision(None, "gpu1 runs 1 of 1")
    assert decide("gpu1", PLACES, {}, unreachable={"gpu1"}) == Decision(None, "host gpu1 did not answer")


def test_a_run_pinned_to_a_host_no_longer_in_the_registry_waits():
    assert decide("gone", PLACES, {}) == Decision(None, "host gone is not in the registry")


def test_assign_takes_the_slots_in_queue_order():
    decisions = assign([ANYWHERE, ANYWHERE, ANYWHERE, HERE, "gpu2"], PLACES[:2], {})
    assert [decision.place for decision in decisions] == [HERE, "gpu1", None, None, None]


def test_a_pinned_run_waiting_does_not_hold_up_a_later_run_that_may_go_elsewhere():
    decisions = assign(["gpu1", ANYWHERE], PLACES, {"gpu1": 1})
    assert [decision.place for decision in decisions] == [None, HERE]


slot_counts = st.integers(min_value=1, max_value=3)
hosts = st.dictionaries(st.sampled_from(["a", "b", "c"]), slot_counts, max_size=3)


@given(
    host_slots=hosts,
    local_slots=slot_counts,
    busy=st.dictionaries(st.sampled_from([HERE, "a", "b", "c"]), st.integers(0, 3)),
    targets=st.lists(st.sampled_from([HERE, ANYWHERE, "a", "b", "c", "gone"]), max_size=12),
    unreachable=st.sets(st.sampled_from(["a", "b", "c"])),
)
def test_assign_never_fills_a_place_beyond_its_slots(host_slots, local_slots, busy, targets, unreachable):
    places = places_for(host_slots, local_slots)
    decisions = assign(targets, places, busy, unreachable=unreachable)
    assert len(decisions) == len(targets)
    started = busy_counts(decision.place for decision in decisions if decision.place is not None)
    for place in places:
        if started[place.name]:
            assert busy.get(place.name, 0) + started[place.name] <= place.slots
            assert place.name not in unreachable
    for target, decision in zip(targets, decisions, strict=True):
        assert decision.place is None or target in (ANYWHERE, decision.place)
        assert (decision.place is None) == bool(decision.reason)


@given(host_slots=hosts, local_slots=slot_counts, count=st.integers(0, 12))
def test_anywhere_runs_fill_every_free_slot_before_any_waits(host_slots, local_slots, count):
    places = places_for(host_slots, local_slots)
    decisions = assign([ANYWHERE] * count, places, {})
    free = sum(place.slots for place in places)
    assert sum(decision.place is not None for decision in decisions) == min(count, free)
