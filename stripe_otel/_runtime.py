"""The instrumentor's live state, read by the hooks: the tracer and the settings.

Hooks read :data:`current` once per call; ``None`` means "not instrumented" and every
hook then passes straight through, so a wrapper left behind by another library's
patching can never start spans after ``uninstrument()``.
"""

from __future__ import annotations

from typing import NamedTuple

from opentelemetry.trace import Tracer

from stripe_otel._metrics import Instruments
from stripe_otel.config import Settings


class Runtime(NamedTuple):
    tracer: Tracer
    settings: Settings
    #: None when metrics are turned off.
    instruments: Instruments | None = None
    #: Put Datadog's naming attributes on our spans (ddtrace's OTel bridge is in use).
    datadog_names: bool = False


current: Runtime | None = None
