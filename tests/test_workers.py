from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graph.workers import Supervisor, bind, check_workers, ratings_path

# A stand-in worker: answers every connection on the inherited socket with its pid.
CHILD = """
import os, signal, socket, sys
sock = socket.socket(fileno=int(sys.argv[sys.argv.index("--fd") + 1]))
if "stubborn" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    conn, _ = sock.accept()
    conn.sendall(str(os.getpid()).encode())
    conn.close()
"""


def ask(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        return int(conn.recv(32))


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = bind("127.0.0.1", 0)
    try:
        yield sock
    finally:
        sock.close()


def run(supervisor: Supervisor) -> threading.Thread:
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    return thread


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_one_worker_needs_no_redis() -> None:
    """A single process runs without Redis, as it always did."""
    assert check_workers(1, None) is None


def test_several_workers_need_redis() -> None:
    """More than one worker without REDIS_URL is refused with a message saying why."""
    problem = check_workers(2, None)
    assert problem is not None and "REDIS_URL" in problem and "make cluster" in problem
    assert check_workers(2, "redis://127.0.0.1:6379/0") is None


def test_each_worker_has_its_own_ratings_file() -> None:
    """Worker files sit beside the configured one, one per slot."""
    assert ratings_path("data/ratings-sim.sqlite3", 1) == "data/ratings-sim-worker1.sqlite3"


def test_zero_workers_is_refused() -> None:
    """--workers 0 is a clear error, not a server that serves nothing."""
    assert check_workers(0, "redis://x") == "--workers must be at least 1 (got 0)"


def test_workers_share_the_port_and_a_dead_one_is_replaced(listening: socket.socket) -> None:
    """Two children accept on the one socket; a child killed with SIGKILL is restarted,
    and stop() ends them all."""
    port = listening.getsockname()[1]
    supervisor = Supervisor(
        listening,
        2,
        command=[sys.executable, "-c", CHILD],
        restart_delay_s=0.05,
        poll_s=0.02,
        env_for=lambda slot: {"SLOT": str(slot)},
    )
    thread = run(supervisor)
    wait_for(lambda: len(supervisor.children) == 2)
    pids = {child.pid for child in supervisor.children}
    wait_for(lambda: ask(port) in pids)
    victim = supervisor.children[0]
    victim.send_signal(signal.SIGKILL)
    wait_for(lambda: supervisor.restarts == 1)
    replacement = supervisor.children[0]
    assert replacement.pid != victim.pid
    seen = {ask(port) for _ in range(50)}
    assert seen <= {replacement.pid, supervisor.children[1].pid}
    supervisor.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert all(child.poll() is not None for child in supervisor.children)


def test_a_worker_ignoring_sigterm_is_killed_after_the_grace(listening: socket.socket) -> None:
    """Shutdown waits grace_s for each child, then kills the ones still running."""
    supervisor = Supervisor(
        listening, 1, command=[sys.executable, "-c", CHILD, "stubborn"], grace_s=0.3, poll_s=0.02
    )
    thread = run(supervisor)
    port = listening.getsockname()[1]
    wait_for(lambda: bool(supervisor.children))
    wait_for(lambda: ask(port) == supervisor.children[0].pid)
    started = time.monotonic()
    supervisor.stop()
    thread.join(10)
    assert supervisor.children[0].returncode == -signal.SIGKILL
    assert time.monotonic() - started >= 0.3


def test_without_redis_python_m_graph_workers_exits_2(tmp_path: Path) -> None:
    """`python -m graph --workers 2` with no REDIS_URL says so and exits 2 before serving."""
    result = subprocess.run(
        [sys.executable, "-m", "graph", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # no .env here
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "--workers 2 needs REDIS_URL" in result.stderr


# A parent that starts an orphan-to-be, prints its pid and waits to be killed.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
print(child.pid, flush=True)
time.sleep(600)
"""
# The child: exits by SIGTERM once its parent is gone (as a worker does; the parent's pid
# comes as an argument, so a parent that died before the child looked still counts).
ORPHAN = """
import sys, time
from graph.workers import exit_with_parent
exit_with_parent(int(sys.argv[1]), every_s=0.02)
time.sleep(600)
"""


def test_a_worker_outlives_its_supervisor_by_a_moment_only() -> None:
    """kill -9 of the supervisor: its child notices it was orphaned and terminates itself."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, ORPHAN], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    parent.stdout.close()
    wait_for(lambda: not Path(f"/proc/{child}").exists() or _zombie(child))


def _zombie(pid: int) -> bool:
    """An exited child of init may linger as a zombie until reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
