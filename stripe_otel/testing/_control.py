"""The JSON control API under ``/_control/``, for servers run in another process.

``POST /_control/reset``; ``POST /_control/delay`` ``{ms, path_regex?, method?}``;
``POST /_control/faults`` ``{...Fault fields...}``; ``GET /_control/requests`` (bodies as
latin-1 strings); ``GET /_control/health``. No auth, no recording, no faults.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._faults import Fault
from ._http import Reply, Request, render_head

if TYPE_CHECKING:
    from ._app import App

__all__ = ["handle_control"]


def handle_control(app: App, req: Request) -> Reply:
    status = 200
    payload: dict[str, Any] = {"ok": True}
    try:
        body: Any = json.loads(req.body) if req.body else {}
        what = req.path[len("/_control/") :].rstrip("/")
        if req.method == "POST" and what == "reset":
            app.reset()
        elif req.method == "POST" and what == "delay":
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            app.delays_add(float(body.get("ms", 0)), body.get("path_regex"), body.get("method"))
        elif req.method == "POST" and what == "faults":
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            app.add_fault(Fault.from_json(body))
        elif req.method == "GET" and what == "requests":
            with app.lock:
                rows = [r.to_json() for r in app.recorded]
                count = app.request_count
            payload = {"object": "list", "data": rows, "request_count": count}
        elif req.method == "GET" and what == "health":
            payload = {"ok": True, "request_count": app.request_count}
        else:
            status, payload = 404, {"error": f"no control endpoint {req.method} {req.path}"}
    except (ValueError, TypeError) as exc:
        status, payload = 400, {"error": str(exc)}
    data = json.dumps(payload).encode()
    head = render_head(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "keep-alive" if req.keep_alive else "close"),
        ],
    )
    return Reply(head + data, close=not req.keep_alive)
