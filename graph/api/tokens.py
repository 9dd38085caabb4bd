"""The size of a GraphQL document in tokens, counted before it is parsed (core).

How it works: :func:`token_count` counts what graphql-core's lexer would produce, with one
regular expression instead of the lexer (about five times faster: the count runs before
every parse, so that a document too large to be worth parsing is refused for the price of
reading it once). Ignored text (white space, commas, comments) is skipped, a syntax error
ends the count (the parser reports it), and the count stops one past the limit.
:func:`lexed_token_count` is the same count by graphql-core's lexer, which the tests hold
the fast one to (a property test over random token soup).
"""

from __future__ import annotations

import re

from graphql import GraphQLError, Lexer, Source, TokenKind

# graphql-core's tokens, one match each (https://spec.graphql.org/October2021/#sec-Source-Text):
# ignored text (white space, line ends, commas, BOM, comments), then a token (block string,
# string, number, name, punctuator), then anything else (where the lexer stops with an error).
_TOKEN = re.compile(
    r"(?P<ignored>(?:[ \t\r\n,\ufeff]|#[^\r\n]*)+)"
    r"|(?P<token>"
    r'"""(?:\\"""|(?!"""|\\""")[\s\S])*"""'
    r'|"(?!"")(?:\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}|u\{[0-9A-Fa-f]+\})|[^"\\\r\n])*"'
    r"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![_A-Za-z0-9.])"
    r"|[_A-Za-z][_0-9A-Za-z]*"
    r"|\.\.\."
    r"|[!$&():=@\[\]{}|]"
    r")"
    r"|(?P<bad>[\s\S])"
)


def token_count(query: str, stop_after: int) -> int:
    """The tokens of ``query`` as graphql-core's parser counts them (comments are not
    tokens), counting no further than ``stop_after + 1``. A syntax error ends the count:
    the parser reports it. One regular expression (the count runs before every parse), many
    times faster than :func:`lexed_token_count`, which the tests hold it to."""
    count = 0
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        if kind == "token":
            count += 1
            if count > stop_after:
                break
        elif kind == "bad":
            break
    return count


def lexed_token_count(query: str, stop_after: int) -> int:
    """:func:`token_count` by graphql-core's own lexer."""
    lexer = Lexer(Source(query))
    count = 0
    try:
        while count <= stop_after and lexer.advance().kind is not TokenKind.EOF:
            count += 1
    except GraphQLError:
        pass
    return count
