"""Optional OpenTelemetry tracing: operations, upstream requests, DataLoader batches (shared).

How it works: :class:`Tracing` wraps an OpenTelemetry ``TracerProvider``, or nothing. With
nothing (the default) every span is a no-op and the ``opentelemetry`` packages are never
imported. :func:`from_settings` builds one that exports over OTLP/HTTP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the ``otel`` extra must be installed; without it,
startup stops with a clear error). The GraphQL edge adds Strawberry's
``OpenTelemetryExtension`` with the same provider (the operation and its resolvers);
:meth:`Tracing.transport` wraps an upstream client's transport (one span per request) and
:meth:`Tracing.span` marks DataLoader batches. Spans nest through the context: a batch
started by a resolver is its child, the requests of a batch are the batch's children.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import httpx

from graph.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

INSTRUMENTATION = "kalshi-graph"


class Tracing:
    """Spans through ``provider``, or none at all."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        self._tracer: Tracer | None = provider.get_tracer(INSTRUMENTATION) if provider else None

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def span(self, name: str, attributes: Mapping[str, str | int] | None = None) -> Any:
        """A context manager: a span named ``name`` (child of the current one), or nothing."""
        if self._tracer is None:
            return nullcontext()
        return self._tracer.start_as_current_span(name, attributes=dict(attributes or {}))

    def shutdown(self) -> None:
        """Export what is still buffered (at shutdown)."""
        shutdown = getattr(self.provider, "shutdown", None)
        if shutdown is not None:
            shutdown()

    def transport(self, upstream: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``inner``, with a span around each request when tracing is on."""
        return inner if self._tracer is None else _TracedTransport(self, upstream, inner)


class _TracedTransport(httpx.AsyncBaseTransport):
    def __init__(self, tracing: Tracing, upstream: str, inner: httpx.AsyncBaseTransport) -> None:
        self._tracing = tracing
        self._upstream = upstream
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attributes = {
            "http.request.method": request.method,
            "server.address": request.url.host,
            "url.path": request.url.path,
            "upstream": self._upstream,
        }
        with self._tracing.span(f"{request.method} {self._upstream}", attributes) as span:
            response = await self._inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def from_settings(endpoint: str | None, service_name: str) -> Tracing:
    """Tracing exported to ``endpoint`` (OTLP/HTTP), or none when it is not set.

    Raises:
        ConfigError: an endpoint is set but the ``otel`` extra is not installed.
    """
    if not endpoint:
        return Tracing()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:  # pragma: no cover - the test environment has the extra installed
        raise ConfigError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'kalshi-graph[otel]'"
        ) from None
    provider = SdkTracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


@contextmanager
def batch_span(tracing: Tracing, loader: str, size: int) -> Iterator[None]:
    """The span of one DataLoader batch of ``size`` keys."""
    with tracing.span(f"DataLoader batch {loader}", {"dataloader.batch_size": size}):
        yield
