"""A small HTTP/1.1 server protocol for asyncio.

Only what a test double needs: request line, headers, a ``Content-Length`` (or chunked)
body, keep-alive by default, ``Connection: close`` honoured, ``Expect: 100-continue``,
pipelined requests answered in order. The handler is synchronous and returns a
:class:`Reply` carrying the exact bytes to write and what to do with the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["REASONS", "HttpProtocol", "Reply", "Request", "render_head"]

_log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024

REASONS = {s.value: s.phrase for s in HTTPStatus}


@dataclass(slots=True)
class Request:
    """One parsed request. Header names are lower-cased; repeated headers joined by ", "."""

    method: str
    target: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    received_at: float = 0.0


@dataclass(slots=True)
class Reply:
    """What to send back.

    ``data`` is written as-is after ``delay`` seconds; then the connection is closed if
    ``close``. With ``abort`` nothing is written and the connection is reset (RST).
    """

    data: bytes = b""
    delay: float = 0.0
    close: bool = False
    abort: bool = False


Handler = Callable[[Request], Reply]


def render_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    reason = REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _simple_reply(status: int, message: str) -> bytes:
    body = message.encode()
    head = render_head(
        status,
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return head + body


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpProtocol(asyncio.Protocol):
    """One connection. Requests are handled one at a time, in order."""

    def __init__(
        self,
        handler: Handler,
        connections: set[HttpProtocol],
        clock: Callable[[], float],
    ) -> None:
        self._handler = handler
        self._connections = connections
        self._clock = clock
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._closing = False
        self._continue_sent = False

    # -- asyncio callbacks -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._transport = None
        self._closing = True

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buf += data
        if self._pending is None:
            self._process()

    def eof_received(self) -> bool | None:
        if self._pending is None and not self._buf:
            return None  # let the transport close
        if self._transport is not None and self._transport.get_extra_info("sslcontext"):
            return None  # half-close is not supported over TLS
        return True  # keep the write side open until the pending reply is sent

    # -- public ------------------------------------------------------------------------
    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- internals ---------------------------------------------------------------------
    def _process(self) -> None:
        while self._buf and not self._closing and self._pending is None:
            try:
                req = self._parse()
            except _BadRequest as exc:
                self._write_and_close(_simple_reply(exc.status, exc.message))
                return
            if req is None:
                return
            self._continue_sent = False
            try:
                reply = self._handler(req)
            except Exception:  # noqa: BLE001 - never leave a client hanging
                _log.exception("test server handler failed")
                self._write_and_close(_simple_reply(500, "Internal Server Error"))
                return
            if reply.delay > 0:
                loop = asyncio.get_running_loop()
                self._pending = loop.call_later(reply.delay, self._finish, reply, req.keep_alive)
                return
            self._finish(reply, req.keep_alive, resume=False)

    def _finish(self, reply: Reply, keep_alive: bool, resume: bool = True) -> None:
        self._pending = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if reply.abort:
            self._reset(transport)
            return
        if reply.data:
            transport.write(reply.data)
        if reply.close or not keep_alive:
            self._closing = True
            transport.close()
            return
        if resume and self._buf:
            self._process()

    def _reset(self, transport: asyncio.Transport) -> None:
        self._closing = True
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _write_and_close(self, data: bytes) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.write(data)
            self._transport.close()

    def _parse(self) -> Request | None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise _BadRequest(431, "Request Header Fields Too Large")
            return None
        head = bytes(buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "Bad Request")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(400, "Bad Request")
            key = name.strip().lower()
            value = value.strip()
            if key in headers:
                headers[key] = headers[key] + ", " + value
            else:
                headers[key] = value
        start = end + 4
        te = headers.get("transfer-encoding")
        if te is not None and te.lower() != "identity":
            if te.lower() != "chunked":
                raise _BadRequest(501, "Not Implemented")
            parsed = _parse_chunked(buf, start)
            if parsed is None:
                self._maybe_continue(headers, version)
                return None
            body, consumed = parsed
        else:
            cl = headers.get("content-length")
            length = 0
            if cl is not None:
                if not cl.isdigit():
                    raise _BadRequest(400, "Bad Request")
                length = int(cl)
                if length > MAX_BODY:
                    raise _BadRequest(413, "Payload Too Large")
            if len(buf) - start < length:
                self._maybe_continue(headers, version)
                return None
            body = bytes(buf[start : start + length])
            consumed = start + length
        del buf[:consumed]
        conn = headers.get("connection", "").lower()
        keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        path, _, query = target.partition("?")
        return Request(
            method=method.upper(),
            target=target,
            path=path,
            query=query,
            version=version,
            headers=headers,
            body=body,
            keep_alive=keep_alive,
            received_at=self._clock(),
        )

    def _maybe_continue(self, headers: dict[str, str], version: str) -> None:
        if (
            not self._continue_sent
            and version == "HTTP/1.1"
            and headers.get("expect", "").lower() == "100-continue"
            and self._transport is not None
        ):
            self._continue_sent = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def _parse_chunked(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``pos``; None if incomplete."""
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _BadRequest(400, "Bad Request") from None
        pos = eol + 2
        if size == 0:
            # Skip trailers up to the empty line.
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return bytes(out), eol + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        if len(out) > MAX_BODY:
            raise _BadRequest(413, "Payload Too Large")
        pos += size + 2
