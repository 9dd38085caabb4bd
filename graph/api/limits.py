"""The query limits, as validation rules that carry their own codes (edge).

How it works: :class:`OperationLimits` is Strawberry's ``AddValidationRules`` with our rules
first: the operation's cost (:func:`graph.api.cost.cost_rule`: depth, aliases, expanded
fields, root fields, nodes, upstream requests) and, with ``INTROSPECTION=false``,
:class:`NoIntrospection`. graphql-core runs every rule of one ``validate`` in a single pass,
side by side, so "first" alone would not keep the other rules from walking a document the
cost rule refuses. Its ``on_validate`` therefore validates in two steps: the cost rule alone
(it judges the whole document when it enters it: one linear pass, no walk of the nodes), and
only when it passes, Strawberry's validation with the standard rules. A refused document
costs one pass over its text, whatever it expands to. Its ``on_parse`` parses each document
once (a small cache of recent ones, which the other checks share), and a query text that
passed validation lately is not validated again (``_Validated``).

The rules run against a graphql-core schema rebuilt from the printed SDL (public API only);
both schemas have the same types and fields, which is all the rules read. The document
size in tokens is checked before parsing, by :func:`graph.api.tokens.token_count` (one regular
expression, held to graphql-core's lexer by the tests), in
:class:`graph.api.execution.LimitedSchema`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    ValidationContext,
    ValidationRule,
    build_schema,
    parse,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules

from graph.api.cost import DocumentRule

INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"


class NoIntrospection(ValidationRule):
    """Refuses ``__schema`` and ``__type`` (``INTROSPECTION=false``); ``__typename`` stays."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    "GraphQL introspection is disabled on this server",
                    nodes=[node],
                    extensions={"code": INTROSPECTION_DISABLED},
                )
            )


class OperationLimits(AddValidationRules):
    """Our rules before every other one, in a pass of their own (see the module docstring)."""

    def __init__(self, *, sdl: str, cost: type[DocumentRule], introspection: bool = True) -> None:
        rules: list[type[ASTValidationRule]] = [cost]
        if not introspection:
            rules.append(NoIntrospection)
        super().__init__(rules)
        self._cost = cost
        self._schema = schema_of(sdl)

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (*self.validation_rules, *context.validation_rules)
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            try:
                context.graphql_document = parsed(context.query)
            except GraphQLError:
                pass  # Strawberry parses again and reports the syntax error its way
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is None or context.pre_execution_errors is not None:
            yield
            return
        refused = run_alone(self._cost, self._schema, document)
        if refused:
            context.pre_execution_errors = refused  # Strawberry validates no further
            yield
            return
        rules = tuple(rule for rule in context.validation_rules if rule is not self._cost)
        context.validation_rules = rules
        key = (context.schema, context.query, rules) if context.query else None
        if key is not None and _VALID.seen(key):
            context.pre_execution_errors = []  # valid before, valid now: Strawberry skips it
        yield
        if key is not None and context.pre_execution_errors == []:
            _VALID.remember(key)


class _Validated:
    """The documents (schema, query text, rules) that passed validation lately, so that a
    query sent again and again (every subscriber of the live page sends the same one) is
    validated once: graphql-core's full validation costs about 10 ms of the event loop even
    for a one-field subscription. Only successes are kept (errors are objects a response
    may change), bounded in number."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._keys: OrderedDict[tuple[object, str, tuple[type, ...]], None] = OrderedDict()

    def seen(self, key: tuple[object, str, tuple[type, ...]]) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        return False

    def remember(self, key: tuple[object, str, tuple[type, ...]]) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)


_VALID = _Validated()


def run_alone(
    rule: type[DocumentRule], schema: GraphQLSchema, document: DocumentNode
) -> list[GraphQLError]:
    """The errors of a rule that judges a whole document when it enters it (the cost rule),
    without graphql-core walking every node of it for nothing."""
    errors: list[GraphQLError] = []
    rule(ValidationContext(schema, document, TypeInfo(schema), errors.append)).enter_document(
        document
    )
    return errors


@lru_cache(maxsize=64)
def parsed(query: str) -> DocumentNode:
    """The document of ``query``, parsed once for the checks and the execution (and for a
    client repeating itself, once for all). Documents are never changed after parsing."""
    return parse(query)


_SCHEMAS: dict[str, GraphQLSchema] = {}


def schema_of(sdl: str) -> GraphQLSchema:
    """The graphql-core schema of ``sdl``, built once per SDL (an extension is made per
    operation; :func:`graph.api.schema.build_schema` builds it up front, so the first request
    does not pay the ~70 ms)."""
    schema = _SCHEMAS.get(sdl)
    if schema is None:
        schema = _SCHEMAS[sdl] = build_schema(sdl)
    return schema
