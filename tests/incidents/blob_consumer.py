"""A consumer process for tests/incidents/test_blob_processes.py: streams incidents from an emulator served on a
loopback port, with a BlobCheckpointStore on Azurite, committing after each item, and logs what it does.

Usage: python blob_consumer.py CONFIG_JSON   (keys: url, workspace, connection_string, container, blob,
lease_seconds, log, stop, handle_seconds, retry_seconds)

Log lines (JSON, one per event, flushed at once; ``t`` is time.monotonic_ns(), one clock for every process):
``load`` before a run loads the store; ``deliver``/``commit`` with ``k`` = [name, lastModified, etag], ``commit``
written after the commit returned (``committing`` just before it); ``conflict`` when a load or commit raised CheckpointConflictError. The process
stops once the ``stop`` file exists and a complete pass delivered nothing (a standby that never got the lease
stops too).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from m365sentinel import BlobCheckpointStore, CheckpointConflictError, Cloud, Connector
from m365sentinel.emulator import LoopbackCredential


def main(config_path: str) -> None:
    cfg = json.loads(Path(config_path).read_text())
    log = open(cfg["log"], "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the process's life

    def event(kind: str, key: list[str] | None = None) -> None:
        log.write(json.dumps({"e": kind, "k": key, "t": time.monotonic_ns()}) + "\n")

    url = cfg["url"]
    store = BlobCheckpointStore.from_connection_string(
        cfg["connection_string"], cfg["container"], cfg["blob"], lease_seconds=cfg["lease_seconds"]
    )
    connector = Connector(
        cfg["workspace"],
        credential=LoopbackCredential(),
        cloud=Cloud.custom(arm=url, log_analytics=url, graph=url),
        sleep=lambda s: time.sleep(min(s, 0.2)),
    )
    stream = connector.incidents().since(store).page(10).prefetch(False)
    stop = Path(cfg["stop"])
    while True:
        stopping = stop.exists()
        delivered = 0
        event("load")
        try:
            for item in stream:
                inc = item.incident
                delivered += 1
                key = [inc.name, inc.last_modified_time_utc.isoformat(), inc.etag]
                event("deliver", key)
                time.sleep(cfg["handle_seconds"])
                event("committing", key)  # a kill between commit() and the next line leaves this one ambiguous
                item.commit()
                event("commit", key)
        except CheckpointConflictError:
            event("conflict")
            if stopping:
                break
            time.sleep(cfg["retry_seconds"])
            continue
        if stopping and delivered == 0:
            break
        if delivered == 0:
            time.sleep(0.1)  # an idle poll
    event("done")
    connector.close()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1])
