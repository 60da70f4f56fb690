"""Recording and exporting spans, when the SDK is installed and the environment asks for it.

`shared.tracing` needs only the OpenTelemetry API. To record its spans, install the `otel`
extra (the SDK and the OTLP exporter) and set the standard variables: `OTEL_TRACES_EXPORTER`
(`otlp`, `console` or `none`; several with commas) or an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the exporter and the
batch processor read the rest of theirs (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`), the
sampler `OTEL_TRACES_SAMPLER`. `OTEL_SERVICE_NAME` overrides the service's own name and
`OTEL_SDK_DISABLED=true` turns it all off. Nothing is set up unless asked: a machine with
the SDK installed for other reasons does not start exporting to a collector that is not there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace

log = logging.getLogger(__name__)

ASKED_BY = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)


def configure_tracing(service: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install the SDK's tracer provider for `service`, when asked; returns whether it did."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if not any(environ.get(name) for name in ASKED_BY):
        return False
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError:
        log.warning("OTEL_* is set but the SDK is not installed (install the otel extra)")
        return False
    named = {} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(named))
    for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(","):
        exporter: SpanExporter | None
        match name.strip().lower():
            case "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                exporter = OTLPSpanExporter()
            case "console":
                exporter = ConsoleSpanExporter()
            case "none" | "":
                exporter = None
            case other:
                log.warning("OTEL_TRACES_EXPORTER: unknown exporter %r ignored", other)
                exporter = None
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # flushed and shut down at exit
    return True
