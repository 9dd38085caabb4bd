"""The Kalshi WebSocket feed protocol, sans I/O: the subscription state machine.

How it works
------------
Frames are parsed by :mod:`graph.kalshi.messages`.

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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graph.kalshi.messages import (
    ErrorMsg,
    Ok,
    OkList,
    Subscribed,
    Ticker,
    Unknown,
    Unsubscribed,
    parse_message,
)

TICKER_CHANNEL = "ticker"
# Fresh subscribes that may fail terminally in a row before we ask for a new connection.
MAX_RESUBSCRIBES = 3

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
