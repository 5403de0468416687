"""No secret reaches telemetry: generated card numbers, CVCs, keys, webhook secrets, emails,
phone numbers and postal addresses go through every position an app (or Stripe) can put
them in, and a scanner looks for them in every exported span, event, link, metric
attribute and log line.

* :func:`test_api_calls_leak_nothing`: one real HTTP call per case to the local Stripe
  server, carrying the case's secrets in *every* request position at once: the client's
  and the per-request API key, ``Stripe-Account``, the idempotency key, a custom header,
  top-level / nested / list / metadata-key / metadata-value / description params, the
  object id in the path, the query string; and, when the case says so, an error response
  that echoes them (message, ``param``, ``code``, ``decline_code``, response headers) as
  real Stripe does, with a retry on 429/500. Successful responses echo them too (a
  customer's email and address, a payment method's billing details). Sync and async,
  ``StripeClient`` and global style, requests / httpx / urllib transports.
* :func:`test_webhooks_leak_nothing`: payloads with the secrets in every field (including
  the ones stripe-otel records: event id and type, API version, account, object id,
  request id and idempotency key), the ``whsec_`` secret, valid and invalid signatures,
  through ``stripe.Webhook.construct_event``, ``StripeClient.construct_event`` and
  ``StripeClient.parse_event_notification``.

The instrumentor runs with every opt-in that records more turned on
(``record_idempotency_key``, ``record_object_id``, ``webhook_metadata_link``, Datadog
names): a user may enable them. A case is one generated example; the last test checks
that they add up to at least 10,000. Generation is derandomized, so CI runs the same cases.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode
from stripe._http_client import HTTPClient
from stripe._webhook import WebhookSignature

from stripe_otel import StripeInstrumentor, semconv
from stripe_otel.testing import Fault, StripeTestServer
from tests.conftest import TEST_KEY, Telemetry
from tests.reliability import _leak_scanner as ls
from tests.reliability._hypothesis import reproducible
from tests.reliability._secret_strategies import SLOTS as _SLOTS
from tests.reliability._secret_strategies import Bundle, bundles, webhook_secrets
from tests.reliability._secret_strategies import slot as _slot

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_CASES = 6_000
WEBHOOK_CASES = 4_000
REQUIRED_CASES = 10_000
#: Cases actually run (and scanned) in this session, per test.
CASES_RUN: dict[str, int] = {}


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def leak_telemetry(telemetry: Telemetry) -> Iterator[Telemetry]:
    """Instrumented with every setting that records more turned on."""
    instrumentor = StripeInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.provider,
        meter_provider=telemetry.meter_provider,
        record_idempotency_key=True,
        record_object_id=True,
        webhook_metadata_link=True,
        datadog_names=True,
    )
    yield telemetry
    instrumentor.uninstrument()


@pytest.fixture
def logs() -> Iterator[ls.LogCapture]:
    with ls.LogCapture() as capture:
        yield capture


# The SDK and its transports log requests themselves at DEBUG, with or without stripe-otel:
# stripe's `log_debug("Post details", post_data=...)` and `log_debug("API response body")`,
# urllib3's and httpx's request lines (with query strings). That is the app's own SDK
# logging what the app asked it to send, configured by the app (`stripe.log`, logger
# levels). Such records are scanned like all others, but a hit in one is not a finding
# against stripe-otel: it is attributed by the file that emitted the record.
_SDK_OWN_LOGGING = tuple(
    str(Path(module.__file__).parent)  # type: ignore[arg-type]
    for module in (
        stripe,
        __import__("urllib3"),
        __import__("httpx"),
        __import__("httpcore"),
        __import__("requests"),
        asyncio,
    )
)


def _ours(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if not r.pathname.startswith(_SDK_OWN_LOGGING)]


def _assert_no_leaks(secrets: list[ls.Secret], telemetry: Telemetry, logs: ls.LogCapture) -> None:
    texts = [
        *ls.texts_of_spans(telemetry.spans()),
        *ls.texts_of_metrics(telemetry.metrics),
        *ls.texts_of_logs(_ours(logs.records)),
    ]
    findings = ls.scan(secrets, texts)
    assert not findings, "secrets leaked:\n" + "\n".join(str(f) for f in findings)


# -- API calls ---------------------------------------------------------------------------

_CALLS = ("customer_create", "payment_method_create", "retrieve_by_secret_id", "list_query",
          "raw_request")  # fmt: skip
_ERRORS = ("none", "none", "invalid_request", "card_error", "rate_limited", "server_error")


@dataclass(frozen=True)
class ApiCase:
    bundle: Bundle
    call: str
    style: str  # client | global
    is_async: bool
    transport: str
    error: str
    idempotency_slot: str | None
    account_slot: str
    header_slot: str
    param_slot: str
    code_slot: str
    decline_slot: str
    header_echo_slot: str


api_cases = st.builds(
    ApiCase,
    bundle=bundles,
    call=st.sampled_from(_CALLS),
    style=st.sampled_from(("client", "global")),
    is_async=st.booleans(),
    transport=st.sampled_from(("requests", "httpx", "urllib")),
    error=st.sampled_from(_ERRORS),
    idempotency_slot=st.one_of(st.none(), st.sampled_from(_SLOTS)),
    account_slot=st.sampled_from(_SLOTS),
    header_slot=st.sampled_from(_SLOTS),
    param_slot=st.sampled_from(_SLOTS),
    code_slot=st.sampled_from(_SLOTS),
    decline_slot=st.sampled_from(_SLOTS),
    header_echo_slot=st.sampled_from(_SLOTS),
)


def _customer_params(b: Bundle) -> dict[str, Any]:
    return {
        "email": b.email.value,
        "phone": b.phone.value,
        "name": b.line1,
        "description": b.text(),
        "address": b.address_params(),
        "shipping": {"name": b.email.value, "phone": b.phone.value,
                     "address": b.address_params()},
        "metadata": {
            b.cvc.value: b.card.value,
            b.email.value[:40]: b.phone.value,
            "key": b.key.value,
            "hook": b.whsec.value,
            "where": b.address.value,
            "cvc": b.cvc.value,
        },
        "invoice_settings": {"custom_fields": [
            {"name": "card", "value": b.card.value[:30]},
            {"name": "cvc", "value": b.cvc.value},
        ]},
        "preferred_locales": [b.email.value, b.phone.value, b.postal],
        "tax_id_data": [{"type": "eu_vat", "value": b.card.value}],
    }  # fmt: skip


def _payment_method_params(b: Bundle) -> dict[str, Any]:
    return {
        "type": "card",
        "card": {"number": b.card.value, "cvc": b.cvc.value, "exp_month": 12,
                 "exp_year": 2034},
        "billing_details": {"email": b.email.value, "phone": b.phone.value,
                            "name": b.line1, "address": b.address_params()},
        "metadata": {"cvc": b.cvc.value, b.phone.value: b.key.value},
    }  # fmt: skip


def _list_params(b: Bundle) -> dict[str, Any]:
    return {"email": b.email.value, "limit": 3, "starting_after": b.card.value,
            "created": {"gte": b.cvc.value}, "test_clock": b.phone.value}  # fmt: skip


def _fault(case: ApiCase) -> Fault | None:
    b = case.bundle
    echo = {
        "Request-Id": _slot(b, case.header_echo_slot),
        "Stripe-Version": _slot(b, case.header_echo_slot),
        "Idempotency-Key": _slot(b, case.header_echo_slot),
        "X-Echo": b.text(),
    }
    common: dict[str, Any] = {
        "message": f"Invalid value: {b.text()}",
        "param": _slot(b, case.param_slot),
        "code": _slot(b, case.code_slot),
        "headers": echo,
    }
    if case.error == "invalid_request":
        # Stripe blames the parameter by name; with metadata that name holds the app's key.
        common["param"] = f"metadata[{_slot(b, case.param_slot)}]"
        return Fault(status=400, error_type="invalid_request_error", **common)
    if case.error == "card_error":
        return Fault(status=402, error_type="card_error",
                     decline_code=_slot(b, case.decline_slot), **common)  # fmt: skip
    if case.error == "rate_limited":
        echo["Stripe-Rate-Limited-Reason"] = _slot(b, case.header_echo_slot)
        return Fault(status=429, error_type="invalid_request_error", should_retry=True, **common)
    if case.error == "server_error":
        return Fault(status=500, error_type="api_error", should_retry=True, **common)
    return None


def _options(case: ApiCase) -> dict[str, Any]:
    b = case.bundle
    options: dict[str, Any] = {
        "api_key": b.request_key.value,
        "stripe_account": _slot(b, case.account_slot),
        "headers": {"X-Leak-Probe": _slot(b, case.header_slot)},
    }
    if case.idempotency_slot is not None:
        options["idempotency_key"] = _slot(b, case.idempotency_slot)
    return options


def _client_call(client: stripe.StripeClient, case: ApiCase) -> Any:
    b, options = case.bundle, _options(case)
    v1 = client.v1
    if case.call == "customer_create":
        if case.is_async:
            return v1.customers.create_async(params=_customer_params(b), options=options)
        return v1.customers.create(params=_customer_params(b), options=options)
    if case.call == "payment_method_create":
        params = _payment_method_params(b)
        if case.is_async:
            return v1.payment_methods.create_async(params=params, options=options)
        return v1.payment_methods.create(params=params, options=options)
    if case.call == "retrieve_by_secret_id":
        # Also used as the path id, an object id must never reach the span name.
        object_id = _slot(b, case.param_slot)
        if case.is_async:
            return v1.customers.retrieve_async(object_id, options=options)
        return v1.customers.retrieve(object_id, options=options)
    if case.call == "list_query":
        if case.is_async:
            return v1.customers.list_async(params=_list_params(b), options=options)
        return v1.customers.list(params=_list_params(b), options=options)
    extra = {k: v for k, v in options.items() if k != "api_key"}
    if case.is_async:
        return client.raw_request_async(
            "post", "/v1/customers", email=b.email.value, description=b.text(), **extra
        )
    return client.raw_request(
        "post", "/v1/customers", email=b.email.value, description=b.text(), **extra
    )


def _global_call(case: ApiCase) -> Any:
    b, options = case.bundle, _options(case)
    if case.call in ("customer_create", "raw_request"):
        fn = stripe.Customer.create_async if case.is_async else stripe.Customer.create
        return fn(**_customer_params(b), **options)
    if case.call == "payment_method_create":
        fn = stripe.PaymentMethod.create_async if case.is_async else stripe.PaymentMethod.create
        return fn(**_payment_method_params(b), **options)
    if case.call == "retrieve_by_secret_id":
        fn = stripe.Customer.retrieve_async if case.is_async else stripe.Customer.retrieve
        return fn(_slot(b, case.param_slot), **options)
    fn = stripe.Customer.list_async if case.is_async else stripe.Customer.list
    return fn(**_list_params(b), **options)


class _Transports:
    """One SDK HTTP client per transport, shared by the cases (kept-alive connections)."""

    def __init__(self) -> None:
        self.sync = {
            "requests": stripe.RequestsClient(),
            "httpx": stripe.HTTPXClient(allow_sync_methods=True),
            "urllib": stripe.UrllibClient(),
        }
        # What the SDK makes by default: RequestsClient, whose async side is an HTTPXClient.
        # UrllibClient has no async side; its async cases use that default too.
        self.async_ = {
            "requests": stripe.RequestsClient(async_fallback_client=stripe.HTTPXClient()),
            "httpx": stripe.HTTPXClient(),
        }

    def get(self, transport: str, is_async: bool) -> stripe.HTTPClient:
        if is_async:
            return self.async_.get(transport, self.async_["requests"])
        return self.sync[transport]


def _count(name: str) -> None:
    CASES_RUN[name] = CASES_RUN.get(name, 0) + 1


@pytest.mark.timeout(900)
def test_api_calls_leak_nothing(
    leak_telemetry: Telemetry,
    server: StripeTestServer,
    logs: ls.LogCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stripe, "api_base", server.url)
    monkeypatch.setattr(stripe, "max_network_retries", 1)
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.0005)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.001)
    transports = _Transports()
    loop = asyncio.new_event_loop()

    @reproducible(API_CASES)
    @given(case=api_cases)
    def run(case: ApiCase) -> None:
        leak_telemetry.exporter.clear()
        logs.clear()
        if server.pending_faults:
            server.reset()
        b = case.bundle
        http_client = transports.get(case.transport, case.is_async)
        fault = _fault(case)
        if fault is not None:
            server.add_fault(fault)
        try:
            if case.style == "client":
                client = stripe.StripeClient(
                    b.key.value,
                    stripe_account=_slot(b, case.account_slot),
                    base_addresses={"api": server.url},
                    http_client=http_client,
                    max_network_retries=1,
                )
                result = _client_call(client, case)
            else:
                stripe.api_key = b.key.value
                stripe.default_http_client = http_client
                result = _global_call(case)
            if case.is_async:
                loop.run_until_complete(result)
        except stripe.StripeError:
            pass  # errors are expected (faults, unknown ids); what matters is telemetry
        assert leak_telemetry.operations(), "no operation span: the case tested nothing"
        _assert_no_leaks(b.all, leak_telemetry, logs)
        _count("api")

    try:
        run()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        monkeypatch.setattr(stripe, "default_http_client", None)
    assert CASES_RUN.get("api") == API_CASES


def test_rate_limited_reason_is_scrubbed(
    leak_telemetry: Telemetry, server: StripeTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (found by the scanner): the 429's ``Stripe-Rate-Limited-Reason`` was
    copied to the attempt span verbatim, so a proxy or a server echoing input put a card
    number, email or address on the span."""
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.0005)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.001)
    client = stripe.StripeClient(
        TEST_KEY, base_addresses={"api": server.url}, max_network_retries=2
    )
    for reason in ("4000-0000-00006", "global-rate"):
        server.add_fault(
            Fault(status=429, headers={"Stripe-Rate-Limited-Reason": reason}, should_retry=True)
        )
    client.v1.customers.create()
    first, second, _ = sorted(
        (s for s in leak_telemetry.spans() if s.name == semconv.SPAN_ATTEMPT),
        key=lambda s: s.start_time or 0,
    )
    assert semconv.STRIPE_RATE_LIMITED_REASON not in (first.attributes or {})
    assert (second.attributes or {})[semconv.STRIPE_RATE_LIMITED_REASON] == "global-rate"


