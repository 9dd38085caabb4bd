from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from graph.errors import UpstreamProtocolError
from graph.kalshi.messages import (
    TERMINAL_ERROR_CODES,
    OkList,
    Ticker,
    Unknown,
)
from graph.kalshi.protocol import (
    MAX_RESUBSCRIBES,
    FeedError,
    FeedProtocol,
    ReconnectRequired,
    SubscriptionConfirmed,
)

_DOC = json.loads((Path(__file__).parents[1] / "data" / "kalshi_ws_frames.json").read_text("utf-8"))
FRAMES: dict[str, str] = {f["name"]: f["text"] for f in _DOC["frames"]}
FRAMES["ticker_legacy"] = _DOC["legacy_ticker"]["text"]


def frame(name: str, msg: dict[str, Any] | None = None, **top: Any) -> str:
    """A documented frame with some top-level (and ``msg``) values replaced."""
    data = json.loads(FRAMES[name])
    data.update(top)
    if msg is not None:
        data["msg"] = {**data["msg"], **msg}
    return json.dumps(data)


def subscribed(cmd_id: int, sid: int) -> str:
    return frame("subscribed", id=cmd_id, msg={"channel": "ticker", "sid": sid})


def ok(cmd_id: int, sid: int, tickers: list[str]) -> str:
    return frame("ok_update", id=cmd_id, sid=sid, msg={"market_tickers": tickers})


def error(cmd_id: int | None, code: int, **extra: Any) -> str:
    return frame("error", id=cmd_id, msg={"code": code, "msg": "x", **extra})


def sent(proto: FeedProtocol) -> list[dict[str, Any]]:
    return [json.loads(t) for t in proto.data_to_send()]


def opened(*tickers: str, sid: int = 7) -> FeedProtocol:
    """A protocol on an open connection whose subscription covers ``tickers``."""
    proto = FeedProtocol()
    proto.want(set(tickers))
    proto.connection_opened()
    (cmd,) = sent(proto)
    proto.receive_text(subscribed(cmd["id"], sid))
    return proto


# --- commands ---------------------------------------------------------------------


def test_subscribe_has_the_documented_shape_and_ids_start_at_1() -> None:
    """Our subscribe equals the documented one (same keys, channel, filter), id 1."""
    docs = json.loads(FRAMES["cmd_subscribe"])
    proto = FeedProtocol()
    proto.want(docs["params"]["market_tickers"])
    proto.connection_opened()
    (cmd,) = sent(proto)
    cmd["params"]["market_tickers"].sort()
    docs["params"]["market_tickers"].sort()
    assert cmd == docs


def test_update_subscription_has_the_documented_shape() -> None:
    """add_markets carries one sid, the new tickers and the action, as documented."""
    docs = json.loads(FRAMES["cmd_update_subscription"])
    proto = opened("OLD", sid=456)
    proto.want({"OLD", "NEW-1", "NEW-2"})
    (cmd,) = sent(proto)
    assert cmd == {**docs, "id": 2}


def test_unsubscribe_and_list_subscriptions_have_the_documented_shape() -> None:
    """unsubscribe lists our sid; list_subscriptions has no params."""
    proto = opened("A", sid=1)
    proto.send_list_subscriptions()
    proto.want(set())
    assert sent(proto) == [
        {**json.loads(FRAMES["cmd_list_subscriptions"]), "id": 2},
        {**json.loads(FRAMES["cmd_unsubscribe"]), "id": 3, "params": {"sids": [1]}},
    ]


# --- the state machine ------------------------------------------------------------


def test_nothing_is_sent_before_the_connection_opens() -> None:
    """want() on a closed connection only records the desire."""
    proto = FeedProtocol()
    proto.want({"A"})
    assert proto.data_to_send() == []
    assert proto.desired == {"A"}


def test_nothing_is_subscribed_while_nothing_is_wanted() -> None:
    """An open connection with an empty desired set sends nothing (never the firehose)."""
    proto = FeedProtocol()
    proto.connection_opened()
    proto.want(set())
    assert proto.data_to_send() == []


