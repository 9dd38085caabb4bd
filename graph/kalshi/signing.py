"""Kalshi request signing (pure: the caller passes the time).

Kalshi authenticates a request with three headers. The signature is RSA-PSS
(SHA-256, MGF1-SHA-256, salt length 32 = the digest length) over
``timestamp_ms + METHOD + path``, where ``path`` starts at the root, includes
the ``/trade-api/v2`` (or ``/trade-api/ws/v2``) prefix and stops before any
query string. PSS is randomised: verify signatures, never compare them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

WS_PATH = "/trade-api/ws/v2"

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


class KeyFormatError(ValueError):
    """The bytes are not an unencrypted RSA private key in PEM (PKCS#1 or PKCS#8)."""


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Load an unencrypted RSA private key from PEM (PKCS#1 or PKCS#8).

    Raises:
        KeyFormatError: with a message that never contains the key material.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # the PEM is encrypted
        raise KeyFormatError("the key is password-protected; use an unencrypted PEM") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError("not a PEM-encoded private key (PKCS#1 or PKCS#8)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError(f"expected an RSA key, got {type(key).__name__.lstrip('_')}")
    return key


def signing_message(timestamp_ms: int, method: str, path: str) -> bytes:
    """The exact bytes Kalshi signs: ``"<ts><METHOD><path without query>"``."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def sign(key: rsa.RSAPrivateKey, timestamp_ms: int, method: str, path: str) -> str:
    """Return the base64 RSA-PSS signature for one request."""
    raw = key.sign(signing_message(timestamp_ms, method, path), _PSS, hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def verify(
    public_key: rsa.RSAPublicKey, signature_b64: str, timestamp_ms: int, method: str, path: str
) -> bool:
    """True when ``signature_b64`` is a valid signature of this request by ``public_key``."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, signing_message(timestamp_ms, method, path), _PSS, hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A key id plus its private key; produces the three Kalshi headers."""

    key_id: str
    private_key: rsa.RSAPrivateKey

    def headers(self, timestamp_ms: int, method: str, path: str) -> dict[str, str]:
        """Headers for one request made at ``timestamp_ms`` (Unix milliseconds)."""
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: str(timestamp_ms),
            HEADER_SIGNATURE: sign(self.private_key, timestamp_ms, method, path),
        }

    def __repr__(self) -> str:  # never show key material
        return f"Signer(key_id={self.key_id!r})"


def generate_private_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (for the simulator and tests; never committed)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey, *, pkcs8: bool = False) -> bytes:
    """Serialise ``key`` as unencrypted PEM: PKCS#1 (Kalshi's download) or PKCS#8."""
    formats = serialization.PrivateFormat
    fmt = formats.PKCS8 if pkcs8 else formats.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