# -- webhooks ----------------------------------------------------------------------------

_SIGNATURES = ("valid", "valid", "wrong_secret", "tampered", "stale", "junk_header")
_ENTRIES = ("construct_event", "client_construct_event", "parse_event_notification")


@dataclass(frozen=True)
class WebhookCase:
    bundle: Bundle
    other_secret: ls.Secret
    entry: str
    signature: str
    as_bytes: bool
    id_slot: str | None
    type_slot: str | None
    version_slot: str | None
    account_slot: str | None
    object_id_slot: str | None
    request_id_slot: str | None
    idempotency_slot: str | None
    traceparent: str  # valid | secret | none
    malformed: bool


_maybe_slot = st.one_of(st.none(), st.sampled_from(_SLOTS))
webhook_cases = st.builds(
    WebhookCase,
    bundle=bundles,
    other_secret=webhook_secrets(),
    entry=st.sampled_from(_ENTRIES),
    signature=st.sampled_from(_SIGNATURES),
    as_bytes=st.booleans(),
    id_slot=_maybe_slot,
    type_slot=_maybe_slot,
    version_slot=_maybe_slot,
    account_slot=_maybe_slot,
    object_id_slot=_maybe_slot,
    request_id_slot=_maybe_slot,
    idempotency_slot=_maybe_slot,
    traceparent=st.sampled_from(("valid", "secret", "none")),
    malformed=st.integers(0, 19).map(lambda n: n == 0),
)


