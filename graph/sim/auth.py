"""Kalshi-style request verification for the simulator (pure: the caller passes the time).

Follows kalshi-api.md §2.7: all three ``KALSHI-ACCESS-*`` headers, a known key id,
an optional freshness window on the millisecond timestamp, then an RSA-PSS verify
(SHA-256, MGF1-SHA-256, 32-byte salt) over ``ts + METHOD + path`` with the path as
received (query string excluded). Written here against ``cryptography`` directly, not
with the service's signing module: the simulator checks that code, it must not share it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

WS_PATH = "/trade-api/ws/v2"
HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
_HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def new_key_pem() -> tuple[rsa.RSAPublicKey, bytes]:
    """A fresh 2048-bit RSA key: its public half and the private key as PKCS#1 PEM
    (the format of a key downloaded from Kalshi)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key.public_key(), pem


def signature_ok(
    public_key: rsa.RSAPublicKey, signature_b64: str, ts: str, method: str, path: str
) -> bool:
    """True when ``signature_b64`` signs ``ts + METHOD + path`` under ``public_key``."""
    message = f"{ts}{method.upper()}{path}".encode()
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, message, _PSS, hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


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
        if not signature_ok(self.public_key, headers[HEADER_SIGNATURE], raw_ts, method, path):
            return "invalid signature"
        return None
