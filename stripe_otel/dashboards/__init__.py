"""Ready-made Honeycomb and Datadog boards for stripe-otel's spans and metrics.

Each vendor module builds its board from :mod:`stripe_otel.semconv` (so a renamed attribute
cannot silently empty a panel), validates it against the vendor's own schema, and imports
it idempotently. The JSON in the repository's ``dashboards/`` folder is their output
(``stripe-otel dashboards export``); a test keeps the two identical.
"""

from stripe_otel.dashboards._errors import DashboardError

VENDORS = ("datadog", "honeycomb")

__all__ = ["VENDORS", "DashboardError"]
