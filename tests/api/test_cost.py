"""graph.api.cost: an operation's measures, computed once and in linear time, and its limits."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_introspection_query,
    parse,
    specified_rules,
    validate,
)

from graph.api.cost import (
    CAP,
    CODES,
    MODEL,
    Cost,
    CostModel,
    DocumentRule,
    FieldCost,
    Limits,
    cost_rule,
    measure,
    refusals,
)

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = build_schema((ROOT / "schema.graphql").read_text("utf-8"))


def cost_of(query: str, model: CostModel = MODEL, schema: GraphQLSchema = SCHEMA) -> Cost:
    ((_, cost),) = measure(schema, parse(query), model)
    return cost


def bomb(levels: int, leaf: str = "__typename") -> str:
    """The issue's fragment bomb: each fragment spreads the next one twice."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query Bomb {{ ...F0 }} {chain} fragment F{levels} on Query {{ {leaf} }}"


class CountingFields(Mapping[str, FieldCost]):
    """A cost table that counts how often it is consulted: once per field visited."""

    def __init__(self, inner: Mapping[str, FieldCost]) -> None:
        self.inner = inner
        self.lookups = 0

    def __getitem__(self, key: str) -> FieldCost:
        self.lookups += 1
        return self.inner[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def test_a_games_query_has_the_measures_its_shape_says() -> None:
    """Depth counts fields on the longest path, nodes multiply by the assumed list sizes,
    requests count the scoreboard, one summary per game and one batched listing."""
    cost = cost_of(
        "{ games(league: NBA) { id g: home { code } markets { ticker }"
        " prediction { edge factors { name value } } } }"
    )
    assert cost == Cost(
        depth=4,
        aliases=1,
        fields=11,
        root_fields=1,
        # 100 x (game + id + home and code + 2 x (market + ticker) + prediction + edge
        # + 10 x (factor + name + value))
        nodes=100 * (1 + 1 + 2 + 2 * 2 + 1 + 1 + 10 * 3),
        requests=1 + 100 + 1,
    )


def test_fragments_and_inline_fragments_count_as_if_expanded() -> None:
    """A fragment spread twice counts twice; an inline fragment counts where it stands."""
    expanded = cost_of(
        "{ games(league: NBA) { id home { code name } } a: games(league: NFL) "
        "{ id home { code name } } }"
    )
    with_fragments = cost_of(
        "{ games(league: NBA) { ...G } a: games(league: NFL) { ... on Game { ...G } } }"
        " fragment G on Game { id home { ...T } } fragment T on Team { code name }"
    )
    assert with_fragments == expanded
    assert expanded.root_fields == 2 and expanded.aliases == 1 and expanded.fields == 10


def test_the_fragment_bomb_is_measured_exactly_and_cheaply() -> None:
    """22 and 30 levels of "spread the next fragment twice" are 2^n fields, found with one
    visit per field node of the document (not one per expanded field)."""
    for levels in (22, 30):
        fields = CountingFields(MODEL.fields)
        cost = cost_of(bomb(levels), CostModel(fields, MODEL.default_list_size))
        assert cost.fields == cost.root_fields == cost.nodes == 2**levels
        assert fields.lookups == 1  # the one __typename, however often it is spread


def test_huge_documents_saturate_instead_of_growing() -> None:
    """Two hundred levels of doubling stop at CAP, in every measure, without error."""
    cost = cost_of(bomb(200, "a: __typename"))
    assert cost.fields == cost.aliases == cost.nodes == CAP
    assert cost.depth == 0  # __typename is introspection: exempt from depth


def test_a_long_fragment_chain_does_not_exhaust_the_stack() -> None:
    """Fragments are ordered without recursion: a chain of 3,000 spreads measures fine."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(3000))
    cost = cost_of(
        f'{{ ...F0 }} {chain} fragment F3000 on Query {{ market(ticker: "A") {{ ticker }} }}'
    )
    assert cost.fields == 2 and cost.requests == 1


def test_fragment_cycles_and_unknown_fragments_count_nothing() -> None:
    """A spread that closes a cycle, or names no fragment, adds nothing (validation refuses
    such documents later; here they must only terminate)."""
    cycle = cost_of(
        "{ ...A } fragment A on Query { ...B __typename } fragment B on Query { ...A ...B }"
    )
    assert cycle.fields == 1
    assert cost_of("{ ...Missing __typename }").fields == 1


def test_nested_selection_sets_deeper_than_the_stack_are_measured() -> None:
    """Nesting is walked with an explicit stack, so the parser's limit is the only limit."""
    depth = 150
    query = "{" + "games(league: NBA) {" * depth + "id" + "}" * depth + "}"
    cost = cost_of(query)
    assert cost.depth == depth + 1 and cost.fields == depth + 1


def test_unknown_fields_and_types_count_structurally_and_cost_nothing() -> None:
    """Fields the schema lacks are counted (so a bomb of invalid fields is still refused)
    but carry no weight and no list multiplier."""
    cost = cost_of("{ nope { deeper { deepest } } games(league: NBA) { nope } }")
    assert cost.fields == 5 and cost.depth == 3
    assert cost.requests == 1 and cost.nodes == 3 + 100 * 2


def test_batched_fields_count_once_per_occurrence_and_others_per_object() -> None:
    """markets is one listing per batch whatever the games; prediction one per game."""
    markets = cost_of("{ games(league: NBA) { markets { ticker } } }")
    predictions = cost_of("{ games(league: NBA) { prediction { edge } } }")
    both = cost_of("{ a: games(league: NBA) { markets { ticker } } b: games(league: NFL) { id } }")
    assert markets.requests == 1 + 1
    assert predictions.requests == 1 + 100
    assert both.requests == 1 + 1 + 1


def test_nested_lists_multiply_once_per_list_level() -> None:
    """A field returning a list of lists multiplies by its size once per level."""
    schema = build_schema("type Query { grid: [[Cell]] } type Cell { v: Int }")
    model = CostModel({"Query.grid": FieldCost(weight=2, list_size=3)})
    assert cost_of("{ grid { v } }", model, schema) == Cost(
        depth=2, aliases=0, fields=2, root_fields=1, nodes=9 * 2, requests=2
    )


def test_introspection_is_exempt_from_depth_but_not_from_nodes() -> None:
    """GraphiQL's introspection nests deeply yet passes; nesting its lists is refused."""
    full = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert refusals(*only(full), Limits()) == []
    nested = "{ __schema { types { " + "fields { type { " * 6 + "name" + " } }" * 6 + " } } }"
    codes = [(e.extensions or {})["code"] for e in refusals(*only(nested), Limits())]
    assert codes == ["TOO_MANY_NODES"]
    one_type = cost_of('{ __type(name: "Game") { name fields { name } } }')
    assert one_type.nodes == 1 + 1 + 10 * 2 and one_type.depth == 0


def only(query: str) -> tuple[OperationDefinitionNode, Cost]:
    (pair,) = measure(SCHEMA, parse(query))
    return pair


def _legitimate_documents() -> dict[str, str]:
    """Every document this repository ships or documents: they must pass the defaults."""
    docs: dict[str, str] = {}
    readme = (ROOT / "README.md").read_text("utf-8")
    for i, block in enumerate(re.findall(r"```graphql\n(.*?)```", readme, re.S)):
        docs[f"README graphql block {i}"] = block
    for i, query in enumerate(re.findall(r'"query":"(.*?)"', readme)):
        docs[f"README curl {i}"] = query
    for i, query in enumerate(re.findall(r"gql`((?:\{|query|subscription).*?)`", readme, re.S)):
        docs[f"README gql {i}"] = query
    live = (ROOT / "graph" / "web" / "static" / "app.js").read_text("utf-8")
    for name in ("GAMES_QUERY", "UPDATES_SUBSCRIPTION"):
        match = re.search(rf"{name} = `(.*?)`", live, re.S)
        assert match, name
        docs[f"live page {name}"] = match.group(1)
    graphiql = (ROOT / "graph" / "web" / "graphiql.py").read_text("utf-8")
    match = re.search(r'DEFAULT_QUERY = """\\\n(.*?)"""', graphiql, re.S)
    assert match
    docs["GraphiQL default query"] = match.group(1)
    docs["introspection"] = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True,
        schema_description=True, input_value_deprecation=True,
    )  # fmt: skip
    docs["every league at once"] = (
        "{"
        + " ".join(
            f"{league}: games(league: {league}) {{ id markets {{ ticker yesBid yesAsk }} "
            "prediction { edge confidence factors { name value } } }"
            for league in ("NFL", "NBA", "MLB", "NHL", "WNBA", "NCAAF", "NCAAMB")
        )
        + "}"
    )
    return docs


