"""Scripted Stripe workloads run under injected faults, and what the app observed of them.

A :class:`Case` names everything that decides a run: call style, transport, workload,
the faults queued for the workload's requests, the SDK's retry budget and how our hooks
are broken. :func:`run_case` runs it once against the test server, reset with a fixed seed
(so the same requests get the same ids and request ids), bare or instrumented, and returns
an :class:`Observation`: the normalised return value or exception, and the requests the
server received for the workload. Two runs of the same case must give equal observations.

Only what no seed fixes is normalised: the SDK's uuid4 idempotency keys (numbered in order
of first appearance, so a key reused across retries still shows as the same key), epoch
and ISO timestamps, HTTP dates, and memory addresses.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import stripe
from stripe import StripeObject, StripeResponse  # stripe.X is a lazy lookup each time

from stripe_otel import StripeInstrumentor, internal_error_counts
from stripe_otel.testing import Fault, StripeTestServer
from tests.conftest import TEST_KEY, Telemetry
from tests.integration.test_fail_open import HOOKS

# -- the matrix ---------------------------------------------------------------------------

SYNC_STYLES = ("global", "instance", "client")
ASYNC_STYLES = ("global_async", "instance_async", "client_async")
TRANSPORTS = {False: ("requests", "httpx", "urllib"), True: ("httpx", "aiohttp")}
WORKLOADS = ("create", "retrieve", "list", "confirm", "raw_request", "v2")
# Instance methods exist for objects the app already holds; raw and v2 calls are
# StripeClient's only.
_STYLE_WORKLOADS = {
    "global": ("create", "retrieve", "list", "confirm"),
    "instance": ("retrieve", "confirm"),
    "client": WORKLOADS,
}
HOOK_MODES = ("normal", "all", "one")

# Slow-beyond-timeout: cases with a "slow" fault give the client this read timeout (only
# those) and the server answers SLOW_DELAY_S late. Every slow attempt costs the timeout;
# shorter ones let a busy CI machine time out ordinary requests too (seen at 0.25 s).
SLOW_TIMEOUT_S = 0.5
SLOW_DELAY_S = 1.5
# The SDK turns each of its ~11,600 items into a StripeObject: ~0.3 s a run.
HUGE_BYTES = 1_000_000

FAULTS: dict[str, Fault] = {
    "500": Fault(status=500),
    "503-should-retry-false": Fault(status=503, should_retry=False),
    "409": Fault(
        status=409,
        error_type="invalid_request_error",
        code="lock_timeout",
        message="This object cannot be accessed right now because another API request or "
        "Stripe process is currently accessing it.",
    ),
    "429": Fault(status=429, error_type="invalid_request_error"),
    "429-should-retry": Fault(status=429, error_type="invalid_request_error", should_retry=True),
    "429-should-retry-false": Fault(
        status=429, error_type="invalid_request_error", should_retry=False
    ),
    "reset": Fault(action="reset"),
    "reset_mid_body": Fault(action="reset_mid_body"),
    "truncated_json": Fault(action="truncated_json"),
    "non_json": Fault(action="non_json"),
    "unknown_fields": Fault(action="unknown_fields"),
    "wrong_content_type": Fault(action="wrong_content_type"),
    "slow": Fault(action="delay", delay_ms=SLOW_DELAY_S * 1000),
    "huge": Fault(action="huge", size_bytes=HUGE_BYTES),
}
# How often generation draws each kind, relatively: the two that cost real time (a timeout
# per attempt; decoding ~11,600 objects, twice) less often than the rest.
FAULT_WEIGHTS = {name: 1 if name in ("slow", "huge") else 3 for name in FAULTS}


def is_async(style: str) -> bool:
    return style.endswith("_async")


def workloads_for(style: str) -> tuple[str, ...]:
    return _STYLE_WORKLOADS[style.removesuffix("_async")]


@dataclass(frozen=True)
class Case:
    style: str
    transport: str
    workload: str
    faults: tuple[str, ...]
    retries: int
    hooks: str  # one of HOOK_MODES
    hook: int | None = None  # index into HOOKS when hooks == "one"
    declined: bool = False  # confirm with a card that is declined

    def __post_init__(self) -> None:
        assert self.transport in TRANSPORTS[is_async(self.style)]
        assert self.workload in workloads_for(self.style)
        assert all(f in FAULTS for f in self.faults)
        assert (self.hooks == "one") == (self.hook is not None)

    @property
    def slow(self) -> bool:
        return "slow" in self.faults

    def describe(self) -> str:
        hooks = self.hooks
        if self.hook is not None:
            module, name = HOOKS[self.hook]
            hooks = f"one:{getattr(module, '__name__', module)}.{name}"
        return (
            f"{self.style}/{self.transport}/{self.workload}"
            f"{'(declined)' if self.declined else ''} faults={list(self.faults)} "
            f"retries={self.retries} hooks={hooks}"
        )


# -- normalisation ------------------------------------------------------------------------

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_EPOCH = re.compile(r"\b1[6-9]\d{8}\b")
_ISO = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_HTTP_DATE = re.compile(r"\b[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\b")
_ADDRESS = re.compile(r"\bat 0x[0-9a-f]+\b")
SEED = 20261124


class Normaliser:
    """Maps what differs between identical runs to stable placeholders.

    Values are first turned into plain structures (Stripe objects keep their class name,
    keys are sorted), then their ``repr`` is rewritten: idempotency keys, timestamps, dates,
    addresses. A few regex passes over the whole text keep a 1 MB response cheap.
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def _key(self, match: re.Match[str]) -> str:
        return self._ids.setdefault(match.group(0), f"<uuid{len(self._ids)}>")

    def text(self, value: str) -> str:
        value = _UUID.sub(self._key, value)
        value = _ISO.sub("<iso>", value)
        value = _EPOCH.sub("<ts>", value)
        value = _HTTP_DATE.sub("<date>", value)  # the Date header (urllib errors carry them)
        return _ADDRESS.sub("at <addr>", value)

    def _plain(self, value: Any) -> Any:
        if isinstance(value, StripeObject):
            return (type(value).__name__, self._fields(value._data))
        if isinstance(value, StripeResponse):
            return ("StripeResponse", value.code, self._plain(value.data))
        if isinstance(value, dict):
            return ("dict", self._fields(value))
        if isinstance(value, list | tuple):
            return [self._plain(v) for v in value]
        if value is None or isinstance(value, str | int | float):
            return value
        return type(value)  # e.g. the headers an APIError carries as its json_body

    def _fields(self, data: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(k, self._plain(v)) for k, v in sorted(data.items())]

    def returned(self, result: Any) -> tuple[str, str]:
        response = getattr(result, "last_response", None)
        seen = None
        if response is not None:
            seen = (response.code, response.request_id, response.idempotency_key)
        return ("returned", self.text(repr((self._plain(result), seen))))

    def raised(self, exc: BaseException) -> tuple[str, str]:
        err = getattr(exc, "error", None)
        cause = exc.__cause__
        facts = (
            type(exc).__module__,
            type(exc).__qualname__,
            str(exc),
            getattr(exc, "http_status", None),
            getattr(exc, "code", None),
            getattr(exc, "should_retry", None),
            self._plain(getattr(exc, "json_body", None)),
            getattr(err, "type", None),
            getattr(exc, "request_id", None),
            None if cause is None else (type(cause).__module__, type(cause).__qualname__),
        )
        return ("raised", self.text(repr(facts)))