def test_subscribed_confirms_the_requested_tickers() -> None:
    """The subscribed reply records the sid and reports the confirmed markets."""
    proto = FeedProtocol()
    proto.want({"A", "B"})
    proto.connection_opened()
    (cmd,) = sent(proto)
    events = proto.receive_text(subscribed(cmd["id"], 9))
    assert events == [SubscriptionConfirmed(sid=9, market_tickers=frozenset({"A", "B"}))]
    assert (proto.sid, proto.confirmed, proto.busy) == (9, frozenset({"A", "B"}), False)


def test_want_during_subscribe_in_flight_waits_then_sends_the_difference() -> None:
    """A want() while subscribe is unanswered sends nothing until the reply, then add/delete."""
    proto = FeedProtocol()
    proto.want({"A", "B"})
    proto.connection_opened()
    (cmd,) = sent(proto)
    proto.want({"B", "C"})
    assert proto.data_to_send() == []
    proto.receive_text(subscribed(cmd["id"], 4))
    (add,) = sent(proto)
    assert add["params"] == {"sids": [4], "market_tickers": ["C"], "action": "add_markets"}
    proto.receive_text(ok(add["id"], 4, ["A", "B", "C"]))
    (delete,) = sent(proto)
    assert delete["params"] == {"sids": [4], "market_tickers": ["A"], "action": "delete_markets"}
    events = proto.receive_text(ok(delete["id"], 4, ["B", "C"]))
    assert events == [SubscriptionConfirmed(sid=4, market_tickers=frozenset({"B", "C"}))]
    assert proto.data_to_send() == []
    assert [cmd["id"], add["id"], delete["id"]] == [1, 2, 3]


def test_ok_without_ticker_list_applies_the_delta() -> None:
    """With skip_ticker_ack the ok has no list: the requested change is applied."""
    proto = opened("A")
    proto.want({"A", "B"})
    (add,) = sent(proto)
    proto.receive_text(json.dumps({"id": add["id"], "sid": 7, "seq": 1, "type": "ok"}))
    assert proto.confirmed == {"A", "B"}


def test_replies_with_other_ids_are_ignored() -> None:
    """Echoes with ids we are not waiting for change nothing."""
    proto = FeedProtocol()
    proto.want({"A"})
    proto.connection_opened()
    (cmd,) = sent(proto)
    assert proto.receive_text(subscribed(cmd["id"] + 5, 3)) == []
    assert proto.receive_text(ok(cmd["id"], 3, ["Z"])) == []
    assert (proto.sid, proto.busy) == (None, True)


def test_empty_desired_set_unsubscribes_and_a_later_want_subscribes_afresh() -> None:
    """Last ticker gone -> unsubscribe; wanting again -> a new subscribe."""
    proto = opened("A", sid=7)
    proto.want(set())
    (unsub,) = sent(proto)
    assert unsub["cmd"] == "unsubscribe"
    proto.want({"B"})
    assert proto.data_to_send() == []  # wait for the unsubscribe reply
    proto.receive_text(frame("unsubscribed", id=unsub["id"], sid=7))
    (sub,) = sent(proto)
    assert sub["cmd"] == "subscribe"
    assert sub["params"]["market_tickers"] == ["B"]


def test_reconnect_resubscribes_everything_desired_with_a_fresh_id() -> None:
    """After connection loss and reopen, one subscribe carries every desired ticker."""
    proto = opened("A", "B")
    proto.want({"A", "B", "C"})
    proto.connection_lost()
    assert proto.data_to_send() == []
    assert (proto.sid, proto.confirmed, proto.is_open) == (None, frozenset(), False)
    proto.connection_opened()
    (sub,) = sent(proto)
    assert sub["cmd"] == "subscribe"
    assert sub["id"] == 3
    assert sub["params"]["market_tickers"] == ["A", "B", "C"]


