"""Hypothesis settings shared by the reliability suite: the same cases on every run."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def reproducible(max_examples: int) -> settings:
    """*max_examples* cases, derived from the test's code (not a random seed or a saved
    database), with no per-case deadline. The server and instrumentor fixtures are shared
    by all cases on purpose; each case clears what it checks."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
