"""What a GraphQL operation costs, measured once and in time linear in the document (core).

How it works
------------
:func:`measure` reduces every selection set of a document to a :class:`Cost`: how deep it
goes, how many aliases and fields it holds once every fragment is expanded, how many fields
sit at its top level, how many result nodes it may produce, and how many upstream requests
it may cause. Those numbers combine without looking inside again (a field adds itself to
its selection's numbers; a selection set sums its parts, depth takes the maximum), so each
fragment is measured once, before the bodies that spread it, and a spread costs one lookup
however often it repeats. A fragment spreading the next one twice, thirty levels down,
costs sixty lookups here instead of 2^30 walks (Strawberry's depth and alias limiters walk
every spread again, which froze the server for minutes on a 917-byte document).

Fragments are ordered by an explicit depth-first search (no recursion, so a chain of
hundreds of fragments cannot exhaust the stack); a spread that closes a cycle, or names a
fragment that does not exist, counts as nothing: the standard rules refuse such documents
anyway, after this check has kept them cheap. Counts saturate at :data:`CAP`, so even a
document of exponential size is measured with small integers.

The cost model follows the anchors (Apollo Router's demand control, GitHub's node limit):
a field's :class:`FieldCost` says how many upstream requests it may cause (``weight``),
whether that happens once per occurrence in the document because a DataLoader batches it
(``batched``) or once per parent object, and how long a list it returns is assumed to be
(``list_size``). Nodes multiply by the list sizes above them, as GitHub counts them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    ValidationRule,
)
from graphql.type import GraphQLOutputType

CAP = 2**62
"""Counts stop growing here: enough to exceed any limit, small enough to stay cheap."""


def _sat(value: int) -> int:
    return value if value < CAP else CAP


@dataclass(frozen=True, slots=True)
class FieldCost:
    """What one field costs: upstream requests and the size of the list it returns."""

    weight: int = 0
    """Upstream requests the field may cause."""
    batched: bool = False
    """True when a DataLoader batches them: ``weight`` counts once per occurrence in the
    document, not once per parent object."""
    list_size: int | None = None
    """Assumed length of the list it returns (None: the model's default for lists)."""


@dataclass(frozen=True, slots=True)
class CostModel:
    """Per-field costs by ``"Type.field"``, and the assumed length of other lists."""

    fields: Mapping[str, FieldCost] = field(default_factory=dict)
    default_list_size: int = 10


GAMES_PER_DAY = 100
"""The length assumed for a ``games`` list: a busy day of college basketball."""

MODEL = CostModel(
    fields={
        # One scoreboard request per (league, date); the list is one day's games.
        "Query.games": FieldCost(weight=1, list_size=GAMES_PER_DAY),
        "Query.game": FieldCost(weight=1),
        # One market per call (batched by ticker within an operation, so this overcounts).
        "Query.market": FieldCost(weight=1),
        # One listing per league and batch, however many games ask.
        "Game.markets": FieldCost(weight=1, batched=True, list_size=2),
        # A game summary per game while the rating record cannot answer rest days.
        "Game.prediction": FieldCost(weight=1),
        "Prediction.factors": FieldCost(list_size=10),
        # The snapshot of current prices, one listing request.
        "Subscription.tickerUpdates": FieldCost(weight=1),
    },
    default_list_size=10,
)
"""This service's costs: what each field may cost Kalshi and ESPN (requests)."""


@dataclass(frozen=True, slots=True)
class Cost:
    """The measures of one operation (or of a fragment, or a selection set)."""

    depth: int = 0
    """Fields on the longest path from the root, the root field included (introspection
    fields, those named ``__*``, and everything below them count nothing)."""
    aliases: int = 0
    """Aliased fields, once every fragment is expanded."""
    fields: int = 0
    """Fields, once every fragment is expanded."""
    root_fields: int = 0
    """Fields at the top level (of the operation: its root fields)."""
    nodes: int = 0
    """Result nodes it may produce: fields multiplied by the list sizes above them."""
    requests: int = 0
    """Upstream requests it may cause: per-object weights multiplied by the list sizes
    above them, plus batched weights once each."""

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            depth=max(self.depth, other.depth),
            aliases=_sat(self.aliases + other.aliases),
            fields=_sat(self.fields + other.fields),
            root_fields=_sat(self.root_fields + other.root_fields),
            nodes=_sat(self.nodes + other.nodes),
            requests=_sat(self.requests + other.requests),
        )


