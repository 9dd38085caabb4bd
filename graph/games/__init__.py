"""The query path: a league's games with their Kalshi markets and our predictions.

How it works: :class:`~graph.games.service.GameService` reads schedules (one scoreboard request
per league and US-Eastern date) through TTL caches with single-flight.
:class:`~graph.games.markets.MarketBook` reads market listings (one per league) and matches each
day's games to the events Kalshi lists by the evidence a listing carries: outcome codes, Kalshi's
short team names, start times (:mod:`~graph.games.matching`, pure, over
:mod:`~graph.games.listing` and :mod:`~graph.games.evidence`), remembering the codes it learns.
:mod:`~graph.games.batches` gives each operation its own batches, so all the games of one
response share one markets batch and one predictions batch; :mod:`~graph.games.predictions`
makes every game's prediction concurrently and isolates failures; :mod:`~graph.games.ordering`
sorts games; :mod:`~graph.games.upkeep` applies finished games to the ratings;
:mod:`~graph.games.ids` builds and parses public game ids.
"""
