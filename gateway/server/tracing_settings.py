"""The settings of traces: whether spans are exported over OTLP, and under which service name
(docs/metrics.md#traces). The exporter itself reads OpenTelemetry's standard variables."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings


class TracingSettings(BaseSettings):
    otel_enabled: bool = Field(
        False,
        description="Export traces over OTLP/HTTP (needs the `otel` extra): a span for every "
        "request, store call and call to a department's login system. The exporter reads "
        "`OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`) and OpenTelemetry's "
        "other standard variables; `OTEL_SDK_DISABLED=true` turns traces off again. See "
        "[metrics.md](metrics.md#traces).",
    )
    otel_service_name: str | None = Field(
        None,
        description="`service.name` of the spans; unset: `OTEL_SERVICE_NAME`, else `yihaotong`.",
    )

    @property
    def traces_wanted(self) -> bool:
        disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        return self.otel_enabled and not disabled
