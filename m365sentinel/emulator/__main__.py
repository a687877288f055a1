"""``python -m m365sentinel.emulator serve [--host H] [--port N] [--seed S] [--now ISO]``."""

from __future__ import annotations

import argparse
from datetime import datetime

from m365sentinel.emulator._clock import as_utc
from m365sentinel.emulator._serve import run_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m m365sentinel.emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator as a loopback HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--now", default=None, help="pin the clock, e.g. 2025-11-20T12:00:00Z")
    args = parser.parse_args(argv)
    now = as_utc(datetime.fromisoformat(args.now.replace("Z", "+00:00")), "--now") if args.now else None
    run_server(args.host, args.port, seed=args.seed, now=now)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
