"""Property: whatever order, page layout, repeats, stale states and out-of-window items the service serves, and
wherever the consumer crashes, the pass rules (``PassState``) deliver the latest state of every incident and never
deliver a committed change again."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m365sentinel._incidents import Checkpoint
from m365sentinel._incidents._checkpoint import PassState

from .conftest import NOW

LAG = timedelta(minutes=5)

# One poll: (minutes the clock advances, incidents changed before it, a permutation seed, stale repeats, crash at).
polls = st.lists(
    st.tuples(
        st.integers(0, 12),
        st.lists(st.integers(0, 9), max_size=6),
        st.randoms(use_true_random=False),
        st.integers(0, 4),
        st.one_of(st.none(), st.integers(0, 12)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(polls=polls, ignore_filter=st.booleans(), commit_every=st.integers(1, 3))
def test_any_order_and_crash_point_loses_no_latest_state_and_repeats_no_committed_change(
    polls, ignore_filter, commit_every
):
    clock = NOW
    history: dict[str, list[tuple]] = {f"i{k}": [(clock - timedelta(minutes=k), f'"i{k}-0"')] for k in range(10)}
    committed: set[tuple] = set()
    delivered: set[tuple] = set()
    checkpoint = Checkpoint()

    def poll(rng, stale, crash_at):
        nonlocal checkpoint
        state = PassState.begin(checkpoint, clock, LAG)
        state.page(clock)  # the service's Date
        current = [(i, *states[-1]) for i, states in history.items()]
        served = [c for c in current if ignore_filter or state.lower is None or c[1] >= state.lower]
        older = [(i, *s) for i, states in history.items() for s in states[:-1]]
        served += [rng.choice(served) for _ in range(stale) if served]  # page shifts serve items twice
        served += rng.sample(older, min(stale, len(older)))  # stale replicas serve older states
        rng.shuffle(served)
        handled = 0
        for incident_id, modified, etag in served:
            if not (state.in_window(incident_id, modified) and state.should_deliver(incident_id, modified, etag)):
                continue
            change = (incident_id, modified, etag)
            assert change not in committed, f"committed change delivered again: {change}"
            delivered.add(change)
            snapshot = state.delivered(*change)
            if crash_at is not None and handled == crash_at:
                return False  # crashed before committing this one
            handled += 1
            if handled % commit_every == 0:
                checkpoint = Checkpoint.from_json(snapshot.checkpoint().to_json())
                committed.update((i, t, e) for i, t, e in checkpoint.seen)
        checkpoint = state.finished()
        committed.update((i, t, e) for i, t, e in checkpoint.seen)
        return True

    for minutes, changed, rng, stale, crash_at in polls:
        clock += timedelta(minutes=minutes)
        for k in changed:
            clock += timedelta(seconds=1)  # a change moves lastModifiedTimeUtc forward (docs/assumptions.md)
            n = len(history[f"i{k}"])
            history[f"i{k}"].append((clock, f'"i{k}-{n}"'))
        poll(rng, stale, crash_at)
    # Quiet afterwards: polls run to completion until the latest state of each incident was delivered.
    import random

    for _ in range(3):
        clock += LAG
        poll(random.Random(0), 0, None)
    for incident_id, states in history.items():
        assert (incident_id, *states[-1]) in delivered, f"latest state of {incident_id} never delivered"
