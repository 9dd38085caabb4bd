"""Bearer tokens: the check itself, HTTP (401) and WebSocket (close 4403), open paths, CORS."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from graph.sim import Simulator
from graph.web.auth import TokenCheck
from tests.e2e import SUNDAY_NOON_UTC, app_on, running_app

TOKENS = ["tok-alpha-1234567890", "tok-beta-0987654321"]
QUERY = {"query": "{ __typename }"}


def fixed_sim() -> Simulator:
    return Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param(f"Bearer {TOKENS[0]}", True, id="first"),
        pytest.param(f"bearer {TOKENS[1]}", True, id="second-any-case-scheme"),
        pytest.param(f"  Bearer   {TOKENS[0]}  ", True, id="spaces"),
        pytest.param(TOKENS[0], False, id="no-scheme"),
        pytest.param(f"Basic {TOKENS[0]}", False, id="other-scheme"),
        pytest.param("Bearer ", False, id="empty"),
        pytest.param(f"Bearer {TOKENS[0][:-1]}", False, id="prefix"),
        pytest.param(f"Bearer {TOKENS[0]}x", False, id="longer"),
        pytest.param(None, False, id="missing"),
        pytest.param(42, False, id="not-a-string"),
    ],
)
def test_authorization_values(value: object, ok: bool) -> None:
    """Only `Bearer <configured token>` passes."""
    assert TokenCheck(TOKENS).authorization_ok(value) is ok


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        pytest.param({"Authorization": f"Bearer {TOKENS[0]}"}, True, id="apollo-style"),
        pytest.param({"authorization": f"Bearer {TOKENS[1]}"}, True, id="lower-case-key"),
        pytest.param({"AUTHORIZATION": f"Bearer {TOKENS[1]}", "x": 1}, True, id="upper-case-key"),
        pytest.param({"Authorization": "Bearer nope"}, False, id="wrong"),
        pytest.param({}, False, id="missing"),
        pytest.param(None, False, id="no-payload"),
        pytest.param(
            {"authorization": f"Bearer {TOKENS[0]}", "Authorization": "Bearer nope"},
            False,
            id="ambiguous",
        ),
        pytest.param({"Authorization": ["Bearer", TOKENS[0]]}, False, id="not-a-string"),
    ],
)
def test_connection_params(params: object, ok: bool) -> None:
    """connection_init payloads carry the token under `authorization` in any case."""
    assert TokenCheck(TOKENS).connection_params_ok(params) is ok


WORD = st.text(st.characters(blacklist_categories=["Zs", "Cc", "Zl", "Zp", "Cs"]), min_size=1)


@given(WORD, st.lists(WORD, max_size=3))
def test_only_configured_tokens_pass(candidate: str, tokens: list[str]) -> None:
    """A bearer value passes exactly when it is one of the tokens."""
    assert TokenCheck(tokens).authorization_ok(f"Bearer {candidate}") is (candidate in tokens)


def test_each_token_is_its_own_principal_and_never_the_token() -> None:
    """principal() names which configured token a request holds (its position), the same
    over HTTP and in connection_init; no good token is None; with access control off,
    everyone is the one principal ""."""
    check = TokenCheck(TOKENS)
    first, second = (check.principal(f"Bearer {t}") for t in TOKENS)
    assert (first, second) == ("token-0", "token-1")
    assert check.principal("Bearer nope") is None and check.principal(None) is None
    params = {"authorization": f"Bearer {TOKENS[1]}"}
    assert check.connection_principal(params) == second
    assert check.connection_principal({"x": 1}) is None
    assert all(t not in str(p) for t in TOKENS for p in (first, second))
    off = TokenCheck([])
    assert off.principal(None) == off.principal(f"Bearer {TOKENS[0]}") == ""
    assert off.connection_principal(None) == ""


def test_off_without_tokens_and_never_shows_them() -> None:
    """No tokens: everything passes; a repr counts tokens but never shows one."""
    assert TokenCheck([]).connection_params_ok(None)
    assert not TokenCheck([]).enabled
    assert TOKENS[0] not in repr(TokenCheck(TOKENS))


async def test_http_needs_a_token_when_configured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without or with a wrong token: 401, a GraphQL-shaped error and a Bearer challenge."""
    caplog.set_level(logging.DEBUG)
    async with fixed_sim() as sim, app_on(sim, tmp_path, graph_api_tokens=TOKENS) as client:
        missing = await client.post("/graphql", json=QUERY)
        wrong = await client.post("/graphql", json=QUERY, headers={"authorization": "Bearer wrong"})
        good = await client.post(
            "/graphql", json=QUERY, headers={"authorization": f"Bearer {TOKENS[1]}"}
        )
        via_get = await client.get("/graphql", params={"query": "{ __typename }"})
    assert missing.status_code == wrong.status_code == via_get.status_code == 401
    assert missing.json() == {
        "errors": [
            {
                "message": "a valid API token is required: send Authorization: Bearer <token>",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert missing.headers["www-authenticate"] == 'Bearer realm="kalshi-graph"'
    assert wrong.headers["www-authenticate"].endswith('error="invalid_token"')
    assert good.json() == {"data": {"__typename": "Query"}}
    assert not any(t in caplog.text for t in TOKENS)


async def test_graphiql_and_probes_stay_open(tmp_path: Path) -> None:
    """The GraphiQL page, its assets and /healthz load without a token."""
    async with fixed_sim() as sim, app_on(sim, tmp_path, graph_api_tokens=TOKENS) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        asset = await client.get("/graphiql-assets/graphiql/graphiql.min.js")
        health = await client.get("/healthz")
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert asset.status_code == 200
    assert health.status_code == 200


async def test_cors_preflight_allows_the_authorization_header(tmp_path: Path) -> None:
    """A listed origin may send Authorization; preflights need no token; 401s carry CORS."""
    origin = "http://localhost:5173"
    async with (
        fixed_sim() as sim,
        app_on(sim, tmp_path, graph_api_tokens=TOKENS, cors_origins=[origin]) as client,
    ):
        preflight = await client.options(
            "/graphql",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        refused = await client.post("/graphql", json=QUERY, headers={"origin": origin})
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == origin
    assert refused.headers["access-control-expose-headers"].lower() == "x-request-id"
    assert refused.headers["x-request-id"]


async def _init(url: str, payload: object, protocol: str = "graphql-transport-ws") -> list[str]:
    """Open a socket, send connection_init with ``payload``; the types that came back, then
    the close."""
    got: list[str] = []
    async with connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[Subprotocol(protocol)]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            while True:
                got.append(json.loads(await ws.recv())["type"])
                if got[-1] == "connection_ack":
                    return got
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return [*got, f"closed {closed.rcvd.code}"]


@pytest.mark.parametrize(
    ("protocol", "refusal"),
    [
        pytest.param("graphql-transport-ws", ["closed 4403"], id="graphql-transport-ws"),
        pytest.param("graphql-ws", ["connection_error", "closed 4403"], id="legacy-graphql-ws"),
    ],
)
async def test_websocket_needs_the_token_in_connection_init(
    tmp_path: Path, protocol: str, refusal: list[str]
) -> None:
    """A good token in connection_init gets the ack; a wrong or missing one a 4403 close."""
    async with fixed_sim() as sim, running_app(sim, tmp_path, graph_api_tokens=TOKENS) as (_, url):
        good = await _init(url, {"Authorization": f"Bearer {TOKENS[0]}"}, protocol)
        lower = await _init(url, {"authorization": f"Bearer {TOKENS[1]}"}, protocol)
        wrong = await _init(url, {"Authorization": "Bearer nope"}, protocol)
        missing = await _init(url, {}, protocol)
        absent = await _init(url, None, protocol)
    assert good == lower == ["connection_ack"]
    assert wrong == missing == absent == refusal
