"""Shape checks of GraphQL WebSocket client messages (core: pure functions).

Strawberry's protocol handlers index into messages as if they were well formed:
a JSON array, a numeric ``id`` or a ``subscribe`` without a payload would raise
inside the handler and kill the socket with an internal error (or, on the legacy
protocol, crash its task). The view runs :func:`problem` on every decoded message
first and closes the socket with 4400 and the returned reason instead, as the
``graphql-transport-ws`` protocol prescribes for invalid messages.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_ID_LENGTH = 128

# (start, stop) message types of each protocol.
_OPERATION_TYPES = {
    "graphql-transport-ws": ("subscribe", "complete"),
    "graphql-ws": ("start", "stop"),
}


def problem(message: object, protocol: str) -> str | None:
    """Why ``message`` is not a well-formed client message of ``protocol``, or ``None``.

    Unknown message types are left to the handler (each protocol has its own rule).
    """
    if not isinstance(message, Mapping):
        return "a message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "a message needs a string 'type'"
    start, stop = _OPERATION_TYPES[protocol]
    if kind not in (start, stop):
        return None
    op_id = message.get("id")
    if not isinstance(op_id, str) or not 0 < len(op_id) <= MAX_ID_LENGTH:
        return f"'id' must be a string of 1 to {MAX_ID_LENGTH} characters"
    if kind == stop:
        return None
    payload = message.get("payload")
    if not isinstance(payload, Mapping):
        return "'payload' must be an object"
    if not isinstance(payload.get("query"), str):
        return "'payload.query' must be a string"
    for key in ("variables", "extensions"):
        if payload.get(key) is not None and not isinstance(payload[key], Mapping):
            return f"'payload.{key}' must be an object or null"
    name = payload.get("operationName")
    if name is not None and not isinstance(name, str):
        return "'payload.operationName' must be a string or null"
    return None