@dataclass(frozen=True, slots=True)
class _Part:
    """A selection set's :class:`Cost`, with its requests split by how they multiply."""

    cost: Cost = Cost()
    per_object: int = 0  # multiplied by the list sizes above
    once: int = 0  # batched: counted once whatever the lists above

    def __add__(self, other: _Part) -> _Part:
        return _Part(
            self.cost + other.cost,
            _sat(self.per_object + other.per_object),
            _sat(self.once + other.once),
        )


_NOTHING = _Part()


def _named_type(type_: GraphQLOutputType) -> tuple[str, int]:
    """The name of the type inside any wrappers, and how many lists wrap it."""
    lists = 0
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        lists += isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return getattr(type_, "name", ""), lists


def _field_def(schema: GraphQLSchema, parent: str | None, name: str) -> GraphQLField | None:
    if name == "__typename":
        return TypeNameMetaFieldDef
    if parent is not None and parent == getattr(schema.query_type, "name", None):
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
    owner = schema.type_map.get(parent) if parent is not None else None
    if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = owner.fields.get(name)
        return found
    return None  # unknown: the standard rules say so; here it costs only itself


class _Measure:
    """One document's fragments and the rules to measure its selection sets."""

    def __init__(self, schema: GraphQLSchema, model: CostModel, document: DocumentNode) -> None:
        self._schema = schema
        self._model = model
        self._fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self._fragments.setdefault(definition.name.value, definition)
        self._done: dict[str, _Part] = {}

    def fragments(self) -> None:
        """Measure every fragment, each after the fragments it spreads (cycles cut)."""
        state: dict[str, bool] = {}  # False: on the stack; True: measured
        for root in self._fragments:
            if root in state:
                continue
            state[root] = False
            stack: list[tuple[str, Iterator[str]]] = [(root, self._spreads(root))]
            while stack:
                name, pending = stack[-1]
                child = next(pending, None)
                if child is None:
                    stack.pop()
                    fragment = self._fragments[name]
                    self._done[name] = self.selection_set(
                        fragment.selection_set, fragment.type_condition.name.value
                    )
                    state[name] = True
                elif child in self._fragments and child not in state:
                    state[child] = False
                    stack.append((child, self._spreads(child)))

    def _spreads(self, name: str) -> Iterator[str]:
        """Names of the fragments spread anywhere in fragment ``name``'s body."""
        todo = [self._fragments[name].selection_set]
        while todo:
            for selection in todo.pop().selections:
                if isinstance(selection, FragmentSpreadNode):
                    yield selection.name.value
                else:  # a field or an inline fragment
                    inner: SelectionSetNode | None = getattr(selection, "selection_set", None)
                    if inner is not None:
                        todo.append(inner)

    def selection_set(self, root: SelectionSetNode, parent: str | None) -> _Part:
        """The part of a selection set whose objects are of type ``parent``.

        Post-order over nested selection sets with an explicit stack; spreads read the
        fragments measured before (a spread of one not measured yet closes a cycle).
        """
        results: list[_Part] = []
        # (selection set, its parent type, the field that owns it, where its parts start)
        stack: list[tuple[SelectionSetNode, str | None, FieldNode | None, str | None, int]] = []
        stack.append((root, parent, None, None, -1))
        while stack:
            node, node_parent, owner, owner_parent, start = stack.pop()
            if start >= 0:  # its children are measured: fold them
                total = sum(results[start:], _NOTHING)
                del results[start:]
                results.append(total if owner is None else self._field(owner, owner_parent, total))
                continue
            stack.append((node, node_parent, owner, owner_parent, len(results)))
            for selection in node.selections:
                if isinstance(selection, FieldNode):
                    if selection.selection_set is None:
                        results.append(self._field(selection, node_parent, _NOTHING))
                    else:
                        child = self._return_type(node_parent, selection.name.value)
                        stack.append((selection.selection_set, child, selection, node_parent, -1))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    inner = condition.name.value if condition is not None else node_parent
                    stack.append((selection.selection_set, inner, None, None, -1))
                else:
                    spread = cast(FragmentSpreadNode, selection)
                    results.append(self._done.get(spread.name.value, _NOTHING))
        return sum(results, _NOTHING)

    def _return_type(self, parent: str | None, name: str) -> str | None:
        definition = _field_def(self._schema, parent, name)
        return _named_type(definition.type)[0] if definition is not None else None

    def _field(self, node: FieldNode, parent: str | None, inner: _Part) -> _Part:
        name = node.name.value
        definition = _field_def(self._schema, parent, name)
        lists = _named_type(definition.type)[1] if definition is not None else 0
        spec = self._model.fields.get(f"{parent}.{name}", FieldCost())
        size = spec.list_size if spec.list_size is not None else self._model.default_list_size
        multiplier = _sat(size**lists)
        per_object = _sat((0 if spec.batched else spec.weight) + multiplier * inner.per_object)
        once = _sat((spec.weight if spec.batched else 0) + inner.once)
        cost = Cost(
            # Introspection is exempt, as in Strawberry's limiter and GraphQL Armor: GraphiQL's
            # own query nests `ofType` deeply. Its lists still multiply nodes.
            depth=0 if name.startswith("__") else 1 + inner.cost.depth,
            aliases=_sat((node.alias is not None) + inner.cost.aliases),
            fields=_sat(1 + inner.cost.fields),
            root_fields=1,
            nodes=_sat(multiplier * (1 + inner.cost.nodes)),
            requests=0,
        )
        return _Part(cost, per_object, once)


