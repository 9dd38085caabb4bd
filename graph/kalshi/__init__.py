"""Everything Kalshi: request signing, the REST client, and the WebSocket ticker feed.

How it works: :mod:`~graph.kalshi.signing` signs every request (RSA-PSS over timestamp, method
and path). :mod:`~graph.kalshi.rest` reads markets over HTTP (pagination, ticker chunking,
retries) and :mod:`~graph.kalshi.payloads` turns their JSON into :class:`graph.models.Market`.
The live path is three layers: :mod:`~graph.kalshi.messages` parses server frames,
:mod:`~graph.kalshi.protocol` is the sans-I/O state machine that keeps one ``ticker``
subscription equal to the wanted set of markets, and :mod:`~graph.kalshi.feed` is the only
module that touches a socket (connect, sign, reconnect with backoff). Core modules (signing,
payloads, messages, protocol) do no I/O and read no clock.
"""
