"""The shape of a Honeycomb board spec (what ``honeycomb.build()`` returns), and the request
bodies made from it: shared by validation and import so both see the same bodies."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "STYLES",
    "annotation_body",
    "board_body",
    "query_entries",
    "referenced_names",
    "shape_problems",
]

#: Values of a query entry's ``style`` (Honeycomb's ``query_panel.query_style``).
STYLES: Final = ("graph", "table", "combo")
_ENTRY_FIELDS: Final = {"key": str, "name": str, "description": str, "query": dict, "style": str}
# `$column` or `$"column with spaces"` in a calculated-field expression.
_EXPR_COLUMN: Final = re.compile(r'\$(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_.\-]+))')


def shape_problems(spec: object) -> list[str]:
    """What stops ``spec`` from being a board spec at all (the schemas check the rest)."""
    if not isinstance(spec, Mapping):
        return [f"spec: expected an object with 'queries' and 'board', got {type(spec).__name__}"]
    problems: list[str] = []
    queries = spec.get("queries")
    keys: set[str] = set()
    if not isinstance(queries, list) or not queries:
        problems.append("queries: expected a non-empty list")
        queries = []
    for i, entry in enumerate(queries):
        where = f"queries[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected an object")
            continue
        for field, kind in _ENTRY_FIELDS.items():
            if not isinstance(entry.get(field), kind):
                problems.append(f"{where}.{field}: expected a {kind.__name__}")
        extra = sorted(set(entry) - set(_ENTRY_FIELDS))
        if extra:
            problems.append(f"{where}: unknown field(s) {', '.join(map(repr, extra))}")
        key = entry.get("key")
        if isinstance(key, str):
            if key in keys:
                problems.append(f"{where}.key: duplicate key {key!r}")
            keys.add(key)
        if isinstance(entry.get("style"), str) and entry["style"] not in STYLES:
            problems.append(f"{where}.style: {entry['style']!r} is not one of {list(STYLES)}")
    board = spec.get("board")
    if not isinstance(board, Mapping):
        return [*problems, "board: expected an object"]
    panels = board.get("panels")
    if not isinstance(panels, list):
        return [*problems, "board.panels: expected a list"]
    on_board: set[str] = set()
    for j, panel in enumerate(panels):
        if not isinstance(panel, Mapping):
            problems.append(f"board.panels[{j}]: expected an object")
        elif "query_key" in panel:
            key = panel["query_key"]
            if key not in keys:
                problems.append(f"board.panels[{j}].query_key: no query has key {key!r}")
            elif key in on_board:
                problems.append(f"board.panels[{j}].query_key: {key!r} is already on the board")
            on_board.add(key)
        elif panel.get("type") == "query":
            problems.append(f"board.panels[{j}]: a query panel needs a 'query_key'")
    problems.extend(f"board.panels: query {key!r} has no panel" for key in sorted(keys - on_board))
    return problems


def query_entries(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries: list[Mapping[str, Any]] = spec["queries"]
    return entries


def annotation_body(entry: Mapping[str, Any], query_id: str) -> dict[str, Any]:
    """Body of ``POST /1/query_annotations/{dataset}`` for a query entry."""
    return {"name": entry["name"], "description": entry["description"], "query_id": query_id}


def board_body(spec: Mapping[str, Any], ids: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """Body of ``POST /1/boards``: ``ids`` maps a query key to (query id, annotation id)."""
    styles = {entry["key"]: entry["style"] for entry in query_entries(spec)}
    board = dict(spec["board"])
    panels: list[Any] = []
    for panel in board["panels"]:
        if isinstance(panel, Mapping) and "query_key" in panel:
            key = panel["query_key"]
            query_id, annotation_id = ids[key]
            query_panel: dict[str, Any] = {
                "query_id": query_id,
                "query_annotation_id": annotation_id,
                "query_style": styles[key],
            }
            if "visualization_settings" in panel:
                query_panel["visualization_settings"] = panel["visualization_settings"]
            rest = {
                k: v for k, v in panel.items() if k not in ("query_key", "visualization_settings")
            }
            panels.append(rest | {"query_panel": query_panel})
        else:
            panels.append(panel)
    board["panels"] = panels
    return board


def _columns(items: object, field: str = "column") -> Iterable[str]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get(field), str):
                yield item[field]


def referenced_names(spec: Mapping[str, Any]) -> set[str]:
    """Every column the spec reads: calculation columns (and their filters), filter columns,
    breakdowns, orders, havings, columns used by calculated fields, and the board's preset
    filters. Names the queries define themselves (calculated fields, named calculations
    and formulas) are not columns and are left out."""
    names: set[str] = set()
    for entry in spec.get("queries", []):
        query = entry.get("query", {}) if isinstance(entry, Mapping) else {}
        if not isinstance(query, Mapping):
            continue
        own = set(_columns(query.get("calculated_fields"), "name"))
        own |= set(_columns(query.get("calculations"), "name"))
        own |= set(_columns(query.get("formulas"), "name"))
        used = set(_columns(query.get("calculations")))
        for calculation in query.get("calculations") or []:
            if isinstance(calculation, Mapping):
                used |= set(_columns(calculation.get("filters")))
        used |= set(_columns(query.get("filters")))
        used |= {b for b in query.get("breakdowns") or [] if isinstance(b, str)}
        used |= set(_columns(query.get("orders")))
        used |= set(_columns(query.get("havings")))
        for field in query.get("calculated_fields") or []:
            if isinstance(field, Mapping) and isinstance(field.get("expression"), str):
                for quoted, bare in _EXPR_COLUMN.findall(field["expression"]):
                    used.add(quoted.replace('\\"', '"') if quoted else bare)
        names |= used - own
    board = spec.get("board")
    if isinstance(board, Mapping):
        names |= set(_columns(board.get("preset_filters")))
    return names
