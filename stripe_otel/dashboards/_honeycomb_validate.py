"""Check a Honeycomb board spec against Honeycomb's own OpenAPI 3.1 document.

OpenAPI 3.1 schemas are JSON Schema 2020-12: the document is registered as one
``referencing`` resource, so its ``$ref: "#/components/schemas/..."`` resolve inside it.
Two things the schemas cannot say are checked as well, because Honeycomb rejects them:
unknown fields (a typo such as ``breakdown`` would otherwise pass silently, so every
object schema is closed with ``additionalProperties: false``) and the query rules spelled
out only in the schema's descriptions (orders name a calculation or breakdown;
granularity within time_range/1000..time_range; at most 1,000 groups).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from stripe_otel.dashboards._errors import DashboardError
from stripe_otel.dashboards._honeycomb_spec import (
    annotation_body,
    board_body,
    query_entries,
    shape_problems,
)

__all__ = ["SPEC_ENV", "openapi_path", "validate"]

#: Environment variable naming Honeycomb's OpenAPI document (honeycomb-api.json).
SPEC_ENV: Final = "STRIPE_OTEL_HONEYCOMB_SPEC"
_REPO_ROOT: Final = Path(__file__).resolve().parents[2]
_URI: Final = "urn:honeycomb:openapi"
_PLACEHOLDER_ID: Final = "placeholder"
_MAX_GROUPS: Final = 1000
_MAX_MESSAGE: Final = 300
_MAX_VALUE: Final = 60


def openapi_path() -> Path:
    """``$STRIPE_OTEL_HONEYCOMB_SPEC``, else ``../shared/vendor/honeycomb-api.json`` beside
    the repository."""
    env = os.environ.get(SPEC_ENV)
    if env:
        return Path(env).expanduser()
    return _REPO_ROOT.parent / "shared" / "vendor" / "honeycomb-api.json"


def _load(path: Path) -> dict[str, Any]:
    hint = (
        f"{SPEC_ENV} points there"
        if os.environ.get(SPEC_ENV)
        else f"set {SPEC_ENV} to the path of honeycomb-api.json"
    )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DashboardError(f"Honeycomb's OpenAPI spec is not at {path} ({hint})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DashboardError(
            f"cannot read Honeycomb's OpenAPI spec at {path}: {exc} ({hint})"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), dict):
        raise DashboardError(f"{path} is not Honeycomb's OpenAPI document (no components)")
    return doc


def _closed(node: Any) -> Any:
    """A copy of ``node`` where every object schema that lists its properties and does not
    say otherwise rejects unknown ones."""
    if isinstance(node, dict):
        out = {key: _closed(value) for key, value in node.items()}
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


@lru_cache(maxsize=4)
def _validators(path: Path, mtime_ns: int) -> dict[str, Any]:
    try:
        # jsonschema ships no type information; referencing does.
        import jsonschema  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
        from referencing import Registry, Resource  # noqa: PLC0415
        from referencing.jsonschema import DRAFT202012  # noqa: PLC0415
    except ImportError:
        raise DashboardError(
            "validating needs jsonschema: pip install 'stripe-otel[dashboards]'"
        ) from None

    doc = _closed(_load(path))
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_URI, resource)
    return {
        name: jsonschema.Draft202012Validator(
            {"$ref": f"{_URI}#/components/schemas/{name}"}, registry=registry
        )
        for name in ("Query", "QueryAnnotation", "Board")
    }


def _path(prefix: str, parts: Iterator[object]) -> str:
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaves(error: Any) -> list[Any]:
    """The errors worth showing: for a oneOf/anyOf, the one branch whose ``const`` (the
    panel ``type``) matched, else the oneOf/anyOf error itself."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[object, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    plausible = [
        errs for errs in branches.values() if not any(e.validator == "const" for e in errs)
    ]
    if len(plausible) != 1:
        return [error]
    return [leaf for sub in plausible[0] for leaf in _leaves(sub)]


