from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.cluster.codec import CodecError, JsonCodec, decode_tick, encode_tick
from graph.models import Game, GameState, League, Market, TeamRef, TickerUpdate

NOON = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


def test_a_tick_round_trips_with_its_fence() -> None:
    """Every field of a TickerUpdate and the fencing number come back as they went in."""
    update = TickerUpdate("KXNBAGAME-X-NYK", 1_795_348_800_123, 0.48, 0.45, 0.53, 33896.0, 20422.0)
    assert decode_tick(encode_tick(7, update)) == (7, update)


def test_missing_prices_stay_missing() -> None:
    """A never-traded market (no price) is not turned into 0."""
    update = TickerUpdate("T", 5)
    text = encode_tick(1, update)
    assert text == '{"f":1,"t":"T","ts":5}'
    assert decode_tick(text.encode()) == (1, update)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1]",
        b'{"t":"T","ts":5}',
        b'{"f":"1","t":"T","ts":5}',
        b'{"f":1,"t":"T","ts":5,"p":"0.5"}',
        b'{"f":1,"t":"T","ts":5,"p":true}',
    ],
)
def test_malformed_ticks_raise_codec_error(data: bytes) -> None:
    """Anything but a well-formed tick raises CodecError (the reader drops it)."""
    with pytest.raises(CodecError):
        decode_tick(data)


def test_games_round_trip() -> None:
    """A schedule (frozen dataclasses, enums, aware datetimes) decodes equal to the original."""
    games = [
        Game(
            id="401",
            league=League.NBA,
            start_time=NOON,
            state=GameState.LIVE,
            home=TeamRef("NYK", "New York Knicks", "10-2", "18"),
            away=TeamRef("CLE", "Cleveland Cavaliers"),
            home_score=50,
            neutral_site=True,
        )
    ]
    codec: JsonCodec[list[Game]] = JsonCodec(list[Game])
    assert codec.decode(codec.encode(games)) == games


def test_market_listings_round_trip() -> None:
    """A listing, with optional prices, sub-titles and times, decodes equal to the original."""
    listing = [
        Market(
            "EV-NYK",
            "EV",
            "Knicks?",
            "open",
            yes_sub_title="New York K",
            no_sub_title="Boston",
            yes_bid=0.45,
            yes_ask=0.5,
            volume=3.0,
            occurs_at=datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
        ),
        Market("EV-BOS", "EV", "Celtics?", "open"),
    ]
    codec: JsonCodec[list[Market]] = JsonCodec(list[Market])
    decoded = codec.decode(codec.encode(listing))
    assert decoded == listing and decoded[0].implied_probability == pytest.approx(0.475)
    assert decoded[1].implied_probability is None


def test_a_value_of_another_shape_is_a_codec_error() -> None:
    """Bytes another version wrote (another shape) raise CodecError, never a half object."""
    codec: JsonCodec[list[Game]] = JsonCodec(list[Game])
    with pytest.raises(CodecError, match="does not decode"):
        codec.decode(b'[{"id": 1}]')
