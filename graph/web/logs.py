"""Log format (text or JSON lines) and request ids (adapter).

How it works: :class:`RequestId` (ASGI middleware) takes a sane incoming
``X-Request-ID`` or makes one, keeps it in the :data:`request_id` context variable for
the request (or the whole WebSocket connection, including the tasks Strawberry starts
for its operations, which copy the context) and echoes it in the response headers.
Both formatters read the variable, so every line logged while serving a request
carries its id without anyone passing it around. :func:`configure_logging` installs
one handler on the root logger and lets uvicorn's loggers propagate to it, so the
server's own lines have the same format. Formatters add nothing but the record: what
a message must not contain (secrets), it never contains.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["text", "json"]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
# Ids other systems make (UUIDs, trace ids, base64) pass; anything that could forge a
# log field or a header does not.
_SANE_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


class TextFormatter(logging.Formatter):
    """``key=value`` lines; ``request_id=...`` is appended inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        if rid is None:
            return line
        head, sep, tail = line.partition("\n")  # keep tracebacks after the id
        return f"{head} request_id={rid}{sep}{tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Send every log line (ours, uvicorn's, libraries') to ``stream`` in one format.

    Call it before serving ``create_app()`` yourself; ``python -m graph`` does.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.setLevel(logging.NOTSET)  # the root's level; uvicorn may set its own later
        server_logger.propagate = True
    # One line per upstream request is noise; our own logs say what was fetched and why.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def incoming_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a fresh one."""
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            candidate: str = value.decode("latin-1")
            if _SANE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestId:
    """ASGI middleware: a request id per HTTP request or WebSocket connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = incoming_id(scope)
        header = (_HEADER_KEY, rid.encode())
        start = "http.response.start" if scope["type"] == "http" else "websocket.accept"

        async def send_with_id(message: Message) -> None:
            if message["type"] == start:
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
