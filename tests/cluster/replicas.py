"""Replicas as real processes: ``python -m graph`` against one simulator and one Redis."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from graph.sim import Simulator

# Short periods so failover and expiry happen within a test's patience.
FAST: dict[str, str] = {
    "FEED_LEASE_TTL_S": "1.0",
    "CLUSTER_HEARTBEAT_S": "0.2",
    "LOCAL_FEED_AFTER_S": "1.0",
    "SHARED_CACHE_LOCK_S": "2.0",
    "REDIS_TIMEOUT_S": "0.5",
    "RATINGS_REFRESH_S": "0",  # no background upkeep reading upstreams behind the tests' backs
}
_RUNNING = re.compile(r"Uvicorn running on (http://[\d.]+:\d+)")


class Replica:
    """One ``python -m graph`` process; its output is kept (read continuously)."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.lines: list[str] = []
        self.url: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, name: str, sim: Simulator, redis_url: str | None, workdir: Path, **env: str
    ) -> Replica:
        values = {
            "PATH": os.environ.get("PATH", ""),
            "HOST": "127.0.0.1",
            "PORT": "0",
            **sim.app_env(),
            "RATINGS_DB_PATH": str(workdir / f"ratings-{name}.sqlite3"),
            **FAST,
            **env,
        }
        if redis_url is not None:
            values["REDIS_URL"] = redis_url
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "graph",
            cwd=workdir,  # no stray .env
            env=values,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        replica = cls(name, process)
        await asyncio.wait_for(asyncio.shield(replica.url), 60)
        return replica

    async def _read(self) -> None:
        assert self.process.stdout is not None
        started = False
        async for raw in self.process.stdout:  # keep reading: a full pipe would block it
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            started = started or "Application startup complete" in line
            found = _RUNNING.search(line)
            if started and found and not self.url.done():
                self.url.set_result(found.group(1))
        if not self.url.done():
            self.url.set_exception(RuntimeError(f"{self.name} exited:\n" + self.log()))

    def log(self) -> str:
        return "\n".join(self.lines[-60:])

    @property
    def base(self) -> str:
        return self.url.result()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as client:
            response = await client.get(path)
            return response.json() if path != "/metrics" else response.text

    def kill(self) -> None:
        """kill -9: no shutdown, no lease release, no goodbye to Redis."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._reader
