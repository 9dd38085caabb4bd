from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from graph.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WS_PATH,
    KeyFormatError,
    Signer,
    load_private_key,
    private_key_pem,
    sign,
    signing_message,
    verify,
)

TS = 1763900000000
MARKETS = "/trade-api/v2/markets"
# Kalshi's parameters, spelled out independently of graph.kalshi.signing.
KALSHI_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _pss_verify(public_key: rsa.RSAPublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64), message, KALSHI_PSS, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _body_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(
            "GET",
            "/trade-api/v2/markets?series_ticker=KXNFLGAME&status=open&limit=200",
            "1763900000000GET/trade-api/v2/markets",
            id="markets-with-query",
        ),
        pytest.param(
            "GET",
            "/trade-api/v2/markets/KXNFLGAME-25NOV23BUFHOU-BUF/orderbook?depth=10",
            "1763900000000GET/trade-api/v2/markets/KXNFLGAME-25NOV23BUFHOU-BUF/orderbook",
            id="orderbook",
        ),
        pytest.param(
            "POST",
            "/trade-api/v2/portfolio/orders",
            "1763900000000POST/trade-api/v2/portfolio/orders",
            id="post-order",
        ),
        pytest.param("GET", WS_PATH, "1763900000000GET/trade-api/ws/v2", id="ws-handshake"),
        pytest.param("get", MARKETS, "1763900000000GET/trade-api/v2/markets", id="lower-method"),
    ],
)
def test_signing_message_matches_docs_worked_examples(
    method: str, path: str, expected: str
) -> None:
    """signing_message yields the exact strings of kalshi-api.md §2.6 (query cut, method upper)."""
    assert signing_message(TS, method, path) == expected.encode()


def test_ws_path_is_the_handshake_path() -> None:
    """The WebSocket handshake signs GET /trade-api/ws/v2."""
    assert WS_PATH == "/trade-api/ws/v2"


@pytest.mark.parametrize("pkcs8", [pytest.param(False, id="pkcs1"), pytest.param(True, id="pkcs8")])
def test_sign_with_pkcs1_and_pkcs8_keys_verifies_with_cryptography_pss(
    rsa_key: rsa.RSAPrivateKey, pkcs8: bool
) -> None:
    """A key loaded from PKCS#1 or PKCS#8 PEM signs what cryptography's PSS(salt=32) verifies."""
    pem = private_key_pem(rsa_key, pkcs8=pkcs8)
    header = b"-----BEGIN PRIVATE KEY-----" if pkcs8 else b"-----BEGIN RSA PRIVATE KEY-----"
    assert pem.startswith(header)
    key = load_private_key(pem)
    signature = sign(key, TS, "GET", MARKETS)
    public = rsa_key.public_key()
    assert _pss_verify(public, signature, f"{TS}GET{MARKETS}".encode())
    assert not _pss_verify(public, signature, f"{TS + 1}GET{MARKETS}".encode())


def test_signature_does_not_verify_under_max_salt_length(rsa_key: rsa.RSAPrivateKey) -> None:
    """The salt is exactly the digest length (32), not the maximum (222 for 2048-bit SHA-256)."""
    signature = base64.b64decode(sign(rsa_key, TS, "GET", MARKETS))
    # In verify(), PSS.MAX_LENGTH means "auto-detect", so spell the maximum out.
    strict_max = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=256 - 32 - 2)
    with pytest.raises(InvalidSignature):
        rsa_key.public_key().verify(
            signature, f"{TS}GET{MARKETS}".encode(), strict_max, hashes.SHA256()
        )


def test_query_string_is_not_signed(rsa_key: rsa.RSAPrivateKey) -> None:
    """A signature over path+query is not one over the bare path: the query is never signed."""
    with_query = f"{TS}GET{MARKETS}?series_ticker=KXNFLGAME".encode()
    raw = rsa_key.sign(with_query, KALSHI_PSS, hashes.SHA256())
    signature = base64.b64encode(raw).decode()
    assert not verify(rsa_key.public_key(), signature, TS, "GET", MARKETS)


def test_sign_over_path_with_query_verifies_against_bare_path(rsa_key: rsa.RSAPrivateKey) -> None:
    """sign() cuts the query, so its signature verifies over ts+GET+bare path."""
    signature = sign(rsa_key, TS, "GET", f"{MARKETS}?a=b")
    assert _pss_verify(rsa_key.public_key(), signature, f"{TS}GET{MARKETS}".encode())
    assert verify(rsa_key.public_key(), signature, TS, "GET", MARKETS)


