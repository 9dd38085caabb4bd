"""graph.api.tokens: the fast token count is graphql-core's lexer's count."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from graph.api.tokens import lexed_token_count, token_count
from tests.api.test_cost import bomb

ROOT = Path(__file__).resolve().parent.parent.parent


# Every kind of token, its pieces, and characters the lexer refuses (é, ., a lone quote).
_PIECES = st.sampled_from(
    [*'{}()[]:$@!=|&."\\#,\n\t -+eE0129aZ_\u00e9\ufeff', '"""', "...", "\\u00e9", "\\u{1F600}"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join), st.integers(0, 50))
def test_the_token_count_is_the_lexers(text: str, stop_after: int) -> None:
    """The fast count (one regular expression) counts what graphql-core's lexer counts,
    syntax errors included (both stop there)."""
    assert token_count(text, stop_after) == lexed_token_count(text, stop_after)


@pytest.mark.parametrize(
    "query",
    [
        bomb(30),
        '{ a(x: "he\\"llo", y: """blo\\"""ck""", z: -1.5e3, w: [1, 2]) @d(a: $v) ...F } # c',
        '{ a(x: "\\u{1F600}", y: 01, z: 1.) }',
        '""""',
        (ROOT / "schema.graphql").read_text("utf-8"),
    ],
)
def test_the_token_count_is_the_lexers_on_documents(query: str) -> None:
    assert token_count(query, 10**6) == lexed_token_count(query, 10**6)
