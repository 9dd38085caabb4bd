"""kalshi-graph: a GraphQL gateway for sports prediction markets."""

from __future__ import annotations

__version__ = "0.1.0"
