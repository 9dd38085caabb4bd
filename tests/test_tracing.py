"""graph.tracing: no spans by default; with a provider, request and batch spans nest."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graph.tracing import Tracing, batch_span, from_settings


def recording() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider), exporter


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(204)


def test_without_a_provider_nothing_is_traced_or_wrapped() -> None:
    """The default Tracing is off: spans are no-ops, transports are returned as they are."""
    tracing = Tracing()
    inner = httpx.MockTransport(ok)
    assert not tracing.enabled
    assert tracing.transport("kalshi", inner) is inner
    with tracing.span("nothing"), batch_span(tracing, "markets", 3):
        pass
    tracing.shutdown()


def test_no_endpoint_means_no_tracing_and_an_endpoint_builds_an_exporter() -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT unset: off; set: a provider exporting over OTLP/HTTP."""
    assert not from_settings(None, "svc").enabled
    tracing = from_settings("http://127.0.0.1:4318/", "svc")
    assert tracing.enabled
    tracing.shutdown()  # nothing buffered: nothing sent


async def test_requests_inside_a_batch_are_its_children() -> None:
    """Each upstream request is a span (method, upstream, path, status) under the batch span
    that made it, in the same trace."""
    tracing, exporter = recording()
    transport = tracing.transport("kalshi", httpx.MockTransport(ok))
    async with httpx.AsyncClient(transport=transport, base_url="http://kalshi.test") as client:
        with batch_span(tracing, "markets", 2):
            await client.get("/trade-api/v2/markets", params={"tickers": "A,B"})
    request, batch = exporter.get_finished_spans()
    assert batch.name == "DataLoader batch markets"
    assert batch.attributes == {"dataloader.batch_size": 2}
    assert request.name == "GET kalshi"
    assert request.attributes == {
        "http.request.method": "GET",
        "server.address": "kalshi.test",
        "url.path": "/trade-api/v2/markets",
        "upstream": "kalshi",
        "http.response.status_code": 204,
    }
    assert request.parent is not None and request.parent.span_id == batch.context.span_id
    assert request.context.trace_id == batch.context.trace_id
    await transport.aclose()