@pytest.mark.parametrize("code", [10, 17, 25])
def test_terminal_errors_resubscribe(code: int) -> None:
    """Codes 10, 17, 25 end the subscription: report it and subscribe afresh."""
    proto = opened("A", "B")
    events = proto.receive_text(error(None, code))
    assert events == [FeedError(code=code, msg="x", market_ticker=None, terminal=True)]
    (sub,) = sent(proto)
    assert sub["cmd"] == "subscribe"
    assert sub["params"]["market_tickers"] == ["A", "B"]
    assert proto.sid is None


def test_repeated_terminal_errors_ask_for_a_reconnect() -> None:
    """A subscribe that keeps failing terminally stops and asks for a new connection."""
    proto = FeedProtocol()
    proto.want({"A"})
    proto.connection_opened()
    events: list[object] = []
    for _ in range(MAX_RESUBSCRIBES + 1):
        (cmd,) = sent(proto)
        events = list(proto.receive_text(error(cmd["id"], 17)))
    assert isinstance(events[-1], ReconnectRequired)
    assert proto.data_to_send() == []


def converge(proto: FeedProtocol, server: FakeKalshi) -> None:
    """Deliver every queued command to ``server`` and its reply back, until both are quiet."""
    wire = proto.data_to_send()
    while wire:
        proto.receive_text(server.handle(wire.pop(0)))
        wire.extend(proto.data_to_send())


# Which desired set each command needs before and after, to be the one sent.
_COMMANDS = {
    "subscribe": (frozenset(), frozenset({"A", "B"})),
    "add": (frozenset({"A"}), frozenset({"A", "B"})),
    "delete": (frozenset({"A", "B"}), frozenset({"A"})),
}
_NON_TERMINAL_CODES = [
    pytest.param(27, id="too-many-requests"),
    pytest.param(18, id="command-timeout"),
    pytest.param(26, id="market-limit"),
    pytest.param(16, id="market-not-found-unnamed"),
    pytest.param(6, id="already-subscribed"),
    pytest.param(11, id="invalid-parameter"),
    pytest.param(99, id="unknown-code"),
]


@pytest.mark.parametrize("code", _NON_TERMINAL_CODES)
@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_command_errors_ask_for_a_reconnect_that_restores_the_desired_set(
    command: str, code: int
) -> None:
    """A non-terminal error to our command: reconnect, quiet until then, then the desired set."""
    before, after = _COMMANDS[command]
    server = FakeKalshi()
    proto = FeedProtocol()
    proto.connection_opened()
    proto.want(before)
    converge(proto, server)
    proto.want(after)
    (cmd,) = sent(proto)
    assert cmd["cmd"] == ("subscribe" if command == "subscribe" else "update_subscription")
    events = proto.receive_text(error(cmd["id"], code))
    assert events == [
        FeedError(code=code, msg="x", market_ticker=None, terminal=False),
        ReconnectRequired(reason=f"error code {code} to {command}"),
    ]
    assert not proto.busy
    proto.want(after | {"C"})
    assert proto.data_to_send() == []  # nothing more on a connection we gave up on
    proto.connection_lost()
    server = FakeKalshi()  # a new connection: the server holds nothing of ours
    proto.connection_opened()
    converge(proto, server)
    assert server.markets == proto.confirmed == after | {"C"}


def test_error_without_id_answers_the_command_in_flight() -> None:
    """An id-less rate-limit error while subscribe is unanswered is taken as its answer."""
    proto = FeedProtocol()
    proto.want({"A"})
    proto.connection_opened()
    sent(proto)
    events = proto.receive_text(error(None, 27))
    assert events[-1] == ReconnectRequired(reason="error code 27 to subscribe")
    assert not proto.busy


def test_error_without_id_and_nothing_in_flight_is_only_reported() -> None:
    """An id-less non-terminal error while idle keeps the subscription and sends nothing."""
    proto = opened("A", sid=3)
    assert proto.receive_text(error(None, 27)) == [
        FeedError(code=27, msg="x", market_ticker=None, terminal=False)
    ]
    assert proto.data_to_send() == []
    assert (proto.sid, proto.confirmed) == (3, frozenset({"A"}))


