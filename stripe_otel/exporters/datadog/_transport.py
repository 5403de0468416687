"""PUT a payload to the Datadog Agent over one kept-alive connection.

Standard library only (``http.client``), so the Datadog exporter adds no HTTP dependency.
TCP (``http://host:port``) and the Agent's Unix socket (``unix:///var/run/datadog/apm.socket``)
are supported. Errors are returned as ``None``, never raised: the caller is an exporter.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

DEFAULT_AGENT_URL: Final = "http://localhost:8126"


def agent_url_from_env() -> str:
    """``DD_TRACE_AGENT_URL``, else ``DD_AGENT_HOST`` + ``DD_TRACE_AGENT_PORT`` (8126)."""
    url = os.environ.get("DD_TRACE_AGENT_URL", "").strip()
    if url:
        return url
    host = os.environ.get("DD_AGENT_HOST", "").strip() or "localhost"
    port = os.environ.get("DD_TRACE_AGENT_PORT", "").strip() or "8126"
    if ":" in host and not host.startswith("["):  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class AgentTransport:
    """One connection, reused across exports; reopened after any error.

    Not thread-safe: the resilience layer calls its exporter under a lock.
    """

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "unix"):
            raise ValueError(f"unsupported Datadog Agent URL scheme {parts.scheme!r}")
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname or "localhost"
        self._port = parts.port
        # unix:///path/to/socket: the socket path is the URL's path.
        self._socket_path = parts.path if parts.scheme == "unix" else ""
        self._prefix = "" if parts.scheme == "unix" else parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "unix":
            return _UnixConnection(self._socket_path, self._timeout)
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return http.client.HTTPConnection(self._host, self._port or 8126, timeout=self._timeout)

    def put(self, path: str, body: bytes, headers: Mapping[str, str]) -> int | None:
        """The response status, or None when no response came (connection error)."""
        for _ in range(2):
            reused = self._conn is not None
            conn = self._conn or self._connect()
            self._conn = conn
            try:
                conn.request("PUT", self._prefix + path, body=body, headers=dict(headers))
                response = conn.getresponse()
                response.read()  # drain it, or the connection cannot be reused
                if response.will_close:
                    self.close()
                return response.status
            except TimeoutError:  # a slow Agent: waiting again would double the stall
                self.close()
                return None
            except (OSError, http.client.HTTPException):
                self.close()
                # A kept-alive connection the Agent closed while idle fails on first use:
                # that says nothing about the Agent, so try once more on a fresh one.
                if not reused:
                    return None
        return None

    def forget(self) -> None:
        """Drop the connection without closing it (in a forked child: it is the parent's)."""
        self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):  # a broken socket: nothing left to do
                conn.close()
