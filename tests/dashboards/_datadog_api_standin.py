"""A local stand-in for the parts of Datadog's v1 dashboards API the importer uses.

``GET /api/v1/dashboard`` (``count``/``start`` paging), ``POST /api/v1/dashboard``,
``GET|PUT /api/v1/dashboard/{id}``. It checks ``DD-API-KEY`` and ``DD-APPLICATION-KEY``
(401 when either is missing, 403 when either is wrong, as Datadog answers), validates
POST/PUT bodies with :func:`stripe_otel.dashboards.datadog.validate` (400 with
``{"errors": [...]}``), hands out ids like ``abc-def-ghi`` and relative URLs like
Datadog's, keeps dashboards, records every request, and fails on demand.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stripe_otel.dashboards.datadog import validate

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "fedcba9876543210fedcba9876543210fedcba98"
_ID_CHARS = string.ascii_lowercase + string.digits
_PATH = "/api/v1/dashboard"


def new_id() -> str:
    return "-".join("".join(secrets.choice(_ID_CHARS) for _ in range(3)) for _ in range(3))


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@dataclass
class Seen:
    method: str
    path: str
    had_api_key: bool
    had_app_key: bool
    body: Any = None


@dataclass
class DatadogStandIn:
    """Serve on 127.0.0.1 in a thread; ``with DatadogStandIn() as dd: dd.url``."""

    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    #: Answer every request with this status (e.g. 404, 500), or "garbage": 200 + not JSON.
    fail_with: int | str | None = None
    #: Only fail requests of this method ("PUT"), if set.
    fail_only: str | None = None
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> DatadogStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                standin._handle(self, "GET")

            def do_POST(self) -> None:
                standin._handle(self, "POST")

            def do_PUT(self) -> None:
                standin._handle(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling -----------------------------------------------------------------

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        api_key = handler.headers.get("DD-API-KEY")
        app_key = handler.headers.get("DD-APPLICATION-KEY")
        parsed = urllib.parse.urlsplit(handler.path)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        self.requests.append(Seen(method, handler.path, bool(api_key), bool(app_key), body))

        failing = self.fail_only in (None, method)
        if failing and isinstance(self.fail_with, int):
            self._reply(handler, self.fail_with, {"errors": [f"stand-in: {self.fail_with}"]})
            return
        if failing and self.fail_with == "garbage":
            self._reply(handler, 200, b"<html>upstream hiccup</html>")
            return
        if not api_key or not app_key:
            self._reply(handler, 401, {"errors": ["Unauthorized"]})
            return
        if api_key != API_KEY or app_key != APP_KEY:
            self._reply(handler, 403, {"errors": ["Forbidden"]})
            return

        if parsed.path == _PATH and method == "GET":
            self._list(handler, urllib.parse.parse_qs(parsed.query))
        elif parsed.path == _PATH and method == "POST":
            self._store(handler, new_id(), body)
        elif parsed.path.startswith(_PATH + "/") and method in ("GET", "PUT"):
            dashboard_id = parsed.path[len(_PATH) + 1 :]
            if dashboard_id not in self.dashboards:
                self._reply(handler, 404, {"errors": ["Dashboard not found"]})
            elif method == "GET":
                self._reply(handler, 200, self.dashboards[dashboard_id])
            else:
                self._store(handler, dashboard_id, body)
        else:
            self._reply(handler, 404, {"errors": ["Not found"]})

    def _list(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        count = int(query.get("count", ["100"])[0])
        start = int(query.get("start", ["0"])[0])
        summaries = [
            {key: board[key] for key in ("id", "title", "url", "layout_type", "created_at")}
            for board in self.dashboards.values()
        ]
        self._reply(handler, 200, {"dashboards": summaries[start : start + count]})

    def _store(self, handler: BaseHTTPRequestHandler, dashboard_id: str, body: Any) -> None:
        if not isinstance(body, dict):
            self._reply(handler, 400, {"errors": ["Invalid JSON body"]})
            return
        problems = validate(body)
        if problems:
            self._reply(handler, 400, {"errors": problems})
            return
        stored = {
            **body,
            "id": dashboard_id,
            "url": f"/dashboard/{dashboard_id}/{_slug(str(body.get('title', '')))}",
            "created_at": "2026-11-24T05:00:00.000000+00:00",
            "author_handle": "standin@example.com",
        }
        self.dashboards[dashboard_id] = stored
        self._reply(handler, 200, stored)
