"""Whether the app has suppressed instrumentation in the current context.

The same test as ``opentelemetry.instrumentation.utils.is_instrumentation_enabled`` (the
context key and its older plain-string spelling), read from one context lookup; and
importing this does not pull in ``opentelemetry.instrumentation`` (tens of milliseconds
of start-up).
"""

from __future__ import annotations

from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

# The plain-string key older instrumentations still set.
_PLAIN_KEY = "suppress_instrumentation"


def instrumentation_suppressed() -> bool:
    current = context.get_current()
    return bool(current.get(_SUPPRESS_INSTRUMENTATION_KEY) or current.get(_PLAIN_KEY))
