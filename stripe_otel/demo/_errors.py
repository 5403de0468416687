"""The demo's error: a one-line reason the run could not go on."""

from __future__ import annotations

__all__ = ["DemoError", "DemoUsageError"]


class DemoError(Exception):
    """The demo failed; the message is shown as it is, on one line."""


class DemoUsageError(DemoError):
    """The demo cannot run as asked (a live key, a bad option): exit 2, not 1."""
