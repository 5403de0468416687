"""A local stand-in for the parts of Honeycomb's API the board importer uses.

It checks ``X-Honeycomb-Team`` (401 without it or with a wrong key), validates every query,
annotation and board body against Honeycomb's OpenAPI schemas, closed to unknown fields
(400 when invalid), checks that annotations and panels point at things that exist, hands
out 11-character base62 ids, keeps boards, and fails on demand at a chosen request.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stripe_otel.dashboards._honeycomb_validate import body_problems

KEY = "hcxk_standin0123456789abcdefABCDEF"
_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(11))


@dataclass
class _Failure:
    method: str
    path_prefix: str
    status: int | str  # an HTTP status, or "garbage" for a 200 that is not JSON
    nth: int
    seen: int = 0


class HoneycombStandin:
    def __init__(self, *, key: str = KEY, datasets: tuple[str, ...] = ("__all__",)) -> None:
        self.key = key
        self.datasets = set(datasets)
        self.queries: dict[str, dict[str, Any]] = {}
        self.annotations: dict[str, dict[str, Any]] = {}
        self.boards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.failures: list[_Failure] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> HoneycombStandin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, path_prefix: str, status: int | str, *, nth: int = 1) -> None:
        """Answer the ``nth`` request matching method and path prefix with ``status``."""
        self.failures.append(_Failure(method, path_prefix, status, nth))

    def seed_board(self, name: str) -> str:
        board_id = new_id()
        self.boards[board_id] = {"id": board_id, "name": name, "type": "flexible", "panels": []}
        return board_id

    # --- request handling ---------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int | str, Any]:
        with self.lock:
            self.requests.append((method, path))
            for failure in self.failures:
                if method == failure.method and path.startswith(failure.path_prefix):
                    failure.seen += 1
                    if failure.seen == failure.nth:
                        return failure.status, {"error": f"injected {failure.status}"}
            if headers.get("X-Honeycomb-Team") != self.key:
                return 401, {"error": "unknown API key - check your credentials"}
            body = None
            if method in ("POST", "PUT"):
                if headers.get("Content-Type") != "application/json":
                    return 415, {"error": "Content-Type must be application/json"}
                try:
                    body = json.loads(raw)
                except ValueError:
                    return 400, {"error": "request body is not JSON"}
            return self._route(method, path.strip("/").split("/"), body)

    def _invalid(self, schema: str, body: Any) -> str | None:
        # The product's own validator: the stand-in and the importer agree by construction.
        problems = body_problems(schema, body)
        return problems[0] if problems else None

    def _route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        match method, parts:
            case "POST", ["1", "queries", dataset]:
                return self._create(dataset, "Query", body, self.queries, 200)
            case "POST", ["1", "query_annotations", dataset]:
                if isinstance(body, dict) and body.get("query_id") not in self.queries:
                    return 400, {"error": "invalid query ID"}
                return self._create(dataset, "QueryAnnotation", body, self.annotations, 201)
            case "GET", ["1", "boards"]:
                return 200, list(self.boards.values())
            case "POST", ["1", "boards"]:
                return self._save_board(new_id(), body, 201)
            case "PUT", ["1", "boards", board_id]:
                if board_id not in self.boards:
                    return 404, {"error": "board not found"}
                return self._save_board(board_id, body, 200)
        return 404, {"error": "not found"}

    def _create(
        self, dataset: str, schema: str, body: Any, store: dict[str, Any], status: int
    ) -> tuple[int, Any]:
        if dataset not in self.datasets:
            return 404, {"error": "dataset not found"}
        problem = self._invalid(schema, body)
        if problem:
            return 400, {"error": problem}
        item = {**body, "id": new_id()}
        store[item["id"]] = item
        return status, item

    def _save_board(self, board_id: str, body: Any, status: int) -> tuple[int, Any]:
        problem = self._invalid("Board", body)
        if problem:
            return 400, {"error": problem}
        for panel in body.get("panels", []):
            if panel["type"] != "query":
                continue
            ref = panel["query_panel"]
            annotation = self.annotations.get(ref["query_annotation_id"])
            if ref["query_id"] not in self.queries or annotation is None:
                return 400, {"error": "panel refers to an unknown query or annotation"}
            if annotation["query_id"] != ref["query_id"]:
                return 400, {"error": "annotation does not belong to the panel's query"}
        board = {
            **body,
            "id": board_id,
            "links": {"board_url": f"https://ui.honeycomb.io/t/environments/e/board/{board_id}"},
        }
        self.boards[board_id] = board
        return status, board


def _handler(standin: HoneycombStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body = standin.handle(self.command, self.path, self.headers, raw)
            if status == "garbage":
                payload, status, kind = b"<html>upstream hiccup</html>", 200, "text/html"
            else:
                payload, kind = json.dumps(body).encode(), "application/json"
            assert isinstance(status, int)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            if status == 429:
                self.send_header("Retry-After", "30")
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
