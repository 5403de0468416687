"""Check a Datadog dashboard body: against datadog-api-client's models, and our own rules.

The models do not raise on a bad enum value or an unknown widget type: they mark the
node ``_unparsed`` (a oneOf that matched nothing becomes an ``UnparsedObject``), and they
keep unknown keys as "additional properties". So we walk the whole deserialized tree,
report every unparsed node and unknown key with its JSON path, and for an unparsed oneOf
retry the candidate classes to say *what* inside it is wrong.

Also here: the small parser of query strings behind :func:`references`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, cast

from stripe_otel.dashboards._errors import DashboardError

#: Keys whose string value is a query (metric query, span search, list-stream query).
QUERY_KEYS: Final = frozenset({"q", "query", "query_string"})

_VAR = re.compile(r"\$([A-Za-z_][\w-]*)")
# [aggregation:]metric{scope} [by {tags}] — aggregation absent in classic "metric{...}".
_METRIC = re.compile(
    r"(?:(?P<agg>[a-z][a-z0-9_]*):)?(?P<metric>[A-Za-z][\w.]*)\s*\{(?P<scope>[^}]*)\}"
    r"(?:\s*by\s*\{(?P<by>[^}]*)\})?"
)
# A key in a search query: `key:`, `@key:`, `-@key:` (values may be quoted).
_SEARCH_KEY = re.compile(r"(?:^|[\s(])[-!]?(?P<key>@?[A-Za-z_][\w.\-]*):")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')
_FORMULA_NAME = re.compile(r"\b([A-Za-z_]\w*)\b(?!\s*\()")
_TRACE_PREFIX: Final = "trace."
_TRACE_SUFFIXES: Final = (".hits", ".errors", ".apdex", ".duration")
_OPERATION_FIELD: Final = "operation_name"


# --- Walking the raw JSON ----------------------------------------------------------------


def iter_nodes(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) in a JSON tree, paths like ``widgets[0].definition.title``."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from iter_nodes(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_nodes(value, f"{path}[{index}]")


def query_strings(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, query) for every query string in the widgets."""
    found = []
    for path, value in iter_nodes(dashboard.get("widgets", []), "widgets"):
        key = path.rsplit(".", 1)[-1]
        if key in QUERY_KEYS and isinstance(value, str):
            found.append((path, value))
    return found


def _template_prefixes(dashboard: dict[str, Any]) -> dict[str, str]:
    prefixes = {}
    for variable in dashboard.get("template_variables") or []:
        if isinstance(variable, dict) and isinstance(variable.get("name"), str):
            prefix = variable.get("prefix")
            prefixes[variable["name"]] = prefix if isinstance(prefix, str) else ""
    return prefixes


# --- References ------------------------------------------------------------------------------


@dataclass
class References:
    """What a board's queries name. Span attributes are without their ``@``."""

    metrics: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    operations: set[str] = field(default_factory=set)

    def all(self) -> set[str]:
        return self.metrics | self.tags | self.attributes | self.operations


def _add_field(refs: References, name: str) -> None:
    if name.startswith("@"):
        refs.attributes.add(name[1:])
    elif name:
        refs.tags.add(name)


def _scope_items(text: str) -> Iterator[str]:
    for raw in re.split(r",|\s+(?:AND|OR)\s+", text):
        item = raw.strip().strip("()").lstrip("!-").strip()
        if item and item != "*":
            yield item


def _parse_metric_query(query: str, prefixes: dict[str, str], refs: References) -> None:
    for match in _METRIC.finditer(query):
        metric = match.group("metric")
        refs.metrics.add(metric)
        if metric.startswith(_TRACE_PREFIX):
            operation = metric[len(_TRACE_PREFIX) :]
            for suffix in _TRACE_SUFFIXES:
                operation = operation.removesuffix(suffix)
            refs.operations.add(operation)
        for item in _scope_items(match.group("scope")):
            variable = _VAR.fullmatch(item.split(".", 1)[0])
            if variable is not None:
                refs.tags.add(prefixes.get(variable.group(1)) or variable.group(1))
            else:
                refs.tags.add(item.split(":", 1)[0])
        for item in _scope_items(match.group("by") or ""):
            refs.tags.add(item)


