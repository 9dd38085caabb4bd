"""Replicas on Redis: one Kalshi feed per deployment, shared caches, one read budget.

How it works: each module is one Redis-backed piece, usable and tested alone; the live
path (:mod:`graph.live.shared`) and the app wire them together only when ``REDIS_URL`` is
set.

- :mod:`~graph.cluster.link`: the client, the key prefix, up/down transitions.
- :mod:`~graph.cluster.channels`: one pub/sub connection, exactly the channels wanted.
- :mod:`~graph.cluster.lease`: who holds the Kalshi WebSocket, with fencing numbers.
- :mod:`~graph.cluster.bus`: the owner's ticks to every replica, fenced; latest values.
- :mod:`~graph.cluster.wanted`: each replica's wanted markets, and their union.
- :mod:`~graph.cluster.cache`: TTL cache with single-flight across replicas.
- :mod:`~graph.cluster.ratelimit`: the Kalshi read budget as a shared token bucket.
- :mod:`~graph.cluster.codec`: what goes into Redis.
- :mod:`~graph.cluster.local`: a private redis-server (tests, bench, ``make cluster``).

Every piece survives Redis trouble: calls fail with ``RedisUnavailable`` inside the
piece, which falls back (load directly, limit locally, retry later) and the link logs
and counts the transition once.
"""
