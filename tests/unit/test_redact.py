import pytest

from stripe_otel._redact import (
    contains_card_number,
    error_type_name,
    looks_sensitive,
    safe_stacktrace,
    scrub,
    stripe_id,
)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "order 4000 0566 5566 5556 paid",
        "5555-5555-5555-4444",
        "sk_test_51Abc",
        "rk_live_xyz",
        "whsec_abc123",
        "Bearer abc",
        "jane.doe@example.com",
        "+1 (415) 555-0100",
    ],
)
def test_sensitive_values_are_recognised(text: str) -> None:
    assert looks_sensitive(text)
    assert scrub(text) is None


@pytest.mark.parametrize(
    "text", ["4a397e35-227f-5c16-2ad6-2976269151bc", "order-1234", "card_declined", "1234567890123"]
)
def test_ordinary_values_pass(text: str) -> None:
    # 1234567890123 is 13 digits but fails the Luhn check.
    assert scrub(text) == text


def test_luhn_rejects_near_misses() -> None:
    assert contains_card_number("4242424242424242")
    assert not contains_card_number("4242424242424241")


def test_stripe_id_shape() -> None:
    assert stripe_id("pi_3MtwBwLkdIwHu7ix28a3tqPa") == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    assert stripe_id("gold plan") is None
    assert stripe_id("sk_test_abc") is None
    assert stripe_id(42) is None


def test_error_type_name_uses_public_stripe_names() -> None:
    stripe = pytest.importorskip("stripe")
    assert error_type_name(stripe.CardError("m", "p", "c")) == "stripe.CardError"
    assert error_type_name(ValueError()) == "ValueError"


def test_stacktrace_has_frames_but_no_source_lines() -> None:
    def fail() -> None:
        secret_literal = "4242424242424242"
        raise RuntimeError(secret_literal)

    try:
        fail()
    except RuntimeError as exc:
        text = safe_stacktrace(exc)
    assert "in fail" in text
    assert "4242" not in text


@pytest.mark.parametrize("text", ["3782 822463 10005", "3056-930902-5904", "4000056655665556"])
def test_printed_card_layouts_are_recognised(text: str) -> None:
    assert contains_card_number(text)


def test_uuid_digit_runs_are_not_card_numbers() -> None:
    # The SDK's idempotency keys are UUIDs; digits split at a UUID's dashes are no PAN.
    # ("34-4832-8749-989" passes Luhn once joined.)
    key = "a34e9110-4e34-4832-8749-989f5ff480ff"
    assert scrub(key) == key
