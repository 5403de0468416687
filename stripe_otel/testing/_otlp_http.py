"""OTLP/HTTP side of OtlpReceiver: ``POST /v1/traces`` on a threading HTTP/1.1 server."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import socketserver
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ._otlp_grpc import GARBAGE, status_body

if TYPE_CHECKING:
    from ._otlp_receiver import OtlpReceiver, Outcome

__all__ = ["HttpIntake"]

TRACES_PATH = "/v1/traces"
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
_ENCODINGS = frozenset({"gzip", "deflate", "identity"})


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        # RFC 9110 "deflate" is the zlib format, but some clients send raw deflate.
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def _hex_to_b64(obj: dict[str, Any], *keys: str) -> None:
    # OTLP/JSON spells trace and span ids as hex, where proto3 JSON expects base64.
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode()


def _parse_json(data: bytes) -> ExportTraceServiceRequest:
    doc = json.loads(data)
    for resource_spans in doc.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_to_b64(span, "traceId", "spanId", "parentSpanId")
                for link in span.get("links", []):
                    _hex_to_b64(link, "traceId", "spanId")
    request = ExportTraceServiceRequest()
    # Receivers must ignore unknown fields (OTLP spec), so newer clients still work.
    json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    return request


def _parse(body: bytes, encoding: str | None, json_body: bool) -> ExportTraceServiceRequest:
    data = _decompress(body, encoding)
    if json_body:
        return _parse_json(data)
    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    return request


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: OtlpReceiver, address: tuple[str, int]) -> None:
        self.receiver = receiver
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that we never use
        # and that can stall for seconds in a sandbox without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporters' connection pools expect
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the client (or down()) already closed it
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read rx.requests; access logs on stderr would only be noise

    def _read_body(self) -> bytes | None:
        try:
            return self._read_body_or_raise()
        except ValueError:  # a malformed chunk size or Content-Length
            return None

    def _read_body_or_raise(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length is not None else None

    def do_POST(self) -> None:
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        encoding = headers.get("content-encoding", "").strip().lower() or None
        mime = headers.get("content-type", "").split(";")[0].strip().lower()
        json_body = mime == _JSON

        refuse: tuple[int, str] | None = None
        if body is None:
            self.close_connection = True  # without a length the stream cannot be resynced
            refuse = (411, "Content-Length required")
        elif path != TRACES_PATH:
            refuse = (404, f"no OTLP endpoint at {path}; traces go to {TRACES_PATH}")
        elif mime not in (_PROTOBUF, _JSON):
            refuse = (415, f"unsupported Content-Type {mime!r}")
        elif encoding is not None and encoding not in _ENCODINGS:
            refuse = (415, f"unsupported Content-Encoding {encoding!r}")
        raw = body or b""
        outcome = self.server.receiver._handle(
            "http",
            path,
            headers,
            len(raw),
            encoding,
            lambda: _parse(raw, encoding, json_body),
            refuse,
        )
        self._answer(outcome, json_body)

    def _answer(self, outcome: Outcome, json_body: bool) -> None:
        extra: dict[str, str] = {}
        if outcome.status < 300:
            reply = ExportTraceServiceResponse()
            mime = _JSON if json_body else _PROTOBUF
            if outcome.garbage:
                body = GARBAGE
            elif json_body:
                body = json_format.MessageToJson(reply).encode()
            else:
                body = reply.SerializeToString()
        else:
            mime = _PROTOBUF
            if outcome.body is not None:
                body = outcome.body
            else:
                body = status_body(outcome.status, outcome.message, outcome.retry_after)
            if outcome.retry_after is not None:
                # Fractions are not RFC 9110 delay-seconds, but the Python exporter parses
                # them and they keep tests fast; whole numbers are sent as integers.
                extra["Retry-After"] = f"{outcome.retry_after:g}"
        try:
            self.send_response(outcome.status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The client gave up (its timeout was shorter than a scripted delay) or down()
            # closed the socket; nothing left to tell anyone.
            self.close_connection = True

    def _not_allowed(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed


class HttpIntake:
    """One HTTP server at a time; ``stop`` + ``start`` rebinds the same port."""

    def __init__(self, receiver: OtlpReceiver, host: str, port: int) -> None:
        self._receiver = receiver
        self._host = host
        self._requested = port
        self.port: int | None = port or None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        port = self.port if self.port is not None else self._requested
        server = _Server(self._receiver, (self._host, port))
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            # A short poll interval so that stop()/down() return promptly.
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"otlp-http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.lock:
            live = list(server.connections)
        for conn in live:
            # Kept-alive connections would otherwise go on being served after down().
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
