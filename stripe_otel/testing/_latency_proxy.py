"""LatencyProxy: a loopback TCP proxy that delays each direction by a one-way latency."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import ipaddress
import math
import selectors
import threading

__all__ = ["LatencyProxy"]

#: How long before a chunk is due its timer fires; the rest is busy-waited. Timers
#: overshoot by 0.1-0.5 ms (timer slack, wake-up latency), more than the accuracy we want,
#: so we wake up early and wait out the remainder ourselves.
_SPIN_S = 0.0005


def _loopback(host: str, role: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return host
    raise ValueError(f"LatencyProxy {role} must be a loopback address, not {host!r}")


class _End(enum.Enum):
    EOF = "eof"  # the sender half-closed: half-close the receiver too
    CLOSE = "close"  # the sender is gone: close the receiver


class _Direction:
    """One way of a connection: chunks queued with the loop time they are due at the far end.

    A timer callback rather than a task per direction: ``call_at`` fires in the same loop
    iteration as its deadline, whereas a sleeping task needs one more iteration to resume.
    """

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._loop = conn.loop
        self._queue: collections.deque[tuple[float, bytes | _End]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self.dst: asyncio.Transport | None = None
        self.done = False  # nothing more will reach the receiver: EOF delivered, or dropped
        self.dropped = False  # the receiver is gone

    def push(self, item: bytes | _End, delay_s: float) -> None:
        if self.dropped:
            return
        # FIFO: flush() only ever looks at the head, so a chunk read after the delay was
        # lowered waits for the ones before it, and order is kept.
        self._queue.append((self._loop.time() + delay_s, item))
        if self._timer is None:
            self.flush()

    def flush(self) -> None:
        self._timer = None
        dst = self.dst
        if dst is None:  # upstream still connecting; connection_made flushes
            return
        while self._queue and not self._conn.closed:
            due, item = self._queue[0]
            if due - self._loop.time() > _SPIN_S:
                self._timer = self._loop.call_at(due - _SPIN_S, self.flush)
                return
            # Busy-wait, holding the CPU and the GIL for < _SPIN_S: a short sleep
            # overshoots as much as the timer did, and sched_yield() queues us behind
            # any runnable process (measured 2-4 ms late with one CPU hog running).
            while self._loop.time() < due:
                pass
            self._queue.popleft()
            if isinstance(item, bytes):
                dst.write(item)
            elif item is _End.EOF:
                self.done = True
                try:
                    dst.write_eof()
                except OSError:  # reset while half-closed: the transport was not reading
                    self._conn.close()
                self._conn.maybe_finish()
            else:
                self._conn.close()

    def drop(self) -> None:
        """The receiver is gone: nothing queued can be delivered any more."""
        self.done = self.dropped = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Side(asyncio.Protocol):
    def __init__(self, conn: _Connection, upstream: bool) -> None:
        self._conn = conn
        self._upstream = upstream

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._conn.attach(self._upstream, transport)

    def data_received(self, data: bytes) -> None:
        self._conn.outgoing(self._upstream).push(data, self._conn.proxy.delay_s)

    def eof_received(self) -> bool:
        self._conn.outgoing(self._upstream).push(_End.EOF, self._conn.proxy.delay_s)
        return True  # keep the transport open: the other direction may still carry data

    def connection_lost(self, exc: Exception | None) -> None:
        self._conn.lost(self._upstream)

    # Backpressure: a receiver that stops reading stops us reading from its peer.
    def pause_writing(self) -> None:
        self._conn.transports[not self._upstream].pause_reading()

    def resume_writing(self) -> None:
        self._conn.transports[not self._upstream].resume_reading()


class _Connection:
    def __init__(
        self, proxy: LatencyProxy, loop: asyncio.AbstractEventLoop, live: set[_Connection]
    ) -> None:
        self.proxy = proxy
        self._live = live  # the proxy's open connections, for stop()
        live.add(self)
        self.loop = loop
        self.closed = False
        self.transports: dict[bool, asyncio.Transport] = {}
        self._to_upstream = _Direction(self)
        self._to_client = _Direction(self)
        self._connecting: asyncio.Task[None] | None = None

    def outgoing(self, from_upstream: bool) -> _Direction:
        return self._to_client if from_upstream else self._to_upstream

    def attach(self, upstream: bool, transport: asyncio.Transport) -> None:
        if self.closed:
            transport.close()
            return
        self.transports[upstream] = transport
        self.outgoing(not upstream).dst = transport
        if upstream:
            self._to_upstream.flush()  # client bytes that fell due while connecting
        else:
            self._connecting = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            await self.loop.create_connection(
                lambda: _Side(self, upstream=True),
                self.proxy.upstream_host,
                self.proxy.upstream_port,
            )
        except OSError:
            self.close()

    def lost(self, upstream: bool) -> None:
        if self.closed:
            return
        self.outgoing(not upstream).drop()
        # Bytes already read from the lost side still arrive, after their delay.
        self.outgoing(upstream).push(_End.CLOSE, self.proxy.delay_s)

    def maybe_finish(self) -> None:
        if self._to_upstream.done and self._to_client.done:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._to_upstream.drop()
        self._to_client.drop()
        if self._connecting is not None:
            self._connecting.cancel()
        for transport in self.transports.values():
            transport.close()  # flushes what was already written, then closes
        self._live.discard(self)


class LatencyProxy:
    """A TCP proxy on loopback adding ``one_way_delay_ms`` to each direction.

    Every chunk read from one side is written to the other ``one_way_delay_ms`` after it
    was read, in order, with unlimited bandwidth: a link with that one-way latency. TLS
    passes through untouched, so a TLS handshake through the proxy takes at least two
    one-way delays. Half-closes are forwarded after the delay; when a side closes, bytes
    still in flight are delivered and then the other side is closed.

    A userspace proxy cannot delay the TCP handshake: the kernel completes the client's
    ``connect()`` immediately, and only then does the proxy open the upstream connection.
    The first delayed bytes are the first payload bytes.

    Chunks are delivered within a few microseconds of their deadline: a timer wakes the
    loop ``_SPIN_S`` (0.5 ms) early and busy-waits the rest, holding the GIL. The loop
    uses ``select()`` because epoll and poll take whole milliseconds (Python rounds the
    timeout up), which would defeat that; ``select()`` takes microseconds (its limit of
    file descriptors below 1024 is no matter for a test process).
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        one_way_delay_ms: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.upstream_host = _loopback(upstream_host, "upstream_host")
        self.upstream_port = upstream_port
        self.host = _loopback(host, "host")
        self._requested_port = port
        self.delay_s = 0.0
        self.one_way_delay_ms = one_way_delay_ms
        self._connections_opened = 0
        self._live: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def one_way_delay_ms(self) -> float:
        return self.delay_s * 1000.0

    @one_way_delay_ms.setter
    def one_way_delay_ms(self, ms: float) -> None:
        # Read by the loop thread on every chunk; a float store is atomic, so no lock.
        if math.isnan(ms) or ms < 0:
            raise ValueError(f"one_way_delay_ms must be >= 0, not {ms!r}")
        self.delay_s = ms / 1000.0

    @property
    def connections_opened(self) -> int:
        """Client connections accepted so far (tells a new connection from a reused one)."""
        return self._connections_opened

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LatencyProxy is not started")
        return self._port

    def start(self) -> LatencyProxy:
        """Start listening; returns once the socket is bound. Raises if binding fails."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("LatencyProxy already started")
            ready = threading.Event()
            errors: list[BaseException] = []
            self._thread = threading.Thread(
                target=self._run, args=(ready, errors), name="latency-proxy", daemon=True
            )
            self._thread.start()
            ready.wait()
            if errors:
                self._thread.join()
                raise errors[0]
        return self

    def _accept(self) -> _Side:
        assert self._loop is not None
        self._connections_opened += 1
        return _Side(_Connection(self, self._loop, self._live), upstream=False)

    def _run(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
        self._loop = loop
        try:
            server = loop.run_until_complete(
                loop.create_server(self._accept, self.host, self._requested_port)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            errors.append(exc)
            loop.close()
            ready.set()
            return
        self._port = int(server.sockets[0].getsockname()[1])
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for conn in list(self._live):
                conn.close()
                for transport in conn.transports.values():
                    transport.abort()  # don't wait to flush: stop() means now
            loop.run_until_complete(server.wait_closed())
            # Cancelled upstream connects must finish before the loop closes, and the
            # aborted transports' connection_lost callbacks need one more iteration.
            pending = asyncio.all_tasks(loop)
            loop.run_until_complete(asyncio.wait(pending) if pending else asyncio.sleep(0))
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def stop(self) -> None:
        """Close the listener and every connection. Safe to call more than once."""
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None or self._stopped or loop.is_closed():
                return
            self._stopped = True
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    def __enter__(self) -> LatencyProxy:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
