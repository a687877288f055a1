"""Property: whatever order, page layout, repeats, stale states and out-of-window items the service serves, and
wherever the consumer crashes, the pass rules (``PassState``) deliver the latest state of every incident, and
never deliver a committed change again unless a resumed pass found the service out of order and dropped the
position it resumed from (then at-least-once: docs/assumptions.md, "a cut-short listing")."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m365sentinel._incidents import Checkpoint
from m365sentinel._incidents._checkpoint import PassState

from .conftest import NOW

LAG = timedelta(minutes=5)

# One poll: (minutes the clock advances, incidents changed before it, a seed for the order, stale repeats, crash at).
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


def _newest_first(items):
    return sorted(items, key=lambda c: c[1], reverse=True)


def _is_newest_first(items):
    return all(a[1] >= b[1] for a, b in itertools.pairwise(items))


def covers(position, change):
    """Whether a pass position covers ``change``: newer than ``upper``, or at it with a delivered id."""
    return change[1] > position.upper or (change[1] == position.upper and change[0] in position.upper_ids)


def serve(kind, items, rng):
    """One listing of ``items`` as a service of ``kind`` serves it: "sorted" honours ``$orderby``; "displaced"
    serves newest first except 1 to 3 items moved elsewhere; "shuffled" ignores the order. A misordering
    service misorders every listing it can (two distinct times or more), as one that ignores ``$orderby`` does."""
    out = _newest_first(items)
    if kind == "sorted":
        return out
    if kind == "shuffled":
        rng.shuffle(out)
    else:
        for _ in range(rng.randint(1, 3)):
            if out:
                out.insert(rng.randrange(len(out) + 1), out.pop(rng.randrange(len(out))))
    if _is_newest_first(out) and len({c[1] for c in out}) > 1:
        out.insert(0, out.pop())  # the oldest first: out of order
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    polls=polls,
    kind=st.sampled_from(["sorted", "displaced", "shuffled"]),
    ignore_filter=st.booleans(),
    commit_every=st.integers(1, 3),
    verified=st.integers(1, 4),
)
def test_any_order_and_crash_point_loses_no_latest_state_and_repeats_no_committed_change(
    polls, kind, ignore_filter, commit_every, verified
):
    clock = NOW
    history: dict[str, list[tuple]] = {f"i{k}": [(clock - timedelta(minutes=k), f'"i{k}-0"')] for k in range(10)}
    committed: set[tuple] = set()
    delivered: set[tuple] = set()
    checkpoint = Checkpoint()
    chain: set[tuple] = set()  # changes handled in this pass and the cut-short passes it resumes
    dropped: set[tuple] = set()  # committed by a position a resumed pass then dropped (at-least-once since)

    def listing(state, rng, stale):
        current = [(i, *states[-1]) for i, states in history.items()]
        items = [c for c in current if ignore_filter or state.lower is None or c[1] >= state.lower]
        older = [(i, *s) for i, states in history.items() for s in states[:-1]]
        items += [rng.choice(items) for _ in range(stale) if items]  # page shifts serve items twice
        items += rng.sample(older, min(stale, len(older)))  # stale replicas serve older states
        return serve(kind, items, rng)

    def poll(rng, stale, crash_at):
        nonlocal checkpoint
        if checkpoint.pending is None:
            chain.clear()
        state = PassState.begin(checkpoint, clock, LAG, verified=verified)
        state.page(clock)  # the service's Date
        handled = 0
        own = None  # the position this pass committed last (a compact checkpoint)
        while True:
            for incident_id, modified, etag in listing(state, rng, stale):
                fits = state.in_window(incident_id, modified)
                if own is not None and state.out_of_order:
                    # The position rested on the listing staying newest first after it; this very listing has
                    # now broken that: what the position covers may come again (at-least-once).
                    dropped.update(c for c in chain if covers(own, c))
                    own = None
                if not (fits and state.should_deliver(incident_id, modified, etag)):
                    continue
                change = (incident_id, modified, etag)
                # Only the at-least-once fallback may deliver a committed change again: a listing (this pass's, or
                # a resumed pass's) found a misordering service out of order after a position covered the change.
                assert change not in committed or change in dropped, f"committed change delivered again: {change}"
                delivered.add(change)
                snapshot = state.delivered(*change)
                if crash_at is not None and handled == crash_at:
                    return  # crashed before committing this one
                chain.add(change)  # handled
                handled += 1
                if handled % commit_every == 0:
                    checkpoint = Checkpoint.from_json(snapshot.checkpoint().to_json())
                    committed.update((i, t, e) for i, t, e in checkpoint.seen)
                    p = checkpoint.pending
                    if p is not None:  # the position covers the changes delivered above it
                        committed.update(c for c in chain if covers(p, c))
                        own = p if state.compact else None
            if not state.refuted:
                break
            assert kind != "sorted"  # a service that honours the order never refutes a position
            p = state.resume
            dropped.update(c for c in chain if covers(p, c))
            state.drop_position()
        checkpoint = state.finished()
        committed.update((i, t, e) for i, t, e in checkpoint.seen)

    for minutes, changed, rng, stale, crash_at in polls:
        clock += timedelta(minutes=minutes)
        for k in changed:
            clock += timedelta(seconds=1)  # a change moves lastModifiedTimeUtc forward (docs/assumptions.md)
            n = len(history[f"i{k}"])
            history[f"i{k}"].append((clock, f'"i{k}-{n}"'))
        poll(rng, stale, crash_at)
    # Quiet afterwards: polls run to completion until the latest state of each incident was delivered.
    for _ in range(3):
        clock += LAG
        poll(random.Random(0), 0, None)
    for incident_id, states in history.items():
        assert (incident_id, *states[-1]) in delivered, f"latest state of {incident_id} never delivered"
