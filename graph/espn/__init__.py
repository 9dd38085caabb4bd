"""The scoreboard source (ESPN's public site API, or the simulator's copy of it).

How it works: :mod:`~graph.espn.client` fetches a league's scoreboard for a US-Eastern date and
a game's summary; :mod:`~graph.espn.parse` (pure) turns that JSON into :class:`graph.models.Game`
and rest days, taking home and away from ``homeAway`` rather than list order.
"""