@pytest.mark.parametrize(("name", "query"), sorted(_legitimate_documents().items()))
def test_every_shipped_and_documented_query_passes_the_defaults(name: str, query: str) -> None:
    """README examples, the live page, GraphiQL's default and introspection queries fit the
    default limits (and are valid documents of this schema)."""
    document = parse(query)
    assert validate(SCHEMA, document, specified_rules) == []
    for operation, cost in measure(SCHEMA, document):
        assert refusals(operation, cost, Limits()) == [], (name, cost)


PAST_EACH_LIMIT = {
    "QUERY_TOO_DEEP": "{ games(league: NBA) { " + "home { " * 12 + "}" * 12 + " } }",
    "TOO_MANY_ALIASES": "{ games(league: NBA) { "
    + " ".join(f"a{i}: id" for i in range(31))
    + " } }",
    "TOO_MANY_FIELDS": "{ games(league: NBA) { " + "id " * 301 + "} }",
    "TOO_MANY_ROOT_FIELDS": "{ " + "__typename " * 21 + "}",
    "TOO_MANY_NODES": "{ __schema { types { fields { args { type { fields { args { name }"
    + " } } } } } } }",
    "QUERY_TOO_EXPENSIVE": "{ "
    + " ".join(f"g{i}: games(league: NBA) {{ prediction {{ edge }} }}" for i in range(10))
    + " }",
}


