"""`python -m emulator --port 8090 [--state FILE] [--demo]`: run the local Google standalone."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from .app import Emulator
from .server import EmulatorServer
from .state import State


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--state", type=Path, help="load this JSON state (as dumped by /_emulator/state)")
    parser.add_argument("--demo", action="store_true", help="seed the demo domain (the default without --state)")
    args = parser.parse_args(argv)

    emulator = Emulator()
    server = EmulatorServer(emulator, host=args.host, port=args.port)
    if args.state:
        emulator.replace_state(State.from_json(json.loads(args.state.read_text())))
    else:
        from .demo import build_demo_state

        emulator.replace_state(build_demo_state(server.url))
    print(f"Google emulator listening on {server.url}", flush=True)  # noqa: T201
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