def _or(bundle: Bundle, slot: str | None, default: str) -> str:
    return default if slot is None else _slot(bundle, slot)


def _payload(case: WebhookCase, now: int) -> str:
    b = case.bundle
    metadata: dict[str, str] = {b.email.value[:40]: b.card.value, "cvc": b.cvc.value}
    if case.traceparent == "valid":
        metadata[semconv.METADATA_TRACEPARENT_KEY] = (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        )
    elif case.traceparent == "secret":
        metadata[semconv.METADATA_TRACEPARENT_KEY] = b.text()
    request = {
        "id": _or(b, case.request_id_slot, "req_WebhookLeak0001"),
        "idempotency_key": _or(b, case.idempotency_slot, "ik-webhook-0001"),
    }
    if case.entry == "parse_event_notification":
        event: dict[str, Any] = {
            "id": _or(b, case.id_slot, "evt_test_65RLeak0001"),
            "object": "v2.core.event",
            "type": _or(b, case.type_slot, "v1.billing.meter.no_meter_found"),
            "created": datetime.fromtimestamp(now - 3, UTC).isoformat().replace("+00:00", "Z"),
            "livemode": False,
            "context": _or(b, case.account_slot, "acct_1Leak0001"),
            "related_object": {
                "id": _or(b, case.object_id_slot, "mtr_Leak0001"),
                "type": "billing.meter",
                "url": f"/v1/billing/meters/{b.email.value}",
            },
            "reason": {"type": "request", "request": request},
        }
    else:
        event = {
            "id": _or(b, case.id_slot, "evt_1Leak0001"),
            "object": "event",
            "api_version": _or(b, case.version_slot, "2026-10-28.endive"),
            "created": now - 3,
            "livemode": False,
            "type": _or(b, case.type_slot, "customer.updated"),
            "account": _or(b, case.account_slot, "acct_1Leak0001"),
            "data": {
                "object": {
                    "id": _or(b, case.object_id_slot, "cus_Leak0001"),
                    "object": "customer",
                    "email": b.email.value,
                    "phone": b.phone.value,
                    "name": b.line1,
                    "description": b.text(),
                    "address": b.address_params(),
                    "metadata": metadata,
                    "invoice_settings": {"custom_fields": [{"name": "cvc",
                                                            "value": b.cvc.value}]},
                    "sources": {"data": [{"object": "card", "number": b.card.value,
                                          "cvc": b.cvc.value}]},
                },
                "previous_attributes": {"email": b.email.value, "phone": b.phone.value},
            },
            "request": request,
        }  # fmt: skip
    text = json.dumps(event)
    return text[: len(text) // 2] if case.malformed else text


def _signature(case: WebhookCase, payload: str, now: int) -> tuple[str, str]:
    """(the Stripe-Signature header, the payload actually delivered)."""
    secret = case.bundle.whsec.value
    if case.signature == "junk_header":
        return f"t={case.bundle.cvc.value},v1={case.bundle.text()}", payload
    signed_with = case.other_secret.value if case.signature == "wrong_secret" else secret
    t = now - 3600 if case.signature == "stale" else now
    header = f"t={t},v1={WebhookSignature._compute_signature(f'{t}.{payload}', signed_with)}"
    if case.signature == "tampered":
        payload = payload.replace(case.bundle.email.value, case.bundle.phone.value, 1) + " "
    return header, payload


@pytest.mark.timeout(900)
def test_webhooks_leak_nothing(leak_telemetry: Telemetry, logs: ls.LogCapture) -> None:
    client = stripe.StripeClient(TEST_KEY)

    @reproducible(WEBHOOK_CASES)
    @given(case=webhook_cases)
    def run(case: WebhookCase) -> None:
        leak_telemetry.exporter.clear()
        logs.clear()
        now = int(time.time())
        header, payload = _signature(case, _payload(case, now), now)
        body: str | bytes = payload.encode() if case.as_bytes else payload
        secret = case.bundle.whsec.value
        try:
            if case.entry == "construct_event":
                stripe.Webhook.construct_event(body, header, secret)
            elif case.entry == "client_construct_event":
                client.construct_event(body, header, secret)
            else:
                client.parse_event_notification(body, header, secret)
        except (stripe.SignatureVerificationError, ValueError):
            pass  # bad signatures and malformed payloads raise, as without us
        assert any(s.name == semconv.SPAN_WEBHOOK for s in leak_telemetry.spans())
        _assert_no_leaks([*case.bundle.all, case.other_secret], leak_telemetry, logs)
        _count("webhook")

    run()
    assert CASES_RUN.get("webhook") == WEBHOOK_CASES


# -- the scanner finds what it is meant to find -------------------------------------------


def test_scanner_finds_planted_secrets_everywhere(logs: ls.LogCapture) -> None:
    """Zero findings proves nothing unless the scanner finds a planted secret in every
    place it scans, in the normalised forms it claims to handle."""
    card = ls.Secret(ls.CARD, "4242 4242 4242 4242", digits="4242424242424242")
    phone = ls.Secret(ls.PHONE, "(415) 555-0123", digits="4155550123")
    email = ls.Secret(ls.EMAIL, "Jane.Doe@Example.com")
    cvc = ls.Secret(ls.CVC, "987")
    key = ls.Secret(ls.KEY, "sk_live_" + "a1B2" * 8, parts=("a1B2" * 8,))
    whsec = ls.Secret(ls.WEBHOOK_SECRET, "whsec_" + "Zz9" * 9, parts=("Zz9" * 9,))
    address = ls.Secret(ls.ADDRESS, "12 Marnov Lane, Tavton, SW1A 1AA, GB",
                        parts=("12 Marnov Lane", "SW1A 1AA"))  # fmt: skip
    # Its own providers: planted secrets must not reach the session's shared ones.
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"host.note": "whsec_" + "Zz9" * 9}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    tracer = provider.get_tracer("leak-scanner-sanity")
    logger = logging.getLogger("leak_scanner_sanity.deep.child")

    with tracer.start_as_current_span("link target") as target:
        pass
    with tracer.start_as_current_span(
        "span named 4242-4242-4242-4242",
        links=[Link(target.get_span_context(), {"why": "JANE.DOE@example.COM"})],
    ) as span:
        span.set_attribute("attr", "+1 415 555 0123")
        span.add_event("evt", {"detail": "cvc=987"})
        span.set_attribute("code", 987)
        span.set_status(Status(StatusCode.ERROR, "ship to 12  marnov lane"))
        span.set_attribute("tail", ["ok", "a1B2" * 8])
    meter = meter_provider.get_meter("leak-scanner-sanity")
    meter.create_counter("leak.sanity").add(1, {"postcode": "sw1a 1aa"})
    try:
        raise RuntimeError("key sk_live_" + "a1B2" * 8)
    except RuntimeError:
        logger.debug("boom", exc_info=True)  # the key is only in the traceback's text
    logger.info("mail %s", "jane.doe%40example.com")

    texts = [
        *ls.texts_of_spans(exporter.get_finished_spans()),
        *ls.texts_of_metrics(reader),
        *ls.texts_of_logs(logs.records),
    ]
    findings = ls.scan([card, phone, email, cvc, key, whsec, address], texts)
    found = {(f.kind, f.where) for f in findings}
    expected = {
        (ls.CARD, "span 'span named 4242-4242-4242-4242' name"),
        (ls.EMAIL, "link attribute[why]"),
        (ls.PHONE, "attribute[attr]"),
        (ls.CVC, "event 'evt'[detail]"),
        (ls.CVC, "attribute[code]"),
        (ls.ADDRESS, "status description"),
        (ls.KEY, "attribute[tail]"),
        (ls.WEBHOOK_SECRET, "resource[host.note]"),
        (ls.ADDRESS, "metric 'leak.sanity' point[postcode]"),
        (ls.KEY, "log leak_scanner_sanity.deep.child:DEBUG"),
        (ls.EMAIL, "log leak_scanner_sanity.deep.child:INFO"),
    }
    missing = {
        place
        for place in expected
        if not any(kind == place[0] and where.endswith(place[1]) for kind, where in found)
    }
    assert not missing, f"the scanner missed {missing}; it found {found}"


def test_scanner_ignores_look_alikes() -> None:
    """No false alarms from the digits telemetry is full of: ids, UUIDs, line numbers."""
    cvc = ls.Secret(ls.CVC, "987")
    card = ls.Secret(ls.CARD, "4242424242424242", digits="4242424242424242")
    texts: list[tuple[str, object]] = [
        ("request id", "req_a987b"),
        ("uuid", "4a397e35-9870-5c16-0987-2976269151bc"),
        ("duration", "0.987"),
        ("stacktrace", 'File "x.py", line 987, in f'),
        ("port", 49870),
        ("cards nearby", "4242 4242 4242 4241 and 424242424242"),
    ]
    assert ls.scan([cvc, card], texts) == []


# -- the total -------------------------------------------------------------------------


def test_at_least_10000_cases_were_scanned() -> None:
    if not CASES_RUN:
        pytest.skip("no leak case ran in this session (deselected)")
    assert set(CASES_RUN) == {"api", "webhook"}, f"run the whole module: only {CASES_RUN}"
    total = sum(CASES_RUN.values())
    assert total >= REQUIRED_CASES, f"only {total} generated cases were scanned"
