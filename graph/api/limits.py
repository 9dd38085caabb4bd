"""The query limits, as validation rules that carry their own codes (edge).

How it works: :class:`OperationLimits` is Strawberry's ``AddValidationRules`` with our rules
first: the operation's cost (:func:`graph.api.cost.cost_rule`: depth, aliases, expanded
fields, root fields, nodes, upstream requests) and, with ``INTROSPECTION=false``,
:class:`NoIntrospection`. graphql-core runs every rule of one ``validate`` in a single pass,
side by side, so "first" alone would not keep the other rules from walking a document the
cost rule refuses. Its ``on_validate`` therefore validates in two steps: our rules alone
(one linear pass), and only when they pass, Strawberry's validation with the standard rules.
A refused document costs one pass over its text, whatever it expands to.

The rules run against a graphql-core schema rebuilt from the printed SDL (public API only);
both schemas have the same types and fields, which is all the rules read. The document
size in tokens is checked before parsing, by :func:`graph.api.cost.token_count`, in
:class:`graph.api.execution.LimitedSchema`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    ValidationRule,
    build_schema,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules

from graph.api.cost import MODEL, CostModel, Limits, cost_rule

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

    def __init__(
        self,
        *,
        sdl: str,
        limits: Limits,
        model: CostModel = MODEL,
        introspection: bool = True,
    ) -> None:
        rules: list[type[ASTValidationRule]] = [cost_rule(limits, model)]
        if not introspection:
            rules.append(NoIntrospection)
        super().__init__(rules)
        self._schema = _schema_of(sdl)

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = (*self.validation_rules, *context.validation_rules)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            refused = validate(self._schema, document, self.validation_rules)
            if refused:
                context.pre_execution_errors = refused  # Strawberry validates no further
            else:
                ours = set(self.validation_rules)
                context.validation_rules = tuple(
                    rule for rule in context.validation_rules if rule not in ours
                )
        yield


_SCHEMAS: dict[str, GraphQLSchema] = {}


def _schema_of(sdl: str) -> GraphQLSchema:
    """The graphql-core schema of ``sdl``, built once per SDL (an extension is made per
    operation)."""
    schema = _SCHEMAS.get(sdl)
    if schema is None:
        schema = _SCHEMAS[sdl] = build_schema(sdl)
    return schema
