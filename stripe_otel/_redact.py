"""PCI safety: what may be recorded, and the last check on values we do not control.

The primary defence is the *allowlist*: spans only ever get attributes whose keys are in
:data:`stripe_otel.semconv.ALL_ATTRIBUTES`, filled from fields that carry no cardholder
data (status codes, Stripe enums, ids). Request parameters, response bodies, headers
other than a few named ones, and exception messages are never copied.

A few recorded values can still be chosen by the app (an idempotency key, a custom object
id, an error ``param``). :func:`scrub` is the second defence for those: it drops a value
that looks like a key, a webhook secret, a card number (Luhn-valid digit run) or an email.
"""

from __future__ import annotations

import re
import traceback
from functools import lru_cache
from typing import Final

_SECRET_RE: Final = re.compile(r"(?:sk|rk|pk)_(?:live|test)_|whsec_|Bearer\s", re.IGNORECASE)
_EMAIL_RE: Final = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# The ways a PAN is written: 13-19 digits in a row, or in its printed groups separated by a
# space or a dash (4-4-4-4 with an optional 1-3 digit tail; Amex 4-6-5; Diners 4-6-4).
# Digits split anywhere else (a UUID's "34-4832-8749-989") are not a card number, and
# treating them as one dropped 0.2% of the SDK's random idempotency keys.
_PAN_CANDIDATE_RE: Final = re.compile(
    r"(?<!\d)(?:\d{13,19}"
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?!\d)"
)
_PHONE_RE: Final = re.compile(r"\+\d[\d ().-]{7,}\d")
#: Stripe object ids: a lower-case prefix, an underscore and base62 characters.
STRIPE_ID_RE: Final = re.compile(r"^[a-z][a-z0-9]*(?:_[A-Za-z0-9]+)+$")
_MAX_VALUE_LEN: Final = 256


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True if *text* holds a 13-19 digit run that passes the Luhn check."""
    for match in _PAN_CANDIDATE_RE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if _luhn_valid(digits):
            return True
    return False


def looks_sensitive(text: str) -> bool:
    """True if *text* looks like a secret, a card number, an email or a phone number."""
    return bool(
        _SECRET_RE.search(text)
        or _EMAIL_RE.search(text)
        or _PHONE_RE.search(text)
        or contains_card_number(text)
    )


def scrub(value: object) -> str | None:
    """Return *value* as a short string fit to record, or None if it must not be recorded."""
    if not isinstance(value, str) or not value or len(value) > _MAX_VALUE_LEN:
        return None
    return None if looks_sensitive(value) else value


@lru_cache(maxsize=512)
def _scrub_cached(value: str) -> str | None:
    return None if looks_sensitive(value) else value


def scrub_label(value: object) -> str | None:
    """:func:`scrub` for low-cardinality labels (API versions, Stripe's error enums),
    whose verdicts are cached: the same few values come back on every call."""
    if not isinstance(value, str) or not value or len(value) > _MAX_VALUE_LEN:
        return None
    return _scrub_cached(value)


def stripe_id(value: object) -> str | None:
    """Return *value* if it has the shape of a Stripe object id, else None."""
    if isinstance(value, str) and len(value) <= _MAX_VALUE_LEN and STRIPE_ID_RE.match(value):
        # Letters, digits and underscores only: no email, phone or "Bearer " can hide in
        # it, so only a key and a card number are left to rule out (on every call: cheap).
        secret = _SECRET_RE.search(value) is not None
        return None if secret or contains_card_number(value) else value
    return None


def error_type_name(exc: BaseException) -> str:
    """The exception's canonical class name, low-cardinality (``stripe.CardError``)."""
    cls = type(exc)
    module = cls.__module__
    if module == "stripe" or module.startswith("stripe."):
        # stripe's classes live in private modules but are exported from the package.
        return f"stripe.{cls.__qualname__}"
    if module == "builtins":
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def safe_stacktrace(exc: BaseException) -> str:
    """The traceback as frames only (file, line, function), without source lines.

    Source lines can hold literals (a test card number in the caller's code), so they
    are left out; the frames are enough to find the place.
    """
    frames = traceback.extract_tb(exc.__traceback__, limit=64)
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    return "Traceback (most recent call last):\n" + "\n".join(lines)
