"""``python -m graph.cluster`` (``make cluster``): Redis, the simulator and N workers, locally.

Starts a private ``redis-server`` (temporary folder, free port, nothing persisted), the
simulator as a process of its own (``python -m graph.sim``: every worker talks to the
same simulated Kalshi, as replicas talk to the same Kalshi) and ``python -m graph
--workers N`` on HOST:PORT (default 127.0.0.1:8000) with ``REDIS_URL`` pointing at the
Redis. Ctrl-C (or SIGTERM) stops all three, workers first.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from graph.cluster.local import RedisServer, RedisServerError

_SIM_READY = "Serving the simulator"
_SIM_TIMEOUT_S = 60.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graph.cluster", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="the simulator's seed")
    return parser.parse_args(argv)


def start_simulator(folder: Path, seed: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``python -m graph.sim`` on a free port; returns it and the settings it printed."""
    key = folder / "sim-key.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "graph.sim", "--port", "0", "--seed", str(seed)]
        + ["--write-key", str(key)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    found: dict[str, str] = {}
    timer = threading.Timer(_SIM_TIMEOUT_S, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            if line.startswith(_SIM_READY):
                return process, found
            name, sep, value = line.strip().partition("=")
            if sep:
                found[name] = value
    finally:
        timer.cancel()
    raise RuntimeError(f"the simulator stopped before serving (exit code {process.wait()})")


def worker_env(sim: dict[str, str], redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(sim)
    env.update(KALSHI_ENV="sim", REDIS_URL=redis_url)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    with tempfile.TemporaryDirectory(prefix="kalshi-graph-cluster-") as tmp:
        folder = Path(tmp)
        try:
            redis = RedisServer(folder=folder)
            redis.start()
        except RedisServerError as exc:
            print(f"kalshi-graph: {exc}", file=sys.stderr)
            return 2
        sim, workers = None, None
        try:
            print(f"kalshi-graph: Redis at {redis.url} (in {folder}, not persisted)", flush=True)
            sim, sim_env = start_simulator(folder, args.seed)
            print(f"kalshi-graph: simulator at {sim_env.get('KALSHI_REST_URL')}", flush=True)
            workers = subprocess.Popen(
                [sys.executable, "-m", "graph", "--workers", str(args.workers)],
                env=worker_env(sim_env, redis.url),
            )
            while not stop.wait(0.5):
                if workers.poll() is not None:
                    print(f"kalshi-graph: workers exited ({workers.returncode})", file=sys.stderr)
                    return workers.returncode or 1
            return 0
        finally:
            for process in (workers, sim):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            redis.close()


if __name__ == "__main__":
    sys.exit(main())
