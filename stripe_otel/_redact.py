"""PCI safety: what may be recorded, and the last check on values we do not control.

The primary defence is the *allowlist*: spans only ever get attributes whose keys are in
:data:`stripe_otel.semconv.ALL_ATTRIBUTES`, filled from fields that carry no cardholder
data (status codes, Stripe enums, ids). Request parameters, response bodies, headers
other than a few named ones, and exception messages are never copied.

A few recorded values can still be chosen by the app (an idempotency key, a custom object
id, an error ``param``). :func:`scrub` is the second defence for those: it drops a value
that looks like a key, a webhook secret, a card number (Luhn-valid digit run), an email,
a phone number, free text (anything with whitespace: a street address, a name, a sentence
quoting input) or a bare short number (a CVC, a PIN, a national phone number, a postal
code), whole or as a ``[...]`` segment of a parameter path (``metadata[987]``).
"""

from __future__ import annotations

import re
import traceback
from typing import Final

_SECRET_RE: Final = re.compile(r"(?:sk|rk|pk)_(?:live|test)_|whsec_|Bearer\s", re.IGNORECASE)
_EMAIL_RE: Final = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# The ways a PAN is written: 13-19 digits in a row, or in its printed groups separated by a
# space or a dash (4-4-4-4 with an optional 1-3 digit tail; Amex 4-6-5; Diners 4-6-4).
# Digits split anywhere else (a UUID's "34-4832-8749-989") are not a card number, and
# treating them as one dropped 0.2% of the SDK's random idempotency keys.
# A 13-digit PAN (Visa) is printed 4-4-5; that shape alone also fits the middle of a
# UUID ("-1234-5678-90123abc..."), so it counts only when no word character or dash
# touches it.
_PAN_CANDIDATE_RE: Final = re.compile(
    r"(?<!\d)(?:\d{13,19}"
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?!\d)"
    r"|(?<![\w-])\d{4}([ -])\d{4}\3\d{5}(?![\w-])"
)
_PHONE_RE: Final = re.compile(r"\+\d[\d ().-]{7,}\d")
_WHITESPACE_RE: Final = re.compile(r"\s")
# A value (or a `[...]` segment of a parameter path) made only of digits and the
# punctuation numbers are printed with: "987", "4155550123", "415-555-0123",
# "415.555.0123", "94107-1234", "(020)79460958".
_NUMBER_LIKE_RE: Final = re.compile(r"[\d().+/-]+")
_PATH_SEGMENTS_RE: Final = re.compile(r"[\[\]]")
# Stripe's API versions before 2024 were bare dates ("2020-08-27"): 8 digits, not a secret.
_ISO_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
# 3 digits is a CVC; up to 12 covers national and most international phone numbers; a run
# of 13-19 digits is judged by the Luhn check (a card number or not), longer ones pass.
_MIN_SECRET_DIGITS: Final = 3
_MAX_PLAIN_NUMBER_DIGITS: Final = 12
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


def _is_short_number(segment: str) -> bool:
    if not _NUMBER_LIKE_RE.fullmatch(segment) or _ISO_DATE_RE.fullmatch(segment):
        return False
    digits = sum(char.isdigit() for char in segment)
    return _MIN_SECRET_DIGITS <= digits <= _MAX_PLAIN_NUMBER_DIGITS


def contains_short_number(text: str) -> bool:
    """True if *text*, or a ``[...]`` segment of it, is nothing but a 3-12 digit number.

    Such a value is a CVC, a PIN, a national phone number or a postal code far more often
    than an identifier worth recording. Digits inside a word (``order-1234``) and list
    indices (``items[0]``) are not.
    """
    return any(_is_short_number(part) for part in _PATH_SEGMENTS_RE.split(text) if part)


def looks_sensitive(text: str) -> bool:
    """True if *text* looks like a secret, a card number, an email, a phone number, free
    text or a bare short number."""
    return bool(
        _SECRET_RE.search(text)
        or _EMAIL_RE.search(text)
        or _PHONE_RE.search(text)
        or _WHITESPACE_RE.search(text)
        or contains_short_number(text)
        or contains_card_number(text)
    )


def scrub(value: object) -> str | None:
    """Return *value* as a short string fit to record, or None if it must not be recorded."""
    if not isinstance(value, str) or not value or len(value) > _MAX_VALUE_LEN:
        return None
    return None if looks_sensitive(value) else value


# Labels found safe to record. Only safe ones are kept: a value that looked like a secret
# is checked again each time rather than held in memory.
_MAX_SAFE_LABELS: Final = 512
_safe_labels: set[str] = set()


def scrub_label(value: object) -> str | None:
    """:func:`scrub` for low-cardinality labels (API versions, Stripe's error enums),
    whose safe values are remembered: the same few come back on every call."""
    if isinstance(value, str) and value in _safe_labels:
        return value
    kept = scrub(value)
    if kept is not None and len(_safe_labels) < _MAX_SAFE_LABELS:  # atomic under the GIL
        _safe_labels.add(kept)
    return kept


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
