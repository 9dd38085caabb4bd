"""The servers under test as child processes: started against the simulator, measured
from ``/proc``, stopped with SIGTERM (the programs are in :mod:`bench.contenders`).

Every section runs our app this way, alone in its process: the clients and the
simulator stay in the benchmark's process, so neither their CPU nor their place in an
event loop is counted against ours.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from bench.proc import cpu_seconds, rss_mb
from graph.sim import Simulator

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Contender:
    """One server the fan-out compares: its label in the rows and how to run it."""

    name: str  # "ours", "strawberry", "relay", ...
    module: str  # run as ``python -m <module>``
    deflate: bool = False  # permessage-deflate offered to clients (our default: off)
    hub_stats: bool = False  # serves ``GET /bench/stats`` (our hub's counters)


# Every benchmark client shares 127.0.0.1: the per-client limits of issue 18 would measure
# themselves, not the server.
UNLIMITED = {"RATE_LIMIT_PER_S": "0", "MAX_UPSTREAM_TICKERS": "100000"}
OURS = Contender("ours", "bench.contenders.ours", hub_stats=True)


def contenders(deflate: bool, *, other_deflate: bool = True) -> list[Contender]:
    """Ours and the two peers with the same deflate choice, plus (``other_deflate``) ours
    with the other choice, which prices permessage-deflate on small frames."""
    ours = replace(OURS, deflate=deflate)
    out = [
        ours,
        Contender("strawberry", "bench.contenders.plain", deflate),
        Contender("relay", "bench.contenders.relay", deflate),
    ]
    if other_deflate:
        label = "ours, deflate off" if deflate else "ours, deflate on"
        out.append(Contender(label, ours.module, not deflate, hub_stats=True))
    return out


@dataclass
class Server:
    contender: Contender
    process: subprocess.Popen[str]
    url: str
    log_path: Path

    @classmethod
    async def start(
        cls,
        contender: Contender,
        sim: Simulator,
        tickers: Sequence[str],
        workdir: Path,
        profile: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Server:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "KALSHI_ENV": "sim",
            "KALSHI_REST_URL": sim.rest_url,
            "KALSHI_WS_URL": sim.ws_url,
            "SCOREBOARD_URL": sim.scoreboard_url,
            "KALSHI_API_KEY_ID": sim.key_id,
            "KALSHI_PRIVATE_KEY": sim.private_key_pem.decode(),
            "RATINGS_DB_PATH": str(workdir / "fanout-ratings.sqlite3"),
            "LOG_LEVEL": "WARNING",
            "MAX_TICKERS_PER_SUBSCRIPTION": "50",
            **UNLIMITED,
            "BENCH_TICKERS": ",".join(tickers),
            "BENCH_DEFLATE": "1" if contender.deflate else "0",  # the peers
            "WS_PER_MESSAGE_DEFLATE": "true" if contender.deflate else "false",  # ours
            **(env or {}),
        }
        if profile is not None:
            environment["BENCH_PROFILE"] = str(profile)
        if os.environ.get("BENCH_TRACEMALLOC"):
            environment["BENCH_TRACEMALLOC"] = os.environ["BENCH_TRACEMALLOC"]
        # The log goes to a file: Strawberry logs a traceback for every client that
        # disconnects while updates flow (counted in the report, see ``error_lines``).
        log_path = workdir / f"server-{contender.name.replace(' ', '').replace(',', '-')}.log"
        log = log_path.open("a")
        process = subprocess.Popen(
            [sys.executable, "-m", contender.module],
            cwd=workdir,  # no stray .env from the developer's checkout
            env=environment,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 120)
        if not line.startswith("PORT "):
            process.kill()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{contender.name} server did not start: {line!r}\n{tail}")
        return cls(contender, process, f"http://127.0.0.1:{int(line.split()[1])}", log_path)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws") + "/graphql"

    def error_lines(self) -> int:
        """ERROR records the server logged (each with a traceback)."""
        text = self.log_path.read_text(errors="replace")
        return sum(line.startswith("ERROR") for line in text.splitlines())

    def cpu_s(self) -> float:
        return cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    async def stats(self) -> dict[str, Any]:
        """Our hub's counters; empty for a peer, which has none."""
        if not self.contender.hub_stats:
            return {}
        return await self.control("GET", "/bench/stats")

    async def control(self, method: str, path: str, **params: str) -> dict[str, Any]:
        """Ask our app's benchmark hooks (:mod:`bench.contenders.ours`)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=300) as client:
            response = await client.request(method, path, params=params)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    async def stop(self) -> None:
        self.process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.process.wait), 30)
        except TimeoutError:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
        if self.process.stdout is not None:
            self.process.stdout.close()