def _parse_search(query: str, prefixes: dict[str, str], refs: References) -> None:
    for variable in _VAR.findall(query):
        refs.tags.add(prefixes.get(variable) or variable)
    unquoted = _QUOTED.sub('""', query)
    for match in _SEARCH_KEY.finditer(unquoted):
        key = match.group("key")
        _add_field(refs, key)
        if key == _OPERATION_FIELD:
            value = unquoted[match.end() :].split(maxsplit=1)
            if value and value[0] not in ('""', "*"):
                refs.operations.add(value[0])


def references(dashboard: dict[str, Any]) -> References:
    """Parse every query string, facet, measure and column of *dashboard*."""
    refs = References()
    prefixes = _template_prefixes(dashboard)
    for _path, value in iter_nodes(dashboard.get("widgets", []), "widgets"):
        if not isinstance(value, dict):
            continue
        source = value.get("data_source")
        if source == "metrics" and isinstance(value.get("query"), str):
            _parse_metric_query(value["query"], prefixes, refs)
        elif isinstance(value.get("q"), str):
            _parse_metric_query(value["q"], prefixes, refs)
        search = value.get("search")
        if isinstance(search, dict) and isinstance(search.get("query"), str):
            _parse_search(search["query"], prefixes, refs)
        if isinstance(value.get("query_string"), str):
            _parse_search(value["query_string"], prefixes, refs)
        if source is not None and source != "metrics" and isinstance(value.get("query"), str):
            _parse_search(value["query"], prefixes, refs)  # classic log/apm queries
        # group_by facets, compute/sort measures, list-stream columns and sort column.
        for key in ("facet", "metric", "field", "column"):
            if isinstance(value.get(key), str):
                _add_field(refs, value[key])
    return refs


# --- Our own rules ---------------------------------------------------------------------------


def own_problems(dashboard: dict[str, Any]) -> list[str]:
    """Each query scoped by ``$env`` and ``$service``; variables defined; formulas resolve."""
    problems = []
    defined = _template_prefixes(dashboard)
    for required in ("env", "service"):
        if required not in defined:
            problems.append(f"template_variables: no ${required} variable")
    queries = query_strings(dashboard)
    if not queries:
        problems.append("widgets: no query at all")
    for path, query in queries:
        used = set(_VAR.findall(query))
        for required in ("env", "service"):
            if required not in used:
                problems.append(f"{path}: query does not use ${required}: {query!r}")
        for name in sorted(used - set(defined)):
            problems.append(f"{path}: ${name} is not a template variable")
    for path, value in iter_nodes(dashboard.get("widgets", []), "widgets"):
        if isinstance(value, dict) and isinstance(value.get("formulas"), list):
            names = {q.get("name") for q in value.get("queries") or [] if isinstance(q, dict)}
            for index, item in enumerate(value["formulas"]):
                expression = item.get("formula", "") if isinstance(item, dict) else ""
                for name in _FORMULA_NAME.findall(_QUOTED.sub("", str(expression))):
                    if name not in names:
                        problems.append(
                            f"{path}.formulas[{index}]: {name!r} is not a query of this request"
                        )
    return problems


# --- Against datadog-api-client's models ----------------------------------------------------


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


