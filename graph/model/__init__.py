"""Our win-probability model and what we do with it.

How it works: :mod:`~graph.model.elo` is the rating model (538's Elo method with our tuning:
margin of victory, season regression, rest days, neutral sites, playoffs), pure and
deterministic. :mod:`~graph.model.ratings` keeps every league's current ratings in SQLite,
bootstrapped once from the shipped 538 history (:mod:`~graph.model.data`, CC BY 4.0) and updated
with each finished game exactly once. :mod:`~graph.model.predict` turns a probability and the
market's prices into an edge and a confidence; :mod:`~graph.model.policy` decides whether to
recommend a bet (only where a backtest against real closing lines supports it, see ``make
eval``). :mod:`~graph.model.scoring` holds the scoring rules, :mod:`~graph.model.track` and
:mod:`~graph.model.trackstore` the live track record against Kalshi.
"""