@pytest.mark.parametrize(("code", "query"), sorted(PAST_EACH_LIMIT.items()))
def test_each_limit_refuses_with_its_own_code(code: str, query: str) -> None:
    """Past each limit, one error with that limit's code, the limit and the operation."""
    operation, cost = only(query)
    (error,) = refusals(operation, cost, Limits())
    assert error.extensions == {"code": code, "limit": getattr(Limits(), _limit_of[code])}
    assert error.message.startswith("operation 'anonymous' ")
    assert f"; the limit is {error.extensions['limit']:,}" in error.message
    assert error.nodes == [operation]


_limit_of = {
    "QUERY_TOO_DEEP": "max_depth",
    "TOO_MANY_ALIASES": "max_aliases",
    "TOO_MANY_FIELDS": "max_fields",
    "TOO_MANY_ROOT_FIELDS": "max_root_fields",
    "TOO_MANY_NODES": "max_nodes",
    "QUERY_TOO_EXPENSIVE": "max_requests",
}


def test_codes_are_the_limits_codes() -> None:
    """CODES lists exactly the codes refusals use (the error policy reads it)."""
    assert CODES == set(_limit_of)


def test_a_saturated_measure_says_so() -> None:
    """A measure at CAP is reported as "more than CAP", not as a made-up exact number."""
    operation, cost = only(bomb(70))
    messages = [e.message for e in refusals(operation, cost, Limits())]
    assert messages and all(f"more than {CAP:,}" in m for m in messages)
    assert "operation 'Bomb'" in messages[0]


def test_the_rule_reports_coded_errors_through_graphql_core() -> None:
    """cost_rule is a plain graphql-core validation rule: validate() returns its errors."""
    rule = cost_rule(Limits(max_aliases=1), MODEL)
    document: DocumentNode = parse("query Q { a: __typename b: __typename }")
    (error,) = validate(SCHEMA, document, [rule])
    assert error.extensions == {"code": "TOO_MANY_ALIASES", "limit": 1}
    assert validate(SCHEMA, parse("{ a: __typename }"), [rule]) == []


def test_a_document_rule_visits_nothing_past_the_document() -> None:
    """A DocumentRule stops graphql-core's walk at the document: no field is visited."""
    visited: list[str] = []

    class Watching(DocumentRule):
        def enter_field(self, node: FieldNode, *_args: object) -> None:
            visited.append(node.name.value)

    assert validate(SCHEMA, parse("{ __typename }"), [Watching]) == []
    assert visited == []


def test_the_cost_table_names_real_fields() -> None:
    """Every entry of MODEL names a field of the exported schema (a rename would silently
    make it cost nothing)."""
    for key in MODEL.fields:
        type_name, field_name = key.split(".")
        owner = SCHEMA.get_type(type_name)
        assert owner is not None and field_name in owner.fields, key  # type: ignore[attr-defined]
