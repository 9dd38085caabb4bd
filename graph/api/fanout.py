"""Subscription fan-out: one execution and one encoding per distinct result (edge).

How it works
------------
One ticker update goes to every subscriber of its ticker, and most of them sent the same
document and variables. :class:`EventResults`, which belongs to one schema, keeps the
result of each recent (update, document, variables, operation name) and, once asked, its
JSON: the first subscriber of a group executes and encodes it, every other one reuses both.
That holds only while a ``TickerUpdate`` result depends on nothing but the update, so
:func:`context_readers` lists the fields reachable from an event type that could read
anything else (a resolver taking ``info``, hence the context, or with permission classes or
field extensions, which get it too); ``build_schema`` refuses to build while there is one.

Subscribers on ``graphql-transport-ws`` skip Strawberry's per-event pipeline: the view
names the socket and operation id before Strawberry starts the operation
(:func:`target_of_subscribe`), :class:`SharedExecutor` names itself when it is built for a
subscription, and the resolver then hands each update to a :class:`DirectFrames` that
builds the ``next`` frame around the shared JSON (only the id differs between subscribers)
and sends it from the operation's own task: no other task, no per-subscriber execution or
encoding. A result with errors is never shared: that event takes Strawberry's usual path,
where the error policy sees it. Legacy ``graphql-ws`` subscribers always take that path.

:class:`SharedExecutor` also works around graphql-core 3.3's sub-field memo, which every
per-event executor shares with its parent and which grew by ~1.8 KB per event for as long
as a subscription lived (see :mod:`graph.api.compat`): each event gets a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, Protocol, cast

from graphql import (
    Executor,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationType,
    get_named_type,
)

from graph import models
from graph.api.compat import SUB_FIELDS_MEMO, StrawberryGraphQLCoreExecutionContext
from graph.api.sharing import LRU

EVENT_RESULTS_SIZE = 1024
# Where Strawberry keeps a field's own definition on the graphql-core field it builds.
_DEFINITION = "strawberry-definition"


class FrameSink(Protocol):
    """Where a subscriber's frames go: the view's WebSocket adapter."""

    async def send_text(self, text: str) -> None: ...


# The socket and operation id of the graphql-transport-ws subscribe being started, set by
# the view around Strawberry's handler: the operation's task inherits it.
_TARGET: ContextVar[tuple[FrameSink, str] | None] = ContextVar("fanout_target", default=None)
# The executor of the subscription about to resolve, set by SharedExecutor.build.
_EXECUTOR: ContextVar[SharedExecutor | None] = ContextVar("fanout_executor", default=None)


def target_of_subscribe(sink: FrameSink, op_id: str) -> Any:
    """Name the socket and id of the operation about to start (returns a reset token)."""
    return _TARGET.set((sink, op_id))


def forget_target(token: Any) -> None:
    _TARGET.reset(token)


@dataclass(slots=True)
class _Shared:
    result: Any  # graphql-core's ExecutionResult
    payload: str | None = None  # its JSON, once one subscriber asked


_Group = tuple[str, str, str | None]  # document, variables, operation name
_EventKey = tuple[models.TickerUpdate, str, str, str | None]


class EventResults:
    """Recent subscription results by (update, document, variables, operation name)."""

    def __init__(self, size: int = EVENT_RESULTS_SIZE) -> None:
        self._entries: LRU[_EventKey, _Shared] = LRU(size)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: _EventKey) -> _Shared | None:
        return self._entries.get(key)

    def remember(self, key: _EventKey, result: Any) -> Any:
        if not getattr(result, "errors", None):  # errors carry paths and ids: never shared
            self._entries.put(key, _Shared(result))
        return result

    def payload(self, key: _EventKey) -> str | None:
        """The shared result's ``next`` payload as JSON, encoded once; None if not shared."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.payload is None:
            entry.payload = json.dumps({"data": entry.result.data}, separators=(",", ":"))
        return entry.payload


class SharedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, made fit for fan-out (see the module docstring).

    Each schema uses a subclass bound to its own :class:`EventResults` (:meth:`bound_to`).
    """

    results: EventResults
    _event_key: _EventKey | None = None
    _group: _Group | None = None

    @classmethod
    def bound_to(cls, results: EventResults) -> type[SharedExecutor]:
        return type(cls.__name__, (cls,), {"results": results})

    def group(self) -> _Group:
        """(document, variables, operation name): what subscribers must share to share."""
        if self._group is None:
            # Strawberry parses with locations; the document's text is the first part of the key.
            assert self.operation.loc is not None, "a document parsed without locations"
            variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=str)
            name = self.operation.name.value if self.operation.name else None
            self._group = (self.operation.loc.source.body, variables, name)
        return self._group

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        built = super().build(*args, **kwargs)
        if isinstance(built, SharedExecutor) and (
            built.operation.operation is OperationType.SUBSCRIPTION
        ):
            _EXECUTOR.set(built)  # the subscription's resolver runs next, in this task
        return built

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = cast(SharedExecutor, super().build_per_event_executor(payload))
        setattr(executor, SUB_FIELDS_MEMO, {})  # see graph.api.compat
        update = getattr(payload, "_update", None)
        if isinstance(update, models.TickerUpdate):
            executor._event_key = (update, *self.group())
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._event_key
        if key is None:
            return super().execute_operation(serially)
        if (shared := self.results.get(key)) is not None:
            return shared.result
        result = super().execute_operation(serially)
        if isawaitable(result):
            return self._remember_later(key, result)
        return self.results.remember(key, result)

    async def _remember_later(self, key: _EventKey, pending: Awaitable[Any]) -> Any:
        return self.results.remember(key, await pending)


class DirectFrames:
    """Sends one subscriber's events as ready-made frames (see the module docstring)."""

    def __init__(
        self,
        executor: SharedExecutor,
        sink: FrameSink,
        op_id: str,
        event_of: Callable[[models.TickerUpdate], Any],
    ) -> None:
        self._executor = executor
        self._group = executor.group()
        self._sink = sink
        self._event_of = event_of
        # Everything of the frame but the payload: ids are the only difference.
        self._head = '{"id":' + json.dumps(op_id) + ',"type":"next","payload":'

    @classmethod
    def here(cls, event_of: Callable[[models.TickerUpdate], Any]) -> DirectFrames | None:
        """For the subscription resolving in this task, if its protocol allows (else None);
        ``event_of`` makes the schema's event object of an update (needed only to execute)."""
        target, executor = _TARGET.get(), _EXECUTOR.get()
        if target is None or executor is None:
            return None
        return cls(executor, *target, event_of)

    async def send(self, update: models.TickerUpdate) -> bool:
        """Send ``update``'s frame; False if its result has errors: the caller then yields
        the event to Strawberry."""
        key = (update, *self._group)
        payload = self._executor.results.payload(key)
        if payload is None:
            event = self._executor.build_per_event_executor(self._event_of(update))
            result = event.execute_operation(False)
            if isawaitable(result):
                await result
            payload = self._executor.results.payload(key)
            if payload is None:
                return False
        await self._sink.send_text(self._head + payload + "}")
        return True


def context_readers(types: Mapping[str, Any], type_names: Sequence[str]) -> list[str]:
    """``Type.field`` of every field reachable from ``type_names`` (in the graphql-core
    ``types`` of a schema, by name) that could read the request, i.e. its context: a
    resolver taking ``info``, permission classes, field extensions, or a resolver that is
    not Strawberry's."""
    found: list[str] = []
    for named, name, field in _reachable_fields(types, type_names):
        definition = field.extensions.get(_DEFINITION)
        resolver = definition.base_resolver if definition is not None else None
        if (
            definition is None
            or (resolver is not None and resolver.info_parameter is not None)
            or definition.permission_classes
            or definition.extensions
        ):
            found.append(f"{named.name}.{name}")
    return found


def _reachable_fields(
    types: Mapping[str, Any], type_names: Sequence[str]
) -> Iterator[tuple[GraphQLNamedType, str, GraphQLField]]:
    seen: set[str] = set()
    pending = list(type_names)
    while pending:
        named = types.get(pending.pop())
        if named is None or named.name in seen:
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLUnionType):
            pending += [t.name for t in named.types]
        if isinstance(named, GraphQLInterfaceType):
            pending += [
                t.name
                for t in types.values()
                if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) and named in t.interfaces
            ]
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for name, field in named.fields.items():
                yield named, name, field
                pending.append(get_named_type(field.type).name)
