"""The live path: one upstream feed fanned out to many subscribers.

How it works: :class:`~graph.live.hub.Hub` keeps a reference count per market ticker and tells
the feed the union of what subscribers want; each subscriber has a bounded queue that keeps the
newest update per ticker, so a slow one never blocks the others.
:mod:`~graph.live.snapshot` gives a new subscriber the current prices at once (and refuses
tickers Kalshi does not list).
"""