def measure(
    schema: GraphQLSchema, document: DocumentNode, model: CostModel = MODEL
) -> list[tuple[OperationDefinitionNode, Cost]]:
    """The :class:`Cost` of every operation in ``document``, in time linear in its size."""
    measured = _Measure(schema, model, document)
    measured.fragments()
    out: list[tuple[OperationDefinitionNode, Cost]] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            part = measured.selection_set(definition.selection_set, root.name if root else None)
            requests = _sat(part.per_object + part.once)
            out.append((definition, replace(part.cost, requests=requests)))
    return out


@dataclass(frozen=True, slots=True)
class Limits:
    """The most an operation may cost; each measure has its own error code."""

    max_depth: int = 12
    max_aliases: int = 30
    max_fields: int = 300
    max_root_fields: int = 20
    max_nodes: int = 100_000
    max_requests: int = 1_000


# (measure, limit, error code, what the message says of it)
_CHECKS = (
    ("depth", "max_depth", "QUERY_TOO_DEEP", "is {} fields deep"),
    ("aliases", "max_aliases", "TOO_MANY_ALIASES", "has {} aliases"),
    ("fields", "max_fields", "TOO_MANY_FIELDS", "has {} fields once its fragments are expanded"),
    ("root_fields", "max_root_fields", "TOO_MANY_ROOT_FIELDS", "has {} root fields"),
    ("nodes", "max_nodes", "TOO_MANY_NODES", "may return {} result nodes"),
    ("requests", "max_requests", "QUERY_TOO_EXPENSIVE", "may cause {} upstream requests"),
)
CODES = frozenset(code for _, _, code, _ in _CHECKS)
"""Every code a refusal may carry (requests refused before they ran)."""


def refusals(operation: OperationDefinitionNode, cost: Cost, limits: Limits) -> list[GraphQLError]:
    """One coded error per limit ``cost`` exceeds (none when it fits)."""
    name = operation.name.value if operation.name else "anonymous"
    errors = []
    for measure_name, limit_name, code, says in _CHECKS:
        value: int = getattr(cost, measure_name)
        limit: int = getattr(limits, limit_name)
        if value > limit:
            shown = f"more than {CAP:,}" if value >= CAP else f"{value:,}"
            errors.append(
                GraphQLError(
                    f"operation '{name}' {says.format(shown)}; the limit is {limit:,}",
                    nodes=[operation],
                    extensions={"code": code, "limit": limit},
                )
            )
    return errors


class DocumentRule(ValidationRule):
    """A validation rule that judges the whole document when it enters it and visits
    nothing else (so it can also be run without a walk: ``graph.api.limits.run_alone``)."""

    def enter_document(self, node: DocumentNode, *_args: object) -> object:
        return BREAK


def cost_rule(limits: Limits, model: CostModel) -> type[DocumentRule]:
    """A graphql-core validation rule refusing operations past ``limits``, with codes.

    It measures the whole document when it enters it, reports, and visits nothing else;
    run it on its own before the other rules (see ``graph.api.execution``) so that a
    refused document costs one linear pass and nothing more.
    """

    class CostLimits(DocumentRule):
        def enter_document(self, node: DocumentNode, *_args: object) -> object:
            """Measure every operation of the document, report, and visit no further."""
            for operation, cost in measure(self.context.schema, node, model):
                for error in refusals(operation, cost, limits):
                    self.report_error(error)
            return BREAK

    return CostLimits