def test_unsubscribe_error_asks_for_a_reconnect() -> None:
    """A rate-limited unsubscribe: reconnect, and the new connection subscribes to nothing."""
    proto = opened("A")
    proto.want(set())
    (unsub,) = sent(proto)
    events = proto.receive_text(error(unsub["id"], 27))
    assert events[-1] == ReconnectRequired(reason="error code 27 to unsubscribe")
    proto.connection_lost()
    proto.connection_opened()
    assert proto.data_to_send() == []


def test_market_specific_error_drops_that_market_and_keeps_the_rest() -> None:
    """Error 16 naming a market: subscribe again without it."""
    proto = FeedProtocol()
    proto.want({"A", "GONE"})
    proto.connection_opened()
    (cmd,) = sent(proto)
    proto.receive_text(error(cmd["id"], 16, market_ticker="GONE"))
    (retry,) = sent(proto)
    assert retry["params"]["market_tickers"] == ["A"]


def test_unknown_sid_on_unsubscribe_forgets_the_subscription() -> None:
    """Error 7 to our unsubscribe means the server has no such sid: we drop it too."""
    proto = opened("A")
    proto.want(set())
    (unsub,) = sent(proto)
    proto.receive_text(error(unsub["id"], 7))
    assert (proto.sid, proto.busy) == (None, False)


def test_tickers_and_unknown_messages_are_passed_through() -> None:
    """Ticker and unknown-type messages come back as events unchanged."""
    proto = opened("FED-23DEC-T3.00")
    (ticker,) = proto.receive_text(FRAMES["ticker"])
    (trade,) = proto.receive_text(FRAMES["trade"])
    assert isinstance(ticker, Ticker)
    assert ticker.update.market_ticker == "FED-23DEC-T3.00"
    assert isinstance(trade, Unknown)


def test_list_subscriptions_answer_is_an_event() -> None:
    """The ok-list reply to our list_subscriptions is returned as OkList."""
    proto = opened("A")
    proto.send_list_subscriptions()
    (cmd,) = sent(proto)
    (event,) = proto.receive_text(frame("ok_list", id=cmd["id"]))
    assert isinstance(event, OkList)
    assert proto.busy is False


def test_malformed_frame_raises_and_leaves_state_alone() -> None:
    """receive_text raises on garbage and the in-flight command is still awaited."""
    proto = FeedProtocol()
    proto.want({"A"})
    proto.connection_opened()
    (cmd,) = sent(proto)
    with pytest.raises(UpstreamProtocolError):
        proto.receive_text("{oops")
    assert proto.busy
    proto.receive_text(subscribed(cmd["id"], 2))
    assert proto.sid == 2


class FakeKalshi:
    """Answers our commands the way §4.3 documents, from the documented frame shapes."""

    def __init__(self) -> None:
        self.sid: int | None = None
        self.markets: set[str] = set()
        self._next_sid = 1

    def handle(self, text: str) -> str:
        cmd = json.loads(text)
        params = cmd.get("params", {})
        if cmd["cmd"] == "subscribe":
            assert params["channels"] == ["ticker"]
            assert params["market_tickers"], "never subscribe to the firehose"
            assert self.sid is None, "one ticker subscription per connection"
            self.sid, self._next_sid = self._next_sid, self._next_sid + 1
            self.markets = set(params["market_tickers"])
            return subscribed(cmd["id"], self.sid)
        if cmd["cmd"] == "update_subscription":
            assert params["sids"] == [self.sid]
            if params["action"] == "add_markets":
                self.markets |= set(params["market_tickers"])
            else:
                self.markets -= set(params["market_tickers"])
            return ok(cmd["id"], params["sids"][0], sorted(self.markets))
        assert cmd["cmd"] == "unsubscribe"
        assert params["sids"] == [self.sid]
        sid, self.sid, self.markets = self.sid, None, set()
        return frame("unsubscribed", id=cmd["id"], sid=sid)


