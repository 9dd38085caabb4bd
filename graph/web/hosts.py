"""Answer only the host names we are (DNS rebinding), over HTTP and WebSocket (edge).

How it works: a page on ``evil.example`` whose name its owner re-points at our address
can make a victim's browser talk to us as "same origin": the request then carries
``Host: evil.example`` (and a matching ``Origin``, which is why the Origin check alone does
not stop it). :class:`TrustedHosts` compares the ``Host`` header, port stripped, with the
allowed names (``ALLOWED_HOSTS``: exact names, ``*.domain`` for subdomains, ``*`` for any)
before anything else runs: HTTP gets 400 with a GraphQL-shaped ``HOST_NOT_ALLOWED``
error, a WebSocket handshake 400 through the denial-response extension (or a 1008 close
where the server lacks it), and one log line at most per ``log_every_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from graph.web.logs import Every
from graph.web.responses import error_body, send_error

logger = logging.getLogger(__name__)

HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
_MESSAGE = "this server does not answer to that host name"


def host_name(header: str) -> str:
    """``Host`` without its port, lower-cased (``[::1]:8000`` -> ``[::1]``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed(name: str, hosts: Iterable[str]) -> bool:
    for pattern in hosts:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class TrustedHosts:
    """ASGI middleware: refuses requests whose ``Host`` is not one of ``hosts``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: Iterable[str],
        log_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.hosts = tuple(hosts)
        self.refused = 0
        self._log = Every(log_every_s, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"host"), b"")
        name = host_name(header.decode("latin-1"))
        if name and allowed(name, self.hosts):
            await self.app(scope, receive, send)
            return
        self._note(name)
        if scope["type"] == "http":
            await send_error(send, 400, _MESSAGE, HOST_NOT_ALLOWED)
        elif "websocket.http.response" in scope.get("extensions", {}):
            body = error_body(_MESSAGE, HOST_NOT_ALLOWED)
            headers = [(b"content-type", b"application/json")]
            await send({"type": "websocket.http.response.start", "status": 400, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": _MESSAGE})

    def _note(self, name: str) -> None:
        self.refused += 1
        if self._log.due():
            logger.warning(
                "Refused a request for another host host=%.100r refused_total=%d "
                "(ALLOWED_HOSTS lists the names this server answers to)",
                name,
                self.refused,
            )
