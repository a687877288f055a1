"""One session for many connectors: construction cost and token requests per token lifetime per audience.

(a) a Session and 300 connectors from it (no I/O; one HTTP client, whose TLS context is the costly part), target
    under 1 s in all; beside it, what one Connector made alone costs (its own client), for the before/after.
(b) a flow of >= 1,000 requests on the emulator mixing ARM (list tables), Log Analytics (a query) and Graph
    (a Defender incident), across several connectors of one session; the emulator clock jumps past a token
    lifetime midway. Target: one token request per lifetime per audience, so 1 before the jump and 2 after.
Both on the sync face and on the async one (``m365sentinel.aio.Session``, driven through ``bench.faces``).
"""

from __future__ import annotations

import time
from datetime import timedelta

REQUESTS = 1_000
CONNECTORS = 300
TARGET_S = 1.0


def construction(face: str = "sync") -> dict[str, float]:
    from m365sentinel import Connector
    from m365sentinel.emulator import Emulator

    from .faces import Face

    faces = Face(face)
    emu = Emulator(dataset=False)
    credential, workspace = emu.credential(), emu.workspace_resource_id
    faces.session(emu=emu).close()  # warm imports, so only construction is timed
    started = time.perf_counter()
    with faces.session(emu=emu) as session:
        connectors = [session.connector(workspace) for _ in range(CONNECTORS)]
        total = time.perf_counter() - started
    alone_runs = []
    for _ in range(5):
        t = time.perf_counter()
        Connector(workspace, credential=credential).close()
        alone_runs.append(time.perf_counter() - t)
    alone = sorted(alone_runs)[len(alone_runs) // 2]
    verdict = "PASS" if total < TARGET_S else "FAIL"
    faces.close()
    print(
        f"(a) [{face}] Session + {len(connectors)} connectors: {total * 1000:.1f} ms in all "
        f"(target < {TARGET_S * 1000:.0f} ms) {verdict}"
    )
    print(
        f"    one Connector made alone (own client): {alone * 1000:.1f} ms (median of 5); "
        f"x{CONNECTORS} = {alone * CONNECTORS:.1f} s"
    )
    emu.close()
    return {"session_300_s": total, "alone_s": alone}


def token_flow(face: str = "sync") -> dict[str, int]:
    from m365sentinel.emulator import Emulator

    from .faces import Face

    faces = Face(face)
    emu = Emulator(incidents=40)
    audiences = ("https://management.azure.com", "https://api.loganalytics.io", "https://graph.microsoft.com")
    with faces.session(emu=emu, clock=emu.time) as session:
        connectors = [session.connector(emu.workspace_resource_id) for _ in range(4)]
        graph_id = next(iter(connectors[0].incidents().defender().incidents())).id
        before_jump: dict[str, int] = {}
        started = time.perf_counter()
        turn = 0
        while len(emu.requests) < REQUESTS:
            connector = connectors[turn % len(connectors)]
            connector.list_tables()
            connector.query("SecurityIncident | take 1", timespan=timedelta(days=1))
            connector.incidents().defender().get(graph_id)
            turn += 1
            if not before_jump and len(emu.requests) >= REQUESTS // 2:
                before_jump = emu.token_requests
                emu.advance(emu.token_lifetime + timedelta(minutes=1))
        elapsed = time.perf_counter() - started
    after = emu.token_requests
    sent = len(emu.requests)
    print(
        f"(b) [{face}] {sent} requests ({turn} rounds of ARM + Log Analytics + Graph over {len(connectors)} "
        f"connectors) in {elapsed:.1f} s"
    )
    ok = True
    for audience in audiences:
        first, total = before_jump.get(audience, 0), after.get(audience, 0)
        good = (first, total) == (1, 2)
        ok &= good
        print(
            f"    {audience:<30} token requests: {first} before the jump (target 1), {total} in all (target 2) "
            f"{'PASS' if good else 'FAIL'}"
        )
    print(f"    verdict: {'PASS' if ok else 'FAIL'} (one token request per lifetime per audience)")
    faces.close()
    emu.close()
    return {"requests": sent, **{a: after.get(a, 0) for a in audiences}}


def main() -> dict[str, object]:
    return {face: {"construction": construction(face), "tokens": token_flow(face)} for face in ("sync", "async")}


if __name__ == "__main__":
    main()
