"""The one error the dashboards code raises: a message fit for one line of CLI output."""


class DashboardError(Exception):
    """Validation or import failed. ``str(error)`` is a complete, single-line explanation
    (what failed, the HTTP status if any, and what was left created), never a traceback
    and never an API key."""