# -- clients ------------------------------------------------------------------------------


def http_client(transport: str, timeout: float | None) -> stripe.HTTPClient:
    if transport == "requests":
        return stripe.RequestsClient(**({"timeout": timeout} if timeout else {}))
    if transport == "httpx":
        return stripe.HTTPXClient(
            allow_sync_methods=True, **({"timeout": timeout} if timeout else {})
        )
    if transport == "urllib":
        return stripe.UrllibClient()  # no timeout argument: see _socket_timeout
    if transport == "aiohttp":
        # A read timeout like the others' (a float would bound the whole exchange).
        return stripe.AIOHTTPClient(
            timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout) if timeout else 80
        )
    raise AssertionError(transport)


@contextmanager
def _socket_timeout(seconds: float | None) -> Iterator[None]:
    """UrllibClient calls urlopen() without a timeout: new sockets get the default one."""
    if seconds is None:
        yield
        return
    saved = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(saved)


@contextmanager
def _broken_hooks(case: Case) -> Iterator[None]:
    def raiser(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in stripe-otel")

    chosen = HOOKS if case.hooks == "all" else [HOOKS[case.hook]] if case.hook is not None else []
    with pytest.MonkeyPatch.context() as patch:
        for module, name in chosen:
            patch.setattr(module, name, raiser)
        yield


# -- the workloads ------------------------------------------------------------------------

PI_PARAMS: dict[str, Any] = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]}
IDEMPOTENCY_KEY = "fault-matrix-confirm-0001"
V2_PARAMS: dict[str, Any] = {
    "event_name": "api_call",
    "payload": {"stripe_customer_id": "cus_FaultMatrix", "value": "1"},
    "identifier": "fault-matrix-0001",
    "timestamp": "2026-01-01T00:00:00.000Z",
}


