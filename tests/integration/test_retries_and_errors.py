"""Retries become attempt spans; every Stripe error class is recorded from allowlisted fields."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from opentelemetry.trace import StatusCode

from stripe_otel import semconv as sc
from stripe_otel.testing import Fault
from tests.conftest import Telemetry
from tests.integration._stripe_calls import PI_PARAMS, use_global_transport

pytestmark = pytest.mark.integration


def _attempt_view(telemetry: Telemetry) -> list[tuple[Any, ...]]:
    [op] = telemetry.operations()
    return [
        (
            a.attributes.get(sc.STRIPE_ATTEMPT),
            a.attributes.get(sc.HTTP_RESPONSE_STATUS_CODE),
            a.attributes.get(sc.STRIPE_RETRY_WILL_RETRY),
            sc.STRIPE_RETRY_BACKOFF_MS in a.attributes,
        )
        for a in telemetry.attempts(op)
    ]


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_500_then_200(transport: str, instrument: Telemetry, stripe_globals: Any) -> None:
    use_global_transport(transport)
    stripe_globals.add_fault(Fault(status=500, count=1, path_regex="^/v1/customers$"))
    customer = stripe.Customer.create(description="retried")
    assert customer.id.startswith("cus_")
    assert _attempt_view(instrument) == [(1, 500, True, True), (2, 200, False, False)]
    [op] = instrument.operations()
    assert op.attributes[sc.STRIPE_NUM_RETRIES] == 1
    assert op.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200
    assert op.status.status_code is StatusCode.UNSET
    first, second = instrument.attempts(op)
    assert first.status.status_code is StatusCode.ERROR
    assert first.attributes[sc.ERROR_TYPE] == "500"
    assert second.attributes[sc.HTTP_REQUEST_RESEND_COUNT] == 1
    assert 10.0 <= first.attributes[sc.STRIPE_RETRY_BACKOFF_MS] <= 20.0
    # Attempts follow each other without overlapping, inside the operation.
    assert first.end_time <= second.start_time  # type: ignore[operator]
    assert stripe_globals.request_count == 2


def test_409_is_retried(instrument: Telemetry, stripe_globals: Any) -> None:
    stripe_globals.add_fault(
        Fault(status=409, error_type="invalid_request_error", code="lock_timeout", count=1)
    )
    stripe.Customer.create(description="conflict")
    assert _attempt_view(instrument) == [(1, 409, True, True), (2, 200, False, False)]


def test_429_with_should_retry_true_is_retried(instrument: Telemetry, stripe_globals: Any) -> None:
    stripe_globals.add_fault(
        Fault(status=429, error_type="rate_limit_error", code="rate_limit", should_retry=True)
    )
    stripe.Customer.create(description="limited")
    assert _attempt_view(instrument) == [(1, 429, True, True), (2, 200, False, False)]
    [op] = instrument.operations()
    first = instrument.attempts(op)[0]
    assert first.attributes[sc.STRIPE_SHOULD_RETRY] is True
    assert first.attributes[sc.STRIPE_RATE_LIMITED_REASON]


def test_429_without_should_retry_fails(instrument: Telemetry, stripe_globals: Any) -> None:
    stripe_globals.add_fault(
        Fault(status=429, error_type="rate_limit_error", code="rate_limit", should_retry=False)
    )
    with pytest.raises(stripe.RateLimitError):
        stripe.Customer.create(description="limited")
    assert _attempt_view(instrument) == [(1, 429, False, False)]
    [op] = instrument.operations()
    assert op.status.status_code is StatusCode.ERROR
    assert op.attributes[sc.ERROR_TYPE] == "stripe.RateLimitError"
    assert op.attributes[sc.STRIPE_ERROR_CODE] == "rate_limit"
    assert instrument.attempts(op)[0].attributes[sc.STRIPE_SHOULD_RETRY] is False


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_connection_reset_then_success(
    transport: str, instrument: Telemetry, stripe_globals: Any
) -> None:
    use_global_transport(transport)
    stripe_globals.add_fault(Fault(action="reset", count=1))
    stripe.Customer.create(description="reset")
    [op] = instrument.operations()
    first, second = instrument.attempts(op)
    assert first.attributes[sc.ERROR_TYPE] == "stripe.APIConnectionError"
    assert first.attributes[sc.STRIPE_RETRY_WILL_RETRY] is True
    assert [e.name for e in first.events] == ["exception"]
    assert second.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200


def test_retries_exhausted(instrument: Telemetry, stripe_globals: Any) -> None:
    stripe_globals.add_fault(Fault(status=500, count=3))
    with pytest.raises(stripe.APIError):
        stripe.Customer.create(description="down")
    assert _attempt_view(instrument) == [
        (1, 500, True, True),
        (2, 500, True, True),
        (3, 500, False, False),
    ]
    [op] = instrument.operations()
    assert op.attributes[sc.STRIPE_NUM_RETRIES] == 2
    assert op.attributes[sc.ERROR_TYPE] == "stripe.APIError"


def test_card_declined(instrument: Telemetry, stripe_globals: Any) -> None:
    pi = stripe.PaymentIntent.create(**PI_PARAMS)
    with pytest.raises(stripe.CardError) as caught:
        pi.confirm(payment_method="pm_card_chargeDeclined")
    op = instrument.operations()[-1]
    attrs = op.attributes
    assert op.status.status_code is StatusCode.ERROR
    assert attrs[sc.HTTP_RESPONSE_STATUS_CODE] == 402
    assert attrs[sc.ERROR_TYPE] == "stripe.CardError"
    assert attrs[sc.STRIPE_ERROR_TYPE] == "card_error"
    assert attrs[sc.STRIPE_ERROR_CODE] == "card_declined"
    assert attrs[sc.STRIPE_ERROR_DECLINE_CODE] == "generic_decline"
    assert attrs[sc.STRIPE_REQUEST_ID] == caught.value.request_id
    [event] = op.events
    assert event.attributes[sc.EXCEPTION_TYPE] == "stripe.CardError"
    # The message is rebuilt from enums; Stripe's own text is not copied.
    assert "declined." not in event.attributes[sc.EXCEPTION_MESSAGE]
    assert "card_declined" in event.attributes[sc.EXCEPTION_MESSAGE]


@pytest.mark.parametrize(
    ("call", "error_class", "status", "code"),
    [
        (
            lambda: stripe.PaymentIntent.create(currency="usd"),
            stripe.InvalidRequestError,
            400,
            "parameter_missing",
        ),
        (
            lambda: stripe.Customer.retrieve("cus_DoesNotExist1"),
            stripe.InvalidRequestError,
            404,
            "resource_missing",
        ),
        (lambda: stripe.Customer.create(api_key="sk_bogus"), stripe.AuthenticationError, 401, None),
    ],
    ids=["400", "404", "401"],
)
def test_error_classes(
    call: Any,
    error_class: type[Exception],
    status: int,
    code: str | None,
    instrument: Telemetry,
    stripe_globals: Any,
) -> None:
    with pytest.raises(error_class):
        call()
    [op] = instrument.operations()
    assert op.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == status
    assert op.attributes[sc.ERROR_TYPE] == f"stripe.{error_class.__name__}"
    assert op.attributes.get(sc.STRIPE_ERROR_CODE) == code
    assert op.status.status_code is StatusCode.ERROR


def test_idempotent_replay_is_marked(instrument: Telemetry, stripe_globals: Any) -> None:
    first = stripe.Customer.create(description="once", idempotency_key="order-1234-attempt")
    again = stripe.Customer.create(description="once", idempotency_key="order-1234-attempt")
    assert first.id == again.id
    one, two = instrument.operations()
    assert sc.STRIPE_IDEMPOTENT_REPLAYED not in one.attributes
    assert two.attributes[sc.STRIPE_IDEMPOTENT_REPLAYED] is True
    assert two.attributes[sc.STRIPE_IDEMPOTENCY_KEY] == "order-1234-attempt"