def test_two_signatures_differ_but_both_verify(rsa_key: rsa.RSAPrivateKey) -> None:
    """PSS is randomised: equal messages give different signatures, each valid."""
    first = sign(rsa_key, TS, "GET", MARKETS)
    second = sign(rsa_key, TS, "GET", MARKETS)
    assert first != second
    assert verify(rsa_key.public_key(), first, TS, "GET", MARKETS)
    assert verify(rsa_key.public_key(), second, TS, "GET", MARKETS)


@pytest.mark.parametrize(
    ("ts", "method", "path"),
    [
        pytest.param(TS + 1, "GET", MARKETS, id="timestamp"),
        pytest.param(TS, "POST", MARKETS, id="method"),
        pytest.param(TS, "GET", MARKETS + "/X", id="path"),
    ],
)
def test_verify_rejects_other_requests(
    rsa_key: rsa.RSAPrivateKey, ts: int, method: str, path: str
) -> None:
    """A signature only verifies for its own timestamp, method and path."""
    signature = sign(rsa_key, TS, "GET", MARKETS)
    assert not verify(rsa_key.public_key(), signature, ts, method, path)


def test_verify_rejects_tampered_signature(rsa_key: rsa.RSAPrivateKey) -> None:
    """Flipping one bit of the signature makes it invalid."""
    raw = bytearray(base64.b64decode(sign(rsa_key, TS, "GET", MARKETS)))
    raw[10] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()
    assert not verify(rsa_key.public_key(), tampered, TS, "GET", MARKETS)


def test_verify_rejects_wrong_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """A signature by another key does not verify under ours."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signature = sign(other, TS, "GET", MARKETS)
    assert not verify(rsa_key.public_key(), signature, TS, "GET", MARKETS)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param("not base64!!", id="bad-alphabet"),
        pytest.param("abc", id="bad-padding"),
        pytest.param("", id="empty"),
        pytest.param("AAAA", id="too-short"),
    ],
)
def test_verify_returns_false_on_garbage(rsa_key: rsa.RSAPrivateKey, garbage: str) -> None:
    """Undecodable or wrongly sized signatures give False, never an exception."""
    assert verify(rsa_key.public_key(), garbage, TS, "GET", MARKETS) is False


def test_load_private_key_rejects_garbage_without_echoing_it() -> None:
    """Garbage bytes raise KeyFormatError whose message does not repeat the input."""
    garbage = (
        b"-----BEGIN RSA PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END RSA PRIVATE KEY-----\n"
    )
    with pytest.raises(KeyFormatError) as info:
        load_private_key(garbage)
    assert "SECRET" not in str(info.value)
    assert "PEM" in str(info.value)


def test_load_private_key_rejects_ec_key() -> None:
    """An EC private key is refused as not RSA, without key material in the message."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="RSA") as info:
        load_private_key(pem)
    assert not any(line in str(info.value) for line in _body_lines(pem))


def test_load_private_key_rejects_encrypted_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    """A password-protected PEM is refused with a message saying so, not the key."""
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hunter2"),
    )
    with pytest.raises(KeyFormatError, match="password") as info:
        load_private_key(pem)
    assert not any(line in str(info.value) for line in _body_lines(pem))


def test_signer_repr_hides_the_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """repr/str of a Signer show the key id only, never the key object or PEM."""
    signer = Signer(key_id="key-123", private_key=rsa_key)
    for text in (repr(signer), str(signer)):
        assert "key-123" in text
        assert "RSAPrivateKey" not in text and "private_key" not in text
        assert not any(line in text for line in _body_lines(private_key_pem(rsa_key)))


def test_signer_headers_carry_key_timestamp_and_verifiable_signature(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """Signer.headers gives exactly Kalshi's three headers; the signature is 344 base64 chars."""
    headers = Signer(key_id="key-123", private_key=rsa_key).headers(TS, "GET", f"{MARKETS}?x=1")
    assert set(headers) == {
        "KALSHI-ACCESS-KEY",
        "KALSHI-ACCESS-TIMESTAMP",
        "KALSHI-ACCESS-SIGNATURE",
    }
    assert (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE) == (
        "KALSHI-ACCESS-KEY",
        "KALSHI-ACCESS-TIMESTAMP",
        "KALSHI-ACCESS-SIGNATURE",
    )
    assert headers[HEADER_KEY] == "key-123"
    assert headers[HEADER_TIMESTAMP] == "1763900000000"
    signature = headers[HEADER_SIGNATURE]
    assert len(signature) == 344
    assert len(base64.b64decode(signature, validate=True)) == 256
    assert _pss_verify(rsa_key.public_key(), signature, f"{TS}GET{MARKETS}".encode())