@dataclass
class Setup:
    """Objects made before the faults are queued (bare, through global style)."""

    customers: list[stripe.Customer] = field(default_factory=list)
    intent: stripe.PaymentIntent | None = None


def _setup(case: Case) -> Setup:
    setup = Setup()
    if case.workload == "retrieve":
        setup.customers.append(stripe.Customer.create(description="retrieved"))
    elif case.workload == "list":
        # Three customers in pages of two: auto-pagination makes two requests.
        setup.customers.extend(stripe.Customer.create(description=f"c{i}") for i in range(3))
    elif case.workload == "confirm":
        setup.intent = stripe.PaymentIntent.create(**PI_PARAMS)
    return setup


def _card(case: Case) -> str:
    return "pm_card_chargeDeclined" if case.declined else "pm_card_visa"


def _sync_call(case: Case, setup: Setup, client: stripe.StripeClient | None) -> Any:
    """The workload's own requests, in the case's sync style; returns what the app gets."""
    w = case.workload
    if case.style == "instance":
        if w == "retrieve":
            return setup.customers[0].refresh()
        assert setup.intent is not None
        return setup.intent.confirm(payment_method=_card(case), idempotency_key=IDEMPOTENCY_KEY)
    if case.style == "global":
        if w == "create":
            return stripe.PaymentIntent.create(**PI_PARAMS, description="created")
        if w == "retrieve":
            return stripe.Customer.retrieve(setup.customers[0].id)
        if w == "list":
            return list(stripe.Customer.list(limit=2).auto_paging_iter())
        assert setup.intent is not None
        return stripe.PaymentIntent.confirm(
            setup.intent.id, payment_method=_card(case), idempotency_key=IDEMPOTENCY_KEY
        )
    assert client is not None
    v1 = client.v1
    if w == "create":
        return v1.payment_intents.create(params={**PI_PARAMS, "description": "created"})
    if w == "retrieve":
        return v1.customers.retrieve(setup.customers[0].id)
    if w == "list":
        return list(v1.customers.list(params={"limit": 2}).auto_paging_iter())
    if w == "confirm":
        assert setup.intent is not None
        return v1.payment_intents.confirm(
            setup.intent.id,
            params={"payment_method": _card(case)},
            options={"idempotency_key": IDEMPOTENCY_KEY},
        )
    if w == "raw_request":
        return client.raw_request("post", "/v1/customers", description="raw")
    assert w == "v2"
    return client.v2.billing.meter_events.create(params=V2_PARAMS)


async def _async_call(case: Case, setup: Setup, client: stripe.StripeClient | None) -> Any:
    w = case.workload
    if case.style == "instance_async":
        if w == "retrieve":
            return await setup.customers[0].refresh_async()
        assert setup.intent is not None
        return await setup.intent.confirm_async(
            payment_method=_card(case), idempotency_key=IDEMPOTENCY_KEY
        )
    if case.style == "global_async":
        if w == "create":
            return await stripe.PaymentIntent.create_async(**PI_PARAMS, description="created")
        if w == "retrieve":
            return await stripe.Customer.retrieve_async(setup.customers[0].id)
        if w == "list":
            page = await stripe.Customer.list_async(limit=2)
            return [c async for c in page.auto_paging_iter()]
        assert setup.intent is not None
        return await stripe.PaymentIntent.confirm_async(
            setup.intent.id, payment_method=_card(case), idempotency_key=IDEMPOTENCY_KEY
        )
    assert client is not None
    v1 = client.v1
    if w == "create":
        return await v1.payment_intents.create_async(params={**PI_PARAMS, "description": "created"})
    if w == "retrieve":
        return await v1.customers.retrieve_async(setup.customers[0].id)
    if w == "list":
        page = await v1.customers.list_async(params={"limit": 2})
        return [c async for c in page.auto_paging_iter()]
    if w == "confirm":
        assert setup.intent is not None
        return await v1.payment_intents.confirm_async(
            setup.intent.id,
            params={"payment_method": _card(case)},
            options={"idempotency_key": IDEMPOTENCY_KEY},
        )
    if w == "raw_request":
        return await client.raw_request_async("post", "/v1/customers", description="raw")
    assert w == "v2"
    return await client.v2.billing.meter_events.create_async(params=V2_PARAMS)


