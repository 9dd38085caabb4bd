"""The HTTP edge around GraphQL: middleware, operations endpoints and pages.

How it works: ASGI middleware wraps the app (:mod:`~graph.web.logs` request ids and log
format, :mod:`~graph.web.auth` bearer tokens, :mod:`~graph.web.bodylimit` request size,
:mod:`~graph.web.wsadmission` the WebSocket connection cap and graceful drain);
:mod:`~graph.web.metrics` and :mod:`~graph.web.readiness` back ``/metrics`` and ``/readyz``;
:mod:`~graph.web.graphiql` and :mod:`~graph.web.livepage` serve the two pages from allow-listed
files (:mod:`~graph.web.assets`). Nothing here knows GraphQL's types.
"""
