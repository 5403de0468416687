"""``StripeInstrumentor``: OpenTelemetry's way in, delegating to :mod:`stripe_otel._install`.

Patching is lazy: ``instrument()`` registers a post-import hook, so the patches go in when
``stripe`` is imported (at once, if it already is). Nothing here imports stripe.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from stripe_otel import _install
from stripe_otel.package import _instruments

__all__ = ["StripeInstrumentor"]


class StripeInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentor for the ``stripe`` SDK.

    ``StripeInstrumentor().instrument(tracer_provider=..., meter_provider=..., **settings)``
    where *settings* are any of the keyword names in :data:`stripe_otel.config.KNOBS`
    (each also settable by its ``STRIPE_OTEL_*`` env var). A bad value raises
    :class:`stripe_otel.config.ConfigError` here, never later inside a call.
    """

    # BaseInstrumentor keeps "instrumented" in this attribute; ours is the installer's
    # state, so that `import stripe_otel.auto` (which installs without BaseInstrumentor)
    # and this class agree on it: instrument() after auto is a no-op, uninstrument() works.
    @property
    def _is_instrumented_by_opentelemetry(self) -> bool:
        return _install.installed()

    @_is_instrumented_by_opentelemetry.setter
    def _is_instrumented_by_opentelemetry(self, _value: bool) -> None:
        pass  # the installer's own state is the truth

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        _install.install(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        _install.uninstall()