def _schema_problems(validator: Any, instance: object, prefix: str) -> list[str]:
    problems = []
    for error in validator.iter_errors(instance):
        for leaf in _leaves(error):
            message = str(leaf.message)
            shown = repr(leaf.instance)
            if len(shown) > _MAX_VALUE:  # keep what is wrong with it in view
                message = message.replace(shown, shown[: _MAX_VALUE - 1] + "…")
            message = " ".join(message.split())
            if len(message) > _MAX_MESSAGE:
                message = message[: _MAX_MESSAGE - 1] + "…"
            problems.append(f"{_path(prefix, iter(leaf.absolute_path))}: {message}")
    return sorted(set(problems))


def _query_rule_problems(query: Mapping[str, Any], prefix: str) -> list[str]:
    problems = []
    calcs = query.get("calculations") or []
    calculated = {(c.get("op"), c.get("column")) for c in calcs if isinstance(c, Mapping)}
    named = {c.get("name") for c in calcs if isinstance(c, Mapping) and c.get("name")}
    named |= {f.get("name") for f in query.get("formulas") or [] if isinstance(f, Mapping)}
    breakdowns = set(query.get("breakdowns") or [])
    for k, order in enumerate(query.get("orders") or []):
        if not isinstance(order, Mapping):
            continue
        op, column = order.get("op"), order.get("column")
        if op is None and (column in breakdowns or column in named):
            continue
        if op is not None and (op, column) in calculated:
            continue
        term = f"{op}({column or ''})" if op else repr(column)
        problems.append(
            f"{prefix}.orders[{k}]: {term} is neither a calculation nor a breakdown of the query"
        )
    time_range, granularity = query.get("time_range"), query.get("granularity")
    if isinstance(time_range, int) and isinstance(granularity, int):
        low = -(-time_range // 1000)
        if not low <= granularity <= time_range:
            problems.append(
                f"{prefix}.granularity: {granularity} is outside {low}..{time_range} "
                f"(time_range/1000..time_range)"
            )
    limit = query.get("limit")
    if isinstance(limit, int) and limit > _MAX_GROUPS:
        problems.append(f"{prefix}.limit: {limit} is above {_MAX_GROUPS}, the most a query may ask")
    return problems


def _validators_for(openapi: Path | None) -> dict[str, Any]:
    path = openapi if openapi is not None else openapi_path()
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        _load(path)  # raises the readable DashboardError
        raise
    return _validators(path, mtime_ns)


def body_problems(schema: str, body: object, *, openapi: Path | None = None) -> list[str]:
    """Problems with one request body against ``#/components/schemas/<schema>`` (``Query``,
    ``QueryAnnotation`` or ``Board``): what the importer sends, as Honeycomb would check
    it. The API stand-in in the tests uses this, so both sides share one validator."""
    return _schema_problems(_validators_for(openapi)[schema], body, "$")


def validate(spec: dict[str, Any], *, openapi: Path | None = None) -> list[str]:
    """Problems with ``spec`` as ``"path: message"`` lines; an empty list means valid.

    Each query is checked against ``#/components/schemas/Query``, each annotation against
    ``QueryAnnotation`` and the board (placeholder ids filled in) against ``Board``.
    Raises :class:`DashboardError` when the OpenAPI document cannot be found or read.
    """
    validators = _validators_for(openapi)
    problems = shape_problems(spec)
    if problems:
        return problems
    ids: dict[str, tuple[str, str]] = {}
    for i, entry in enumerate(query_entries(spec)):
        where = f"queries[{i}]"
        problems += _schema_problems(validators["Query"], entry["query"], f"{where}.query")
        problems += _query_rule_problems(entry["query"], f"{where}.query")
        annotation = annotation_body(entry, _PLACEHOLDER_ID)
        problems += _schema_problems(validators["QueryAnnotation"], annotation, where)
        ids[entry["key"]] = (_PLACEHOLDER_ID, _PLACEHOLDER_ID)
    body = board_body(spec, ids)
    board_problems = _schema_problems(validators["Board"], body, "board")
    # The spec's panel carries visualization_settings itself; query_panel is ours.
    return problems + [
        p.replace(".query_panel.visualization_settings", ".visualization_settings")
        for p in board_problems
    ]
