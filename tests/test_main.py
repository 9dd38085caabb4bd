"""`python -m graph`: what `make serve` runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from graph.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def test_a_bad_key_stops_startup_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key id without a key exits 2 with a message naming the variables, before serving."""
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("KALSHI_API_KEY_ID", "0b7c9f3e-1111-2222-3333-444455556666")
    assert main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "KALSHI_API_KEY_ID is set but no private key" in err
    assert "KALSHI_PRIVATE_KEY_PATH" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_python_m_graph_serves_the_simulator(tmp_path: Path) -> None:
    """A fresh start with no configuration serves /graphql on HOST:PORT from the simulator."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "SCOREBOARD"))}
    env.update(HOST="127.0.0.1", PORT=str(port), RATINGS_DB_PATH=str(tmp_path / "r.sqlite3"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "graph"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    assert json.load(r)["status"] == "ok"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.05)  # polling a real process's port: there is no event to wait on
        query = json.dumps({"query": "{ games(league: NHL) { markets { ticker yesBid } } }"})
        request = urllib.request.Request(
            base + "/graphql", data=query.encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            body = json.load(r)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert "errors" not in body
    markets = [m for g in body["data"]["games"] for m in g["markets"]]
    assert markets and all(m["ticker"].startswith("KXNHLGAME-") for m in markets)
    assert f"GraphiQL at http://127.0.0.1:{port}/graphql" in out
    assert proc.returncode == 0