_ops = st.lists(
    st.one_of(st.frozensets(st.sampled_from("ABCDE"), max_size=4), st.just("deliver")),
    max_size=30,
)


@settings(max_examples=200)
@given(_ops)
def test_upstream_converges_to_the_desired_set(ops: list[frozenset[str] | str]) -> None:
    """Any interleaving of want() and replies ends with upstream == desired."""
    server = FakeKalshi()
    proto = FeedProtocol()
    proto.connection_opened()
    wire: list[str] = []
    for op in ops:
        if op == "deliver":
            if wire:
                proto.receive_text(server.handle(wire.pop(0)))
        else:
            assert isinstance(op, frozenset)
            proto.want(op)
        wire.extend(proto.data_to_send())
    while wire:
        proto.receive_text(server.handle(wire.pop(0)))
        wire.extend(proto.data_to_send())
    assert server.markets == proto.desired
    assert proto.confirmed == proto.desired
    assert (server.sid is None) == (not proto.desired)


_FAILURE_CODES = [6, 10, 11, 16, 17, 18, 25, 26, 27, 99]
_ops_with_errors = st.lists(
    st.one_of(
        st.frozensets(st.sampled_from("ABCDE"), max_size=4),
        st.just("deliver"),
        st.sampled_from(_FAILURE_CODES),
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(_ops_with_errors)
def test_upstream_converges_despite_command_errors(ops: list[frozenset[str] | str | int]) -> None:
    """Errors to any command (an int op fails the next one) never stall: upstream == desired."""
    server = FakeKalshi()
    proto = FeedProtocol()
    proto.connection_opened()
    wire: list[str] = []
    fail_next: list[int] = []
    reconnects = 0

    def deliver() -> None:
        nonlocal server, wire, reconnects
        text = wire.pop(0)
        if fail_next:
            code = fail_next.pop(0)
            if code in TERMINAL_ERROR_CODES:  # the server ended the subscription
                server.sid, server.markets = None, set()
            reply = error(json.loads(text)["id"], code)
        else:
            reply = server.handle(text)
        if any(isinstance(e, ReconnectRequired) for e in proto.receive_text(reply)):
            reconnects += 1
            proto.connection_lost()
            server, wire = FakeKalshi(), []
            proto.connection_opened()

    for op in ops:
        if op == "deliver":
            if wire:
                deliver()
        elif isinstance(op, int):
            fail_next.append(op)
        else:
            assert isinstance(op, frozenset)
            proto.want(op)
        wire.extend(proto.data_to_send())
    while wire:
        deliver()
        wire.extend(proto.data_to_send())
    assert server.markets == proto.desired
    assert proto.confirmed == proto.desired
    assert (server.sid is None) == (not proto.desired)
    assert reconnects <= sum(isinstance(op, int) for op in ops)


def test_terminal_error_with_nothing_subscribed_sends_nothing() -> None:
    """A stray terminal error while we hold no subscription is reported, nothing is sent."""
    proto = FeedProtocol()
    proto.connection_opened()
    (event,) = proto.receive_text(error(None, 10))
    assert isinstance(event, FeedError)
    assert proto.data_to_send() == []


def test_error_to_list_subscriptions_leaves_the_subscription_alone() -> None:
    """An error answering list_subscriptions is reported and changes no ticker state."""
    proto = opened("A", sid=3)
    proto.send_list_subscriptions()
    (cmd,) = sent(proto)
    (event,) = proto.receive_text(error(cmd["id"], 5))
    assert event == FeedError(code=5, msg="x", market_ticker=None, terminal=False)
    assert (proto.sid, proto.confirmed) == (3, frozenset({"A"}))


def test_unsubscribed_for_another_sid_is_ignored() -> None:
    """An unsubscribed echo for a sid that is not ours keeps our subscription."""
    proto = opened("A", sid=3)
    proto.receive_text(frame("unsubscribed", id=None, sid=99))
    assert proto.sid == 3
