"""The Kalshi WebSocket feed protocol, sans I/O: parse server frames, build commands.

How it works
------------
``parse_message`` turns one text frame into a frozen dataclass (``Subscribed``, ``Ok``,
``OkList``, ``Unsubscribed``, ``ErrorMsg``, ``Ticker`` or ``Unknown``) and raises only
:class:`~graph.errors.UpstreamProtocolError` for anything malformed.

``FeedProtocol`` keeps the one ``ticker`` subscription of a connection equal to the
*desired* set of market tickers. It never talks to a socket: the caller feeds it

- ``want(tickers)`` when the desired set changes,
- ``connection_opened()`` / ``connection_lost()`` around each connection,
- ``receive_text(text)`` for every frame (returns the events to act on),

and after each of those sends every string from ``data_to_send()``.

At most one command is in flight at a time. When nothing is in flight the protocol
compares the desired set with the set the server confirmed and sends one command to
close the gap: ``subscribe`` (no sid yet), ``update_subscription`` with
``add_markets`` or ``delete_markets``, or ``unsubscribe`` once nothing is wanted. A
``want()`` during a command in flight only changes the desired set; the gap is closed
after the reply, so replies can never be matched to the wrong command. The ticker
channel is always subscribed with a market filter: never the firehose.

Every ``error`` is reported as a ``FeedError``; what else happens depends on the code:

- 10, 17 and 25 end the subscription server-side: the protocol forgets the sid and
  subscribes afresh. If that keeps failing it emits ``ReconnectRequired``.
- An error naming a market of the failed command (16 "Market not found") drops that
  market from the request until the desired set or the connection changes.
- 7 "Unknown subscription ID" to our ``unsubscribe``: the server has no such sid, so we
  forget it too.
- Any other error answering a subscription command (27 rate limit, 18 command timeout,
  26 market limit, 16 without a market, 6 "Already subscribed", codes we do not know)
  means a retry at once would fail the same way, or that our state and the server's
  disagree. The protocol emits ``ReconnectRequired`` and sends nothing more on this
  connection; the adapter closes it, waits its jittered exponential backoff and
  reconnects, and ``connection_opened()`` subscribes to the whole desired set. So a
  command error never stalls the subscription and never loops faster than the backoff.

An error without an id while a command is in flight is taken as that command's answer:
otherwise the command would wait forever for a reply that is not coming.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graph.errors import UpstreamProtocolError
from graph.kalshi import count, dollars
from graph.models import TickerUpdate

TICKER_CHANNEL = "ticker"
TERMINAL_ERROR_CODES = frozenset({10, 17, 25})
# Fresh subscribes that may fail terminally in a row before we ask for a new connection.
MAX_RESUBSCRIBES = 3

_MAX_EXCERPT = 80
_MAX_TS_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


# --- Server messages --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribed:
    """``subscribed``: the channel of command ``id`` got subscription id ``sid``."""

    id: int | None
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class Ok:
    """``ok`` to ``update_subscription``: the full market list after the update.

    ``market_tickers`` is None when the server left the list out (``skip_ticker_ack``).
    """

    id: int | None
    sid: int | None
    seq: int | None
    market_tickers: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class OkList:
    """``ok`` to ``list_subscriptions``."""

    id: int | None
    subscriptions: tuple[SubscriptionInfo, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    id: int | None
    sid: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class ErrorMsg:
    """``error``: ``code`` from the table in kalshi-api.md §4.3."""

    id: int | None
    code: int
    msg: str
    market_ticker: str | None = None

    @property
    def terminal(self) -> bool:
        return self.code in TERMINAL_ERROR_CODES


@dataclass(frozen=True, slots=True)
class Ticker:
    sid: int | None
    update: TickerUpdate


@dataclass(frozen=True, slots=True)
class Unknown:
    """A well-formed message of a type we do not handle (``trade``, ``orderbook_delta``...)."""

    type: str
    raw: Mapping[str, Any]


ServerMessage = Subscribed | Ok | OkList | Unsubscribed | ErrorMsg | Ticker | Unknown


def parse_message(text: str) -> ServerMessage:
    """Parse one text frame from the Kalshi WebSocket.

    Raises:
        UpstreamProtocolError: not JSON, not an object, or a known type whose required
            fields are missing or ill-typed (including prices outside [0, 1]).
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UpstreamProtocolError(f"frame is not JSON: {_excerpt(text)}") from exc
    if not isinstance(data, dict):
        raise UpstreamProtocolError(f"frame is not a JSON object: {_excerpt(text)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise UpstreamProtocolError("frame has no string 'type'")
    msg_id = _opt_int(data, "id")
    if kind == "ticker":
        return Ticker(sid=_opt_int(data, "sid"), update=_parse_ticker(_obj(data, "msg")))
    if kind == "subscribed":
        body = _obj(data, "msg")
        return Subscribed(id=msg_id, channel=_str(body, "channel"), sid=_int(body, "sid"))
    if kind == "ok":
        return _parse_ok(data, msg_id)
    if kind == "unsubscribed":
        return Unsubscribed(id=msg_id, sid=_int(data, "sid"), seq=_opt_int(data, "seq"))
    if kind == "error":
        body = _obj(data, "msg")
        text_msg = body.get("msg", "")
        return ErrorMsg(
            id=msg_id,
            code=_int(body, "code"),
            msg=text_msg if isinstance(text_msg, str) else str(text_msg),
            market_ticker=_opt_str(body, "market_ticker"),
        )
    return Unknown(type=kind, raw=data)


def _parse_ok(data: dict[str, Any], msg_id: int | None) -> Ok | OkList:
    body = data.get("msg")
    if isinstance(body, list):
        subs = []
        for item in body:
            if not isinstance(item, dict):
                raise UpstreamProtocolError("'ok' list entry is not an object")
            subs.append(SubscriptionInfo(channel=_str(item, "channel"), sid=_int(item, "sid")))
        return OkList(id=msg_id, subscriptions=tuple(subs))
    if body is not None and not isinstance(body, dict):
        raise UpstreamProtocolError("'ok' msg is neither an object nor a list")
    tickers: tuple[str, ...] | None = None
    if body is not None and "market_tickers" in body:
        raw = body["market_tickers"]
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise UpstreamProtocolError("'ok' market_tickers is not a list of strings")
        tickers = tuple(raw)
    return Ok(
        id=msg_id, sid=_opt_int(data, "sid"), seq=_opt_int(data, "seq"), market_tickers=tickers
    )


def _parse_ticker(body: dict[str, Any]) -> TickerUpdate:
    ticker = _str(body, "market_ticker")
    if not ticker:
        raise UpstreamProtocolError("ticker message has an empty market_ticker")
    return TickerUpdate(
        market_ticker=ticker,
        ts_ms=_ticker_ts_ms(body),
        # Legacy frames (before 2026-03-12) carried integer cents; price 0 meant "never traded".
        price=_price(body, "price_dollars", "price", zero_cents_is_none=True),
        yes_bid=_price(body, "yes_bid_dollars", "yes_bid"),
        yes_ask=_price(body, "yes_ask_dollars", "yes_ask"),
        volume=_count(body, "volume_fp", "volume"),
        open_interest=_count(body, "open_interest_fp", "open_interest"),
    )


def _ticker_ts_ms(body: dict[str, Any]) -> int:
    ts_ms = _opt_int(body, "ts_ms")
    if ts_ms is None:
        ts = _opt_int(body, "ts")
        ts_ms = None if ts is None else ts * 1000
    if ts_ms is None:
        stamp = _opt_str(body, "time")
        if stamp is None:
            raise UpstreamProtocolError("ticker message has none of ts_ms, ts, time")
        try:
            when = datetime.fromisoformat(stamp)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            ts_ms = int(when.timestamp() * 1000)
        except (ValueError, OverflowError, OSError) as exc:
            raise UpstreamProtocolError("ticker 'time' is not an RFC 3339 timestamp") from exc
    # Downstream turns ts_ms into a datetime; refuse what no datetime can hold.
    if not 0 <= ts_ms <= _MAX_TS_MS:
        raise UpstreamProtocolError("ticker timestamp is out of range")
    return ts_ms


def _price(
    body: dict[str, Any], key: str, legacy_cents: str, *, zero_cents_is_none: bool = False
) -> float | None:
    if key in body:
        return dollars(body[key], f"ticker {key}")
    if legacy_cents in body and body[legacy_cents] is not None:
        cents = _int(body, legacy_cents)
        if not 0 <= cents <= 100:
            raise UpstreamProtocolError(f"ticker {legacy_cents} is outside [0, 100] cents")
        return None if cents == 0 and zero_cents_is_none else cents / 100
    return None


def _count(body: dict[str, Any], key: str, legacy: str) -> float | None:
    if key in body:
        return count(body[key], f"ticker {key}")
    if legacy in body and body[legacy] is not None:
        value = _int(body, legacy)
        if value < 0:
            raise UpstreamProtocolError(f"ticker {legacy} is negative")
        return float(value)
    return None


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise UpstreamProtocolError(f"'{key}' is missing or not an object")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise UpstreamProtocolError(f"'{key}' is missing or not a string")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UpstreamProtocolError(f"'{key}' is not a string")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = _opt_int(data, key)
    if value is None:
        raise UpstreamProtocolError(f"'{key}' is missing")
    return value


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int subclass; JSON true is not an id.
    if isinstance(value, bool) or not isinstance(value, int):
        raise UpstreamProtocolError(f"'{key}' is not an integer")
    return value


def _excerpt(text: str) -> str:
    return repr(text[:_MAX_EXCERPT]) + ("..." if len(text) > _MAX_EXCERPT else "")


# --- Protocol events ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionConfirmed:
    """The server confirmed the ticker subscription ``sid`` now covers ``market_tickers``."""

    sid: int
    market_tickers: frozenset[str]


@dataclass(frozen=True, slots=True)
class FeedError:
    """The server reported an error; ``terminal`` ones were already handled by resubscribing."""

    code: int
    msg: str
    market_ticker: str | None
    terminal: bool


@dataclass(frozen=True, slots=True)
class ReconnectRequired:
    """This connection cannot reach the desired set: close it and reconnect with backoff.

    After this event the protocol sends nothing until ``connection_opened()``.
    """

    reason: str


Event = Ticker | SubscriptionConfirmed | FeedError | OkList | ReconnectRequired | Unknown


@dataclass(frozen=True, slots=True)
class _Command:
    id: int
    kind: str  # "subscribe" | "add" | "delete" | "unsubscribe" | "list"
    tickers: frozenset[str]


class FeedProtocol:
    """Sans-I/O state of one logical ticker subscription across connections."""

    def __init__(self) -> None:
        self._next_id = 1
        self._open = False
        self._desired: frozenset[str] = frozenset()
        self._confirmed: frozenset[str] = frozenset()
        self._sid: int | None = None
        self._in_flight: _Command | None = None
        self._side: dict[int, _Command] = {}  # list_subscriptions, outside the reconcile loop
        self._rejected: set[str] = set()
        self._reconnect_pending = False  # gave up on this connection
        self._resubscribes = 0
        self._outbox: list[str] = []

    # Introspection -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def desired(self) -> frozenset[str]:
        return self._desired

    @property
    def confirmed(self) -> frozenset[str]:
        """What the server last confirmed the ticker subscription covers."""
        return self._confirmed

    @property
    def sid(self) -> int | None:
        return self._sid

    @property
    def busy(self) -> bool:
        """True while a subscription command awaits its reply."""
        return self._in_flight is not None

    # Input -------------------------------------------------------------------------

    def want(self, tickers: Iterable[str]) -> None:
        """Set the desired tickers. Then send ``data_to_send()``."""
        desired = frozenset(tickers)
        if desired == self._desired:
            return
        self._desired = desired
        self._rejected &= desired
        self._reconcile()

    def connection_opened(self) -> None:
        """A new connection is up: subscribe to everything desired. Then send ``data_to_send()``."""
        self._reset()
        self._open = True
        self._reconcile()

    def connection_lost(self) -> None:
        """The connection is gone; the server forgot our subscriptions and unsent commands."""
        self._reset()

    def send_list_subscriptions(self) -> None:
        """Queue a ``list_subscriptions``; its answer arrives as an ``OkList`` event."""
        if self._open:
            cmd = self._command("list", frozenset())
            self._side[cmd.id] = cmd
            self._outbox.append(json.dumps({"id": cmd.id, "cmd": "list_subscriptions"}))

    def receive_text(self, text: str) -> list[Event]:
        """Apply one frame; return what the caller should act on. Then send ``data_to_send()``.

        Raises:
            UpstreamProtocolError: the frame is malformed; the protocol state is unchanged.
        """
        message = parse_message(text)
        events: list[Event] = []
        if isinstance(message, Ticker | Unknown):
            events.append(message)
        elif isinstance(message, OkList):
            if message.id is not None:
                self._side.pop(message.id, None)
            events.append(message)
        elif isinstance(message, Subscribed):
            self._on_subscribed(message, events)
        elif isinstance(message, Ok):
            self._on_ok(message, events)
        elif isinstance(message, Unsubscribed):
            self._on_unsubscribed(message)
        else:
            self._on_error(message, events)
        self._reconcile()
        return events

    # Output ------------------------------------------------------------------------

    def data_to_send(self) -> list[str]:
        """Commands to write to the socket, in order, as JSON text (then forgotten)."""
        out, self._outbox = self._outbox, []
        return out

    # Internals ---------------------------------------------------------------------

    def _reset(self) -> None:
        self._open = False
        self._sid = None
        self._confirmed = frozenset()
        self._in_flight = None
        self._side.clear()
        self._rejected.clear()
        self._reconnect_pending = False
        self._resubscribes = 0
        self._outbox.clear()

    def _on_subscribed(self, message: Subscribed, events: list[Event]) -> None:
        cmd = self._in_flight
        if cmd is None or cmd.kind != "subscribe" or message.id != cmd.id:
            return  # an echo of something we did not ask for (or already gave up on)
        if message.channel != TICKER_CHANNEL:
            return
        self._in_flight = None
        self._sid = message.sid
        self._confirmed = cmd.tickers
        self._resubscribes = 0
        events.append(SubscriptionConfirmed(sid=message.sid, market_tickers=cmd.tickers))

    def _on_ok(self, message: Ok, events: list[Event]) -> None:
        cmd = self._in_flight
        if cmd is None or cmd.kind not in ("add", "delete") or message.id != cmd.id:
            return
        self._in_flight = None
        if message.market_tickers is not None:
            self._confirmed = frozenset(message.market_tickers)
        elif cmd.kind == "add":
            self._confirmed |= cmd.tickers
        else:
            self._confirmed -= cmd.tickers
        assert self._sid is not None  # add/delete are only sent with a sid
        events.append(SubscriptionConfirmed(sid=self._sid, market_tickers=self._confirmed))

    def _on_unsubscribed(self, message: Unsubscribed) -> None:
        if message.sid != self._sid:
            return
        cmd = self._in_flight
        if cmd is not None and cmd.kind == "unsubscribe":
            self._in_flight = None
        self._sid = None
        self._confirmed = frozenset()

    def _on_error(self, message: ErrorMsg, events: list[Event]) -> None:
        if message.id is not None and self._side.pop(message.id, None) is not None:
            events.append(self._error_event(message))
            return
        cmd = self._in_flight
        ours = cmd is not None and message.id in (cmd.id, None)
        events.append(self._error_event(message))
        if message.terminal:
            if not ours and self._sid is None and cmd is None:
                return  # nothing of ours to lose
            self._sid = None
            self._confirmed = frozenset()
            self._in_flight = None
            self._resubscribes += 1
            if self._resubscribes > MAX_RESUBSCRIBES:
                self._give_up(events, f"error code {message.code} after resubscribing")
            return
        if not ours or cmd is None:
            return
        self._in_flight = None
        if message.market_ticker is not None and message.market_ticker in cmd.tickers:
            self._rejected.add(message.market_ticker)
        elif cmd.kind == "unsubscribe" and message.code == 7:
            # "Unknown subscription ID": the server no longer has it; neither do we.
            self._sid = None
            self._confirmed = frozenset()
        else:
            self._give_up(events, f"error code {message.code} to {cmd.kind}")

    def _give_up(self, events: list[Event], reason: str) -> None:
        """Stop using this connection; the adapter reconnects with backoff."""
        self._reconnect_pending = True
        self._in_flight = None
        events.append(ReconnectRequired(reason=reason))

    @staticmethod
    def _error_event(message: ErrorMsg) -> FeedError:
        return FeedError(
            code=message.code,
            msg=message.msg,
            market_ticker=message.market_ticker,
            terminal=message.terminal,
        )

    def _reconcile(self) -> None:
        if not self._open or self._in_flight is not None or self._reconnect_pending:
            return
        target = self._desired - self._rejected
        if self._sid is None:
            if target:
                cmd = self._command("subscribe", target)
                self._send(
                    cmd,
                    {"channels": [TICKER_CHANNEL], "market_tickers": sorted(cmd.tickers)},
                    "subscribe",
                )
            return
        if not target:
            cmd = self._command("unsubscribe", self._confirmed)
            self._send(cmd, {"sids": [self._sid]}, "unsubscribe")
            return
        add = target - self._confirmed
        delete = self._confirmed - target
        if add or delete:
            kind, tickers = ("add", add) if add else ("delete", delete)
            cmd = self._command(kind, tickers)
            params = {
                "sids": [self._sid],
                "market_tickers": sorted(tickers),
                "action": "add_markets" if kind == "add" else "delete_markets",
            }
            self._send(cmd, params, "update_subscription")

    def _command(self, kind: str, tickers: frozenset[str]) -> _Command:
        cmd = _Command(id=self._next_id, kind=kind, tickers=tickers)
        self._next_id += 1
        return cmd

    def _send(self, cmd: _Command, params: dict[str, Any], name: str) -> None:
        self._in_flight = cmd
        self._outbox.append(json.dumps({"id": cmd.id, "cmd": name, "params": params}))
