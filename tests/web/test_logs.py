"""Log format and request ids: formatters, the middleware over the real app, configuration."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from graph.sim import Simulator
from graph.web.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    incoming_id,
    request_id,
)
from tests.e2e import SUNDAY_NOON_UTC, gql, running_app

GENERATED = re.compile(r"[0-9a-f]{32}")


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("graph.x", logging.WARNING, __file__, 1, message, args, exc_info)


def test_json_lines_carry_the_fields_and_the_request_id() -> None:
    """One object per line: ts, level, logger, message; request_id inside a request only."""
    outside = json.loads(JsonFormatter().format(record("Matched league=%s", "NBA")))
    token = request_id.set("req-1")
    try:
        inside = json.loads(JsonFormatter().format(record("Failed", exc=True)))
    finally:
        request_id.reset(token)
    assert outside.keys() == {"ts", "level", "logger", "message"}
    assert (outside["level"], outside["logger"], outside["message"]) == (
        "WARNING",
        "graph.x",
        "Matched league=NBA",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", outside["ts"])
    assert inside["request_id"] == "req-1"
    assert inside["exception"].startswith("Traceback") and "ValueError: boom" in inside["exception"]
    assert "\n" not in JsonFormatter().format(record("Failed", exc=True))


def test_json_reuses_exception_text_and_stack_info() -> None:
    """A record formatted before keeps its exception text; stack_info is included."""
    rec = record("x")
    rec.exc_text = "Traceback: earlier"
    rec.stack_info = "Stack (most recent call last): here"
    entry = json.loads(JsonFormatter().format(rec))
    assert entry["exception"] == "Traceback: earlier"
    assert entry["stack"].endswith("here")


def test_text_lines_append_the_request_id_before_any_traceback() -> None:
    """key=value lines get request_id=... on their first line."""
    assert TextFormatter().format(record("plain")).endswith("logger=graph.x plain")
    token = request_id.set("abc")
    try:
        line = TextFormatter().format(record("Failed", exc=True))
    finally:
        request_id.reset(token)
    first, rest = line.split("\n", 1)
    assert first.endswith("level=WARNING logger=graph.x Failed request_id=abc")
    assert rest.startswith("Traceback")


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        pytest.param(b"0b7c9f3e-1111-2222-3333-444455556666", True, id="uuid"),
        pytest.param(b"Root=1-5759e988;Parent=53995c3f", False, id="semicolons"),
        pytest.param(b"abc.DEF_123:x+/=", True, id="base64ish"),
        pytest.param(b"a b", False, id="space"),
        pytest.param(b"x\nlevel=ERROR", False, id="log-injection"),
        pytest.param(b"", False, id="empty"),
        pytest.param(b"x" * 129, False, id="too-long"),
        pytest.param("caf\u00e9".encode("latin-1"), False, id="non-ascii"),
    ],
)
def test_incoming_ids_are_kept_only_when_sane(header: bytes, kept: bool) -> None:
    """A client's X-Request-ID is used only if it cannot forge a log field or header."""
    got = incoming_id({"headers": [(b"host", b"x"), (b"x-request-id", header)]})
    if kept:
        assert got == header.decode()
    else:
        assert GENERATED.fullmatch(got)


def test_without_a_header_an_id_is_made() -> None:
    """No X-Request-ID: a fresh random id, different each time."""
    one, two = incoming_id({"headers": []}), incoming_id({})
    assert GENERATED.fullmatch(one) and GENERATED.fullmatch(two) and one != two


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """JSON lines of everything ``graph.*`` logs during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("graph")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


async def test_request_ids_are_echoed_and_tag_the_requests_log_lines(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    """The app echoes a sane X-Request-ID (or its own) and its log lines carry it."""
    sim = Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)
    query = '{ games(league: NBA, date: "2026-11-22") { prediction { edge } } }'
    async with sim, running_app(sim, tmp_path) as (_, url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            given = await http.post(
                "/graphql", json={"query": query}, headers={"X-Request-ID": "trace-42"}
            )
            made = await http.get("/healthz", headers={"X-Request-ID": "bad id"})
            await gql(http, query)
        async with connect(
            url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers={"X-Request-ID": "socket-7"},
        ) as ws:
            assert ws.response is not None
            socket_id = ws.response.headers["x-request-id"]
    assert given.headers["x-request-id"] == "trace-42"
    assert GENERATED.fullmatch(made.headers["x-request-id"])
    assert socket_id == "socket-7"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    predicted = [r for r in lines if r["message"].startswith("Generating predictions for")]
    assert [r["request_id"] for r in predicted][:1] == ["trace-42"]
    assert len(predicted) == 2 and GENERATED.fullmatch(predicted[1]["request_id"])
    assert all("request_id" not in r for r in lines if r["message"].startswith("Starting"))


def test_configure_logging_gives_every_logger_one_format() -> None:
    """One root handler in the chosen format; uvicorn's loggers propagate to it."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    access = logging.getLogger("uvicorn.access")
    saved_access = (access.handlers[:], access.propagate, access.level)
    access.addHandler(logging.NullHandler())
    access.propagate = False
    stream = io.StringIO()
    try:
        configure_logging("debug", "json", stream)
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
        logging.getLogger("graph.test").debug("hello key=%s", "v")
        logging.getLogger("httpx").info("HTTP Request: GET ...")
        handlers, level = root.handlers[:], root.level
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        access.handlers[:], access.propagate = saved_access[:2]
        access.setLevel(saved_access[2])
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    assert len(handlers) == 1 and isinstance(handlers[0].formatter, JsonFormatter)
    assert level == logging.DEBUG
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["logger"], r["message"]) for r in lines] == [
        ("uvicorn.access", '127.0.0.1 - "GET / HTTP/1.1" 200'),
        ("graph.test", "hello key=v"),
    ]


def test_configure_logging_text_is_the_default() -> None:
    """Without a format the lines are key=value text."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        configure_logging(stream=stream)
        logging.getLogger("graph.test").info("plain")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    assert stream.getvalue().rstrip().endswith("level=INFO logger=graph.test plain")
