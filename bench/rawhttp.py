"""A minimal HTTP/1.1 client for bursts: one kept-alive connection, requests as bytes.

A burst of 100 queries measures the server only if the clients cost little: httpx spends
~2.5 ms of CPU per request in this process (more than the server spends answering it), so
the last answers of a burst would wait for the client, not the server. This writes a
request prepared once and reads the answer by its ``Content-Length``: tens of microseconds.
It speaks just what our server answers (no chunked bodies, no redirects).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class RawClient:
    def __init__(
        self, host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.host = host
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, base_url: str) -> RawClient:
        url = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        return cls(url.netloc, reader, writer)

    def post_request(self, path: str, body: bytes) -> bytes:
        """The bytes of a JSON POST, to send as often as wanted."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("ascii") + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one prepared request; the answer's status and body."""
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines[1:]
            if line.lower().startswith("content-length:")
        )
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()