def _observe(norm: Normaliser, call: Callable[[], Any]) -> tuple[str, str]:
    try:
        result = call()
    except Exception as exc:
        return norm.raised(exc)
    return norm.returned(result)


async def _observe_async(norm: Normaliser, call: Callable[[], Awaitable[Any]]) -> tuple[str, str]:
    try:
        result = await call()
    except Exception as exc:
        return norm.raised(exc)
    return norm.returned(result)


# -- one run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What the app saw, and what the server saw of the workload."""

    outcome: tuple[str, str]  # ("returned" | "raised", normalised facts)
    request_count: int
    requests: tuple[tuple[str, str, str, str, int], ...]


@dataclass
class RunInfo:
    """What the instrumented run recorded (empty for a bare run)."""

    operations: int = 0
    attempts: int = 0
    internal_errors: int = 0


def run_case(
    case: Case, server: StripeTestServer, telemetry: Telemetry | None
) -> tuple[Observation, RunInfo]:
    """Run *case* once: bare when *telemetry* is None, else instrumented with it."""
    server.reset(seed=SEED)
    setup_client = stripe.RequestsClient()
    stripe.default_http_client = setup_client
    stripe.max_network_retries = 0
    try:
        setup = _setup(case)
    finally:
        setup_client.close()
    timeout = SLOW_TIMEOUT_S if case.slow else None
    transport = http_client(case.transport, timeout)
    stripe.default_http_client = transport
    stripe.max_network_retries = case.retries
    client: stripe.StripeClient | None = None
    if case.style.startswith("client"):
        client = stripe.StripeClient(
            TEST_KEY,
            base_addresses={"api": server.url},
            http_client=transport,
            max_network_retries=case.retries,
        )
    before = _control_request_count(server)
    info = RunInfo()
    instrumentor = StripeInstrumentor()
    if telemetry is not None:
        telemetry.exporter.clear()
        instrumentor.instrument(
            tracer_provider=telemetry.provider, meter_provider=telemetry.meter_provider
        )
        info.internal_errors = -sum(internal_error_counts().values())
    norm = Normaliser()
    try:
        with _broken_hooks(case):
            for name in case.faults:
                server.add_fault(FAULTS[name])
            with _socket_timeout(timeout if case.transport == "urllib" else None):
                if is_async(case.style):
                    outcome = asyncio.run(_run_async(case, setup, client, transport, norm))
                else:
                    outcome = _observe(norm, lambda: _sync_call(case, setup, client))
                    transport.close()
    finally:
        if telemetry is not None:
            info.internal_errors += sum(internal_error_counts().values())
            instrumentor.uninstrument()
    if telemetry is not None:
        ops = telemetry.operations()
        info.operations = len(ops)
        info.attempts = sum(len(telemetry.attempts(op)) for op in ops)
    count = _control_request_count(server) - before
    recorded = server.requests[before:]
    requests = tuple(
        (r.method, *map(norm.text, (r.path, r.query, r.body.decode("latin-1"))), r.status)
        for r in recorded
    )
    assert count == len(requests), "the server's count and its record disagree"
    return Observation(outcome, count, requests), info


def _control_request_count(server: StripeTestServer) -> int:
    """Requests the server has received, from its control API (not counted itself)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/_control/health")
        return int(json.loads(conn.getresponse().read())["request_count"])
    finally:
        conn.close()


async def _run_async(
    case: Case,
    setup: Setup,
    client: stripe.StripeClient | None,
    transport: stripe.HTTPClient,
    norm: Normaliser,
) -> tuple[str, str]:
    try:
        return await _observe_async(norm, lambda: _async_call(case, setup, client))
    finally:
        await transport.close_async()
