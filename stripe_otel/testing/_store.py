"""In-memory object store: ids, lists with cursors, search, expansion, v1 events.

Everything here runs on the server's loop thread under the app lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._errors import ApiError, invalid_integer, invalid_request, resource_missing
from ._form import deep_copy, new_id

__all__ = ["Ctx", "Store"]

Obj = dict[str, Any]
_log = logging.getLogger(__name__)
Predicate = Callable[[Obj], bool]

_CLAUSE_RE = re.compile(
    r"""\s*(?P<field>[a-z_]+(?:\[['"](?P<mkey>[^'"]+)['"]\])?)\s*(?P<op>[:~])\s*"""
    r"""(?:['"](?P<sval>[^'"]*)['"]|(?P<nval>-?\d+))\s*$""",
    re.IGNORECASE,
)
_AND_RE = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(slots=True)
class Ctx:
    """Per-request context handed to resource handlers."""

    store: Store
    method: str
    path: str
    params: dict[str, Any]
    request_id: str
    idempotency_key: str | None
    livemode: bool
    api_version: str
    now: int


class Store:
    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.collections: dict[str, dict[str, None]] = {}
        self.hidden: dict[str, dict[str, Any]] = {}
        self.event_listeners: list[Callable[[Obj], None]] = []

    def reset(self) -> None:
        self.objects.clear()
        self.collections.clear()
        self.hidden.clear()

    # -- objects -----------------------------------------------------------------------
    def add(self, collection: str, obj: Obj) -> Obj:
        self.objects[obj["id"]] = obj
        self.collections.setdefault(collection, {})[obj["id"]] = None
        return obj

    def get(self, collection: str, obj_id: str) -> Obj | None:
        if obj_id in self.collections.get(collection, ()):
            return self.objects[obj_id]
        return None

    def remove(self, collection: str, obj_id: str) -> None:
        self.collections.get(collection, {}).pop(obj_id, None)
        self.objects.pop(obj_id, None)
        self.hidden.pop(obj_id, None)

    def all(self, collection: str) -> list[Obj]:
        """Newest first."""
        ids = self.collections.get(collection, {})
        return [self.objects[i] for i in reversed(ids)]

    # -- lists -------------------------------------------------------------------------
    def list_page(
        self,
        ctx: Ctx,
        collection: str,
        url: str,
        object_name: str,
        *,
        predicate: Predicate | None = None,
        items: Iterable[Obj] | None = None,
    ) -> Obj:
        params = ctx.params
        limit = _limit(params.get("limit"))
        rows = list(items) if items is not None else self.all(collection)
        rows = _filter_created(rows, params.get("created"))
        if predicate is not None:
            rows = [o for o in rows if predicate(o)]
        after = params.get("starting_after")
        before = params.get("ending_before")
        if after:
            idx = self._cursor(rows, after, object_name, "starting_after")
            rest = rows[idx + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif before:
            idx = self._cursor(rows, before, object_name, "ending_before")
            head = rows[:idx]
            page, has_more = head[-limit:], len(head) > limit
        else:
            page, has_more = rows[:limit], len(rows) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    def _cursor(self, rows: list[Obj], obj_id: object, object_name: str, param: str) -> int:
        for i, o in enumerate(rows):
            if o["id"] == obj_id:
                return i
        if isinstance(obj_id, str) and obj_id in self.objects:
            return len(rows)
        raise resource_missing(object_name, str(obj_id), param=param)

    def search(self, ctx: Ctx, collection: str, url: str) -> Obj:
        query = ctx.params.get("query")
        if not isinstance(query, str) or not query:
            raise invalid_request(
                "Missing required param: query.", code="parameter_missing", param="query"
            )
        preds = [_clause(c) for c in _AND_RE.split(query.strip())]
        rows = [o for o in self.all(collection) if all(p(o) for p in preds)]
        limit = _limit(ctx.params.get("limit"))
        page_param = ctx.params.get("page")
        start = 0
        if isinstance(page_param, str) and page_param.startswith("page_"):
            try:
                start = int(page_param[5:])
            except ValueError:
                start = 0
        page = rows[start : start + limit]
        more = len(rows) > start + limit
        return {
            "object": "search_result",
            "data": page,
            "has_more": more,
            "next_page": f"page_{start + limit}" if more else None,
            "url": url,
        }

    # -- expansion ---------------------------------------------------------------------
    def expand(self, obj: Any, paths: object) -> Any:
        if not paths:
            return obj
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list):
            return obj
        for path in paths:
            if isinstance(path, str) and path:
                obj = self._expand(obj, path.split("."))
        return obj

    def _expand(self, node: Any, parts: list[str]) -> Any:
        if isinstance(node, list):
            return [self._expand(x, parts) for x in node]
        if not isinstance(node, dict) or not parts:
            return node
        key = parts[0]
        if key not in node:
            return node
        value = node[key]
        if isinstance(value, str):
            value = self.objects.get(value, value)
        copy = dict(node)
        copy[key] = self._expand(value, parts[1:]) if len(parts) > 1 else value
        return copy

    # -- events ------------------------------------------------------------------------
    def record_event(
        self,
        ctx: Ctx,
        event_type: str,
        obj: Obj,
        previous: Obj | None = None,
    ) -> Obj:
        data: Obj = {"object": deep_copy(obj)}
        if previous:
            data["previous_attributes"] = previous
        event: Obj = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": ctx.api_version,
            "created": ctx.now,
            "data": data,
            "livemode": ctx.livemode,
            "pending_webhooks": 0,
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": event_type,
        }
        self.add("events", event)
        self.emit(event)
        return event

    def emit(self, event: Obj) -> None:
        """Hand a just-recorded v1 event or v2 (``v2.core.event``) event to the listeners."""
        for listener in list(self.event_listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must not break the API call
                _log.exception("event listener failed")


def _limit(raw: object) -> int:
    if raw is None or raw == "":
        return 10
    try:
        limit = int(str(raw))
    except ValueError:
        raise invalid_integer("limit", raw) from None
    if not 1 <= limit <= 100:
        raise invalid_request(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            param="limit",
        )
    return limit


def _filter_created(rows: list[Obj], created: object) -> list[Obj]:
    if created is None or created == "":
        return rows
    if isinstance(created, str):
        try:
            exact = int(created)
        except ValueError:
            raise invalid_integer("created", created) from None
        return [o for o in rows if o.get("created") == exact]
    if not isinstance(created, dict):
        return rows
    bounds: list[tuple[str, int]] = []
    for op in ("gt", "gte", "lt", "lte"):
        if op in created:
            try:
                bounds.append((op, int(created[op])))
            except (TypeError, ValueError):
                raise invalid_integer(f"created[{op}]", created[op]) from None

    def ok(o: Obj) -> bool:
        c = int(o.get("created", 0))
        for op, v in bounds:
            if (
                (op == "gt" and not c > v)
                or (op == "gte" and not c >= v)
                or (op == "lt" and not c < v)
                or (op == "lte" and not c <= v)
            ):
                return False
        return True

    return [o for o in rows if ok(o)]


def _clause(text: str) -> Predicate:
    m = _CLAUSE_RE.match(text)
    if m is None:
        raise ApiError(
            400,
            {
                "message": f"Invalid search query: {text!r}. See "
                "https://stripe.com/docs/search#search-query-language",
                "param": "query",
                "type": "invalid_request_error",
            },
        )
    field, mkey, op = m.group("field").split("[")[0], m.group("mkey"), m.group("op")
    want = m.group("sval") if m.group("sval") is not None else m.group("nval")

    def pred(o: Obj) -> bool:
        if mkey is not None:
            meta = o.get(field)
            value = meta.get(mkey) if isinstance(meta, dict) else None
        else:
            value = o.get(field)
        if value is None:
            return False
        text_value = str(value)
        if op == "~":
            return want.lower() in text_value.lower()
        return text_value == want

    return pred
