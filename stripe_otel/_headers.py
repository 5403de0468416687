"""Reading HTTP headers the way every stripe transport returns them.

requests and httpx return case-insensitive mappings, urllib a dict with lower-cased
names, aiohttp a multidict: look the name up as given, then lower-cased.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """The value of header *name* in *headers*, or None. Never raises for odd mappings."""
    if not headers:
        return None
    try:
        value = headers.get(name)
        if value is None:
            value = headers.get(name.lower())
    except Exception:  # noqa: BLE001 - a foreign mapping type must not fail the call
        return None
    return value if isinstance(value, str) else None
