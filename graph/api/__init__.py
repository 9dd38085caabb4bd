"""The GraphQL edge: the only package that imports Strawberry.

How it works: :mod:`~graph.api.schema` declares the types and resolvers (a few lines each:
they call the games service, the loaders and the hub). :mod:`~graph.api.execution` runs
operations under the limits that are not validation rules (query size, deadline) and lets
subscribers of one update share one execution. :mod:`~graph.api.view` serves GraphQL over
HTTP and WebSockets. :mod:`~graph.api.errors` gives every error leaving the service a stable
``extensions.code`` and logs it once; :mod:`~graph.api.wsmessages` checks the shape of GraphQL
WebSocket client messages; :mod:`~graph.api.context` is the per-request context.
"""
