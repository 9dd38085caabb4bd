"""Error codes, masking with correlation ids, one log line per error, HTTP negotiation."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError, GraphQLSyntaxError, Source

from graph.api import errors as errorpolicy
from graph.errors import (
    FeedFatalError,
    InvalidInput,
    OperationTimeout,
    RateLimited,
    Unauthenticated,
    UnknownMarket,
    UpstreamAuthError,
    UpstreamUnavailable,
)


def wrapped(exc: Exception, path: list[str | int] | None = None) -> GraphQLError:
    return GraphQLError(str(exc), original_error=exc, path=path)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(wrapped(InvalidInput("bad")), "BAD_USER_INPUT", id="invalid-input"),
        pytest.param(wrapped(UnknownMarket("no")), "UNKNOWN_MARKET", id="unknown-market"),
        pytest.param(wrapped(UpstreamUnavailable("x")), "UPSTREAM_UNAVAILABLE", id="unavailable"),
        pytest.param(wrapped(RateLimited("x")), "RATE_LIMITED", id="rate-limited"),
        pytest.param(wrapped(FeedFatalError("x")), "UPSTREAM_UNAVAILABLE", id="feed-fatal"),
        pytest.param(
            wrapped(UpstreamAuthError("x", status_code=401)), "UPSTREAM_AUTH_FAILED", id="auth"
        ),
        pytest.param(wrapped(Unauthenticated("x")), "UNAUTHENTICATED", id="unauthenticated"),
        pytest.param(wrapped(OperationTimeout("x")), "TIMEOUT", id="timeout"),
        pytest.param(wrapped(KeyError("k")), "INTERNAL_SERVER_ERROR", id="unexpected"),
        pytest.param(
            GraphQLSyntaxError(Source("{"), 1, "Expected Name"), "GRAPHQL_PARSE_FAILED", id="syntax"
        ),
        pytest.param(
            GraphQLSyntaxError(
                Source("{"), 1, "Document contains more than 20 tokens. Parsing aborted."
            ),
            "TOO_MANY_TOKENS",
            id="tokens",
        ),
        pytest.param(
            GraphQLError("'anonymous' exceeds maximum operation depth of 3"),
            "QUERY_TOO_DEEP",
            id="depth",
        ),
        pytest.param(GraphQLError("41 aliases found. Allowed: 30"), "TOO_MANY_ALIASES", id="alias"),
        pytest.param(
            GraphQLError("GraphQL introspection has been disabled, but ..."),
            "INTROSPECTION_DISABLED",
            id="introspection",
        ),
        pytest.param(
            GraphQLError("Cannot query field 'x'."), "GRAPHQL_VALIDATION_FAILED", id="validation"
        ),
        pytest.param(
            GraphQLError("Cannot return null", path=["games"]), "INTERNAL_SERVER_ERROR", id="null"
        ),
        pytest.param(
            GraphQLError("limit", extensions={"code": "QUERY_TOO_LARGE"}),
            "QUERY_TOO_LARGE",
            id="own",
        ),
    ],
)
def test_every_error_gets_a_stable_code(error: GraphQLError, code: str) -> None:
    """Each kind of error maps to the code the README's Errors table documents."""
    assert errorpolicy.code_of(error) == code
    assert (errorpolicy.public(error).extensions or {})["code"] == code


def test_unexpected_errors_are_masked_and_logged_with_the_same_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A foreign exception becomes 'Unexpected error.' plus an id the ERROR log line carries."""
    try:
        raise RuntimeError("secret detail /etc/kalshi.pem")
    except RuntimeError as exc:
        error = wrapped(exc, path=["games", 0, "prediction"])
    shown = errorpolicy.public(error, new_id=lambda: "cid-1")
    assert shown.message == "Unexpected error."
    assert shown.extensions == {"code": "INTERNAL_SERVER_ERROR", "correlationId": "cid-1"}
    assert shown.path == ["games", 0, "prediction"]
    assert "secret detail" not in str(shown.formatted)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "correlation_id=cid-1" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[1] is error.original_error


@pytest.mark.parametrize(
    ("exc", "level"),
    [
        pytest.param(UpstreamUnavailable("Kalshi down"), logging.WARNING, id="upstream"),
        pytest.param(OperationTimeout("slow"), logging.WARNING, id="timeout"),
        pytest.param(InvalidInput("bad ticker"), logging.INFO, id="client-mistake"),
    ],
)
def test_expected_errors_log_one_line_without_traceback(
    caplog: pytest.LogCaptureFixture, exc: Exception, level: int
) -> None:
    """Expected errors keep their message and log one line, no traceback, at most WARNING."""
    caplog.set_level(logging.DEBUG)
    shown = errorpolicy.public(wrapped(exc, path=["market"]))
    assert shown.message == str(exc)
    (record,) = caplog.records
    assert record.levelno == level
    assert record.exc_info is None
    assert "path=market" in record.getMessage()


def test_public_errors_pass_again_unchanged_and_unlogged(caplog: pytest.LogCaptureFixture) -> None:
    """Running the policy twice neither re-codes nor logs again."""
    caplog.set_level(logging.DEBUG)
    once = errorpolicy.public(wrapped(InvalidInput("bad")))
    caplog.clear()
    assert errorpolicy.public(once) is once
    assert caplog.records == []


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        pytest.param("application/graphql-response+json", True, id="only-new"),
        pytest.param("application/json", False, id="only-json"),
        pytest.param("", False, id="none"),
        pytest.param("*/*", False, id="any"),
        pytest.param(
            "application/graphql-response+json, application/json;q=0.9", True, id="spec-example"
        ),
        pytest.param("application/json, application/graphql-response+json", False, id="order"),
        pytest.param(
            "application/json;q=0.5, application/graphql-response+json", True, id="q-wins"
        ),
        pytest.param("application/graphql-response+json;q=0", False, id="q-zero"),
        pytest.param("application/graphql-response+json;q=x", False, id="q-garbage"),
        pytest.param("application/graphql-response+json; charset=utf-8", True, id="other-param"),
    ],
)
def test_media_type_negotiation(accept: str, wanted: bool) -> None:
    """graphql-response+json is used only when the client prefers it."""
    assert errorpolicy.wants_graphql_response(accept) is wanted


def _coded(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def test_request_errors_are_those_refused_before_running() -> None:
    """Parse/validation/limit errors are request errors; timeouts and field errors are not."""
    refused = [_coded("x", c) for c in ("GRAPHQL_PARSE_FAILED", "QUERY_TOO_DEEP")]
    assert errorpolicy.is_request_error(refused)
    assert not errorpolicy.is_request_error([*refused, _coded("t", "TIMEOUT")])
    assert not errorpolicy.is_request_error([])
