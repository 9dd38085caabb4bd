"""The query path: a league's games with their Kalshi markets and our predictions.

How it works: :class:`~graph.games.service.GameService` reads schedules (one scoreboard request
per league and US-Eastern date) and market listings (one per league) through TTL caches with
single-flight, and matches games to Kalshi events (:mod:`~graph.games.matching`, pure).
:mod:`~graph.games.loaders` gives each operation its own batching loaders, so all the games of
one response share one markets batch and one predictions batch;
:mod:`~graph.games.predictions` makes every game's prediction concurrently and isolates
failures; :mod:`~graph.games.ordering` sorts games; :mod:`~graph.games.upkeep` applies finished
games to the ratings; :mod:`~graph.games.ids` builds and parses public game ids.
"""
