"""The built-in simulator: Kalshi REST + WebSocket and an ESPN-shaped scoreboard on loopback.

    async with Simulator(seed=1, tick_interval_s=None) as sim:
        ...  # point the real clients at sim.rest_url, sim.ws_url, sim.scoreboard_url

How it works: one uvicorn server on a free loopback port serves all three upstreams from one
deterministic state (a seeded slate of games per day, prices on a random walk), behind guards
that inject the faults a test asks for and count every request. It has its own team data
(``data/teams.csv``) and lists games the way Kalshi does (its codes, per season; short
sub-titles; G1/G2 doubleheaders; never-traded markets), and it imports nothing of the service it
is used to test beyond plain shared data.

Module map: ``server`` (the Simulator, uvicorn), ``kalshi_rest`` / ``kalshi_ws`` /
``scoreboard`` (routes), ``wslimits`` (Kalshi's WebSocket limits as knobs), ``guard``
(faults, stats and auth around every request), ``teams`` (the team data and Kalshi's
conventions), ``slate`` (deterministic games), ``listing`` (tickers as listed, code renames
applied), ``prices`` (random walk), ``kalshi_shapes`` / ``espn_shapes`` (JSON bodies),
``auth`` (signature checks, its own), ``faults``, ``state``.
"""

from __future__ import annotations

from graph.sim.faults import Faults, Stats
from graph.sim.server import Simulator

__all__ = ["Faults", "Simulator", "Stats"]
