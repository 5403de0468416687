"""The few v2 endpoints: meter events in, thin events out (JSON, ISO timestamps)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ._errors import ApiError
from ._form import iso_now, new_id, random_token
from ._store import Ctx, Obj

__all__ = ["handle_v2"]

_EVENTS = "v2/core/events"


def v2_error(status: int, error_type: str, message: str, code: str | None = None) -> ApiError:
    err: dict[str, Any] = {"type": error_type}
    if code is not None:
        err["code"] = code
    err["message"] = message
    return ApiError(status, err)


def handle_v2(ctx: Ctx, method: str, segments: list[str]) -> Obj:
    """Route ``/v2/<segments>``."""
    if segments == ["billing", "meter_events"] and method == "POST":
        return _create_meter_event(ctx)
    if segments[:2] == ["core", "events"]:
        if len(segments) == 2 and method == "GET":
            return _list_events(ctx)
        if len(segments) == 3 and method == "GET":
            event = ctx.store.get(_EVENTS, segments[2])
            if event is None:
                raise v2_error(
                    404, "invalid_request_error", f"No such event: '{segments[2]}'", "not_found"
                )
            return event
    raise v2_error(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: /v2/{'/'.join(segments)}).",
        "not_found",
    )


def record_v2_event(
    ctx: Ctx, event_type: str, data: Obj | None = None, related: Obj | None = None
) -> Obj:
    event: Obj = {
        "id": "evt_test_" + random_token(24),
        "object": "v2.core.event",
        "context": None,
        "created": iso_now(),
        "livemode": ctx.livemode,
        "reason": {
            "type": "request",
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
        },
        "type": event_type,
    }
    if data is not None:
        event["data"] = data
    if related is not None:
        event["related_object"] = related
    ctx.store.add(_EVENTS, event)
    ctx.store.emit(event)  # thin-event webhook delivery
    return event


def _create_meter_event(ctx: Ctx) -> Obj:
    p = ctx.params
    name = p.get("event_name")
    if not isinstance(name, str) or not name:
        raise v2_error(400, "invalid_request_error", "event_name is required.", "field_missing")
    payload = p.get("payload")
    if not isinstance(payload, dict) or not payload:
        raise v2_error(400, "invalid_request_error", "payload is required.", "field_missing")
    now = iso_now()
    obj: Obj = {
        "object": "v2.billing.meter_event",
        "created": now,
        "event_name": name,
        "identifier": p.get("identifier") or new_id("mevt")[5:],
        "livemode": ctx.livemode,
        "payload": {str(k): str(v) for k, v in payload.items()},
        "timestamp": p.get("timestamp") or now,
    }
    meters = ctx.store.all("billing/meters")
    if not any(m.get("event_name") == name for m in meters):
        # Stripe validates meter events asynchronously and reports this as a thin event.
        record_v2_event(
            ctx,
            "v1.billing.meter.no_meter_found",
            data={
                "developer_message_summary": f"There is no active meter for event name {name}.",
                "reason": {
                    "error_count": 1,
                    "error_types": [
                        {
                            "code": "no_meter",
                            "error_count": 1,
                            "sample_errors": [
                                {
                                    "error_message": f"No active meter for {name}.",
                                    "request": {"identifier": obj["identifier"]},
                                }
                            ],
                        }
                    ],
                },
                "validation_end": now,
                "validation_start": now,
            },
        )
    return obj


def _list_events(ctx: Ctx) -> Obj:
    p = ctx.params
    rows = ctx.store.all(_EVENTS)
    object_id = p.get("object_id")
    if object_id:
        rows = [e for e in rows if (e.get("related_object") or {}).get("id") == object_id]
    types = p.get("types")
    if types:
        wanted = set(types) if isinstance(types, list) else {str(types)}
        rows = [e for e in rows if e["type"] in wanted]
    try:
        limit = max(1, min(100, int(str(p.get("limit") or 20))))
        start = int(str(p.get("page") or 0))
    except ValueError:
        raise v2_error(400, "invalid_request_error", "Invalid limit or page.") from None
    page = rows[start : start + limit]
    more = len(rows) > start + limit
    base = "/v2/core/events?limit=" + str(limit)
    if object_id:
        base += "&object_id=" + quote(str(object_id))
    return {
        "data": page,
        "next_page_url": f"{base}&page={start + limit}" if more else None,
        "previous_page_url": f"{base}&page={max(0, start - limit)}" if start else None,
    }