class _ModelChecker:
    def __init__(self) -> None:
        try:
            from datadog_api_client import model_utils  # noqa: PLC0415 (optional extra)
            from datadog_api_client.configuration import Configuration  # noqa: PLC0415
            from datadog_api_client.exceptions import OpenApiException  # noqa: PLC0415
            from datadog_api_client.v1.model.dashboard import Dashboard  # noqa: PLC0415
        except ImportError:
            raise DashboardError(
                "validating a Datadog dashboard needs datadog-api-client: "
                "pip install 'stripe-otel[dashboards]'"
            ) from None
        self.mu = model_utils
        self.dashboard_class: Any = Dashboard
        self.configuration = cast(Callable[[], Any], Configuration)()
        self.errors: tuple[type[BaseException], ...] = (
            OpenApiException,
            TypeError,
            ValueError,
            AttributeError,
            KeyError,
        )
        # Untyped in the library; typed here so mypy --strict accepts the calls.
        self._convert: Callable[..., Any] = model_utils.validate_and_convert_types

    def convert(self, data: Any, model_class: Any, path: str) -> Any:
        """What the API client does with a response body (``ApiClient.deserialize``)."""
        return self._convert(data, (model_class,), [path], True, True, self.configuration)

    def check(self, body: dict[str, Any]) -> list[str]:
        try:
            model = self.convert(body, self.dashboard_class, "dashboard")
        except self.errors as error:
            return [f"dashboard: {_one_line(error)}"]
        problems: list[str] = []
        self.walk(model, "", problems)
        return problems

    def walk(self, node: Any, path: str, problems: list[str], expected: Any = None) -> None:
        """Report what the models left unparsed or unknown under *node*. *expected*: the
        model class the schema wants at *path*, to explain an ``UnparsedObject``."""
        mu = self.mu
        where = path or "dashboard"
        if isinstance(node, mu.UnparsedObject):
            problems.extend(self.diagnose(expected, dict(node._data_store), where))
        elif isinstance(node, mu.ModelSimple):
            if node._unparsed:
                allowed = ", ".join(sorted(map(str, node.allowed_values)))
                problems.append(
                    f"{where}: {node.value!r} is not one of {allowed} ({type(node).__name__})"
                )
        elif isinstance(node, mu.ModelComposed):
            for instance in node._composed_instances:
                self.walk(instance, path, problems, type(node))
            if node._unparsed and not node._composed_instances:
                problems.append(f"{where}: matches no {type(node).__name__}")
        elif isinstance(node, mu.ModelNormal):
            names = dict(node.attribute_map)
            for key, value in node._data_store.items():
                json_key = names.get(key, key)
                child = f"{path}.{json_key}" if path else json_key
                if key not in node.openapi_types:
                    problems.append(f"{child}: unknown attribute of {type(node).__name__}")
                self.walk(value, child, problems, self._model_of(node.openapi_types.get(key)))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                self.walk(item, f"{path}[{index}]", problems, expected)

    def _model_of(self, types: Any) -> Any:
        """The one model class in an ``openapi_types`` entry (``(X,)`` or ``([X],)``)."""
        models = [
            t
            for entry in types or ()
            for t in (entry if isinstance(entry, list) else [entry])
            if isinstance(t, type) and issubclass(t, self.mu.OpenApiModel)
        ]
        return models[0] if len(models) == 1 else None

    def _candidates(self, expected: Any, data: dict[str, Any], where: str) -> list[Any] | str:
        """The classes *data* may be meant as, or a problem if its ``type`` is unknown."""
        if not issubclass(expected, self.mu.ModelComposed):
            return [expected]
        classes = [
            c
            for c in expected._composed_schemas.get("oneOf", ())
            if isinstance(c, type) and issubclass(c, self.mu.ModelNormal)
        ]
        typed: dict[str, list[Any]] = {}
        for candidate in classes:
            for type_class in candidate.openapi_types.get("type", ()):
                if isinstance(type_class, type) and issubclass(type_class, self.mu.ModelSimple):
                    for value in type_class.allowed_values:
                        typed.setdefault(str(value), []).append(candidate)
        wanted = data.get("type")
        discriminated = {id(c) for group in typed.values() for c in group} == set(map(id, classes))
        if classes and discriminated and isinstance(wanted, str):
            if wanted not in typed:
                kind = "widget" if expected.__name__ == "WidgetDefinition" else expected.__name__
                return f"{where}: unknown {kind} type {wanted!r}"
            return typed[wanted]
        return classes

    def diagnose(self, expected: Any, data: dict[str, Any], where: str) -> list[str]:
        """Why *data* is not a valid *expected* (a model class, or a oneOf of them)."""
        if not isinstance(expected, type):
            return [f"{where}: not understood by the models"]
        candidates = self._candidates(expected, data, where)
        if isinstance(candidates, str):
            return [candidates]
        findings: list[tuple[bool, str, list[str]]] = []  # (raised, class, problems)
        for candidate in candidates:
            try:
                model = self.convert(data, candidate, where)
            except self.errors as error:
                findings.append((True, candidate.__name__, [f"{where}: {_one_line(error)}"]))
                continue
            problems: list[str] = []
            self.walk(model, where, problems)
            findings.append((False, candidate.__name__, problems))
        # Likeliest meant: built without raising, with the fewest problems.
        findings.sort(key=lambda item: (item[0], len(item[2]) or 1_000))
        if len(findings) == 1 or (findings and not findings[0][0] and findings[0][2]):
            _, name, problems = findings[0]
            if len(findings) == 1:
                return problems or [f"{where}: not a valid {name}"]
            return [f"{problem} (read as {name})" for problem in problems]
        return [f"{where}: matches no {expected.__name__}"]


def model_problems(body: dict[str, Any]) -> list[str]:
    return _ModelChecker().check(body)
