"""Run the simulator standalone: ``python -m graph.sim --port 9000``.

Prints the three base URLs and the key id. The private key is written only when
``--write-key PATH`` is given (mode 0600), so ``KALSHI_PRIVATE_KEY_PATH`` can point
at it; otherwise it never leaves the process. Serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from graph.sim.faults import Faults
from graph.sim.server import Simulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="probability of a 500")
    parser.add_argument("--no-auth", action="store_true", help="accept unsigned WS handshakes")
    parser.add_argument("--write-key", type=Path, metavar="PATH", help="write the PKCS#1 key here")
    return parser.parse_args(argv)


def write_key(path: Path, pem: bytes) -> None:
    """Write the private key readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        # The mode above applies only to a new file; an existing one keeps its own,
        # so tighten it (while still empty, after O_TRUNC) before writing the key.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(pem)


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (by default: until SIGINT or SIGTERM)."""
    faults = Faults(latency_s=args.latency_ms / 1000.0, error_rate=args.error_rate)
    sim = Simulator(
        seed=args.seed, host=args.host, port=args.port, require_auth=not args.no_auth, faults=faults
    )
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
    async with sim:
        if args.write_key is not None:
            write_key(args.write_key, sim.private_key_pem)
        print(f"KALSHI_REST_URL={sim.rest_url}")
        print(f"KALSHI_WS_URL={sim.ws_url}")
        print(f"SCOREBOARD_URL={sim.scoreboard_url}")
        print(f"KALSHI_API_KEY_ID={sim.key_id}")
        if args.write_key is not None:
            print(f"KALSHI_PRIVATE_KEY_PATH={args.write_key}")
        print("Serving the simulator; press Ctrl-C to stop.", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
