"""Kalshi-style request verification for the simulator (pure: the caller passes the time).

Follows kalshi-api.md §2.7: all three ``KALSHI-ACCESS-*`` headers, a known key id,
an optional freshness window on the millisecond timestamp, then an RSA-PSS verify
over ``ts + METHOD + path`` with the path as received (query string excluded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from graph.kalshi.signing import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify

_HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE)


def has_auth_headers(headers: Mapping[str, str]) -> bool:
    """True when any of the three Kalshi auth headers is present."""
    return any(name in headers for name in _HEADERS)


@dataclass(frozen=True, slots=True)
class Verifier:
    """Knows the one key the simulator accepts."""

    key_id: str
    public_key: rsa.RSAPublicKey
    window_ms: int | None = 60_000

    def problem(
        self, headers: Mapping[str, str], method: str, path: str, now_ms: int
    ) -> str | None:
        """Why this request is not authenticated, or ``None`` when it is.

        ``headers`` must look names up case-insensitively (Starlette's Headers do).
        The message never contains a header value.
        """
        missing = [name for name in _HEADERS if not headers.get(name)]
        if missing:
            return f"missing header(s): {', '.join(missing)}"
        if headers[HEADER_KEY] != self.key_id:
            return "unknown API key id"
        raw_ts = headers[HEADER_TIMESTAMP]
        if not raw_ts.isdigit():
            return "KALSHI-ACCESS-TIMESTAMP must be Unix time in milliseconds"
        ts_ms = int(raw_ts)
        if self.window_ms is not None and abs(now_ms - ts_ms) > self.window_ms:
            return f"timestamp outside the allowed window of {self.window_ms} ms"
        if not verify(self.public_key, headers[HEADER_SIGNATURE], ts_ms, method, path):
            return "invalid signature"
        return None
