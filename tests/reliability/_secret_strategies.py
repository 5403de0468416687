"""Hypothesis strategies for the leak tests: secrets as apps and Stripe write them.

Luhn-valid card numbers of the main brands in their printed forms, CVCs, secret and
restricted keys, webhook secrets, emails, phone numbers (international and national) and
postal addresses; a :class:`Bundle` holds one of each for a case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from hypothesis import strategies as st

from tests.reliability import _leak_scanner as ls

_T = TypeVar("_T")

# -- strategies --------------------------------------------------------------------------

_DIGITS = "0123456789"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# brand -> (IIN prefixes, lengths). Mastercard's 2-series and Discover's 644-649 included.
_BRANDS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "visa": (("4",), (13, 16, 19)),
    "mastercard": (("51", "52", "53", "54", "55", "2221", "2500", "2720"), (16,)),
    "amex": (("34", "37"), (15,)),
    "discover": (("6011", "644", "649", "65"), (16, 19)),
    "diners": (("300", "305", "36", "38"), (14,)),
    "jcb": (("3528", "3589"), (16, 19)),
    "unionpay": (("62",), (16, 17, 18, 19)),
}


@cache
def _chars(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Random characters of *alphabet*, drawn as one byte string: far cheaper to generate
    than a text strategy's one draw per character, and it still shrinks (to alphabet[0])."""
    return st.binary(min_size=min_size, max_size=max_size).map(
        lambda raw: "".join(alphabet[byte % len(alphabet)] for byte in raw)
    )


def _digits(n: int) -> st.SearchStrategy[str]:
    return _chars(_DIGITS, n, n)


@cache
def _index(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def _pick(draw: st.DrawFn, options: Sequence[_T]) -> _T:
    """``draw(st.sampled_from(options))`` without building (and validating) a new strategy
    on every draw: strategies made inside a composite cost more than the whole case."""
    return options[draw(_index(len(options)))]


_BRAND_NAMES = sorted(_BRANDS)


def _luhn_check_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # doubled: the check digit will be appended to the right
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def _groups(length: int) -> tuple[int, ...]:
    """How a PAN of *length* digits is printed on cards and receipts."""
    if length == 14:
        return (4, 6, 4)  # Diners
    if length == 15:
        return (4, 6, 5)  # Amex
    if length == 13:
        return (4, 4, 5)
    return (4,) * (length // 4) + ((length % 4,) if length % 4 else ())


@st.composite
def card_numbers(draw: st.DrawFn) -> ls.Secret:
    prefixes, lengths = _BRANDS[_pick(draw, _BRAND_NAMES)]
    prefix = _pick(draw, prefixes)
    length = _pick(draw, lengths)
    size = length - len(prefix) - 1
    body = prefix + draw(_digits(size))
    pan = body + _luhn_check_digit(body)
    layout = _pick(draw, ("contiguous", "spaced", "dashed"))
    printed = pan
    if layout != "contiguous":
        parts, at = [], 0
        for size in _groups(length):
            parts.append(pan[at : at + size])
            at += size
        printed = (" " if layout == "spaced" else "-").join(parts)
    return ls.Secret(ls.CARD, printed, digits=pan)


# Distinctive CVCs: never an HTTP status code (100-599); see _leak_scanner._cvc_hits.
cvcs = st.one_of(st.integers(600, 999), st.integers(1000, 9999)).map(
    lambda n: ls.Secret(ls.CVC, str(n))
)


@st.composite
def api_keys(draw: st.DrawFn) -> ls.Secret:
    prefix = _pick(draw, ("sk_live_", "sk_test_", "rk_live_", "rk_test_"))
    body = draw(_chars(_BASE62, 24, 99))
    return ls.Secret(ls.KEY, prefix + body, parts=(body,))


@st.composite
def webhook_secrets(draw: st.DrawFn) -> ls.Secret:
    body = draw(_chars(_BASE62, 24, 64))
    return ls.Secret(ls.WEBHOOK_SECRET, "whsec_" + body, parts=(body,))


_LOCAL = "abcdefghijklmnopqrstuvwxyz0123456789"
_label = _chars("abcdefghijklmnopqrstuvwxyz0123456789", 2, 12)


@st.composite
def emails(draw: st.DrawFn) -> ls.Secret:
    local = draw(_chars(_LOCAL, 3, 20))
    tag = _pick(draw, ("", ".", "+", "_", "-"))
    if tag:
        local += tag + draw(_chars(_LOCAL, 1, 8))
    labels = draw(st.lists(_label, min_size=1, max_size=3))
    tld = _pick(draw, ("com", "org", "io", "co.uk", "de", "example"))
    email = f"{local}@{'.'.join(labels)}.{tld}"
    if draw(_index(2)):
        email = email[0].upper() + email[1:].replace("@", "@", 1)
    if draw(_index(5)) == 0:
        email = email.upper()
    return ls.Secret(ls.EMAIL, email)


@st.composite
def phones(draw: st.DrawFn) -> ls.Secret:
    """E.164 and national formats; ``digits`` is the national significant number."""
    country = _pick(draw, ("US", "GB", "FR", "DE"))
    if country == "US":
        area = _pick(draw, "23456789") + draw(_digits(2))
        exchange = _pick(draw, "23456789") + draw(_digits(2))
        line = draw(_digits(4))
        nsn = area + exchange + line
        forms = [f"+1{nsn}", f"+1 {area}-{exchange}-{line}", f"+1 ({area}) {exchange}-{line}",
                 f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}",
                 f"{area}.{exchange}.{line}", nsn]  # fmt: skip
    elif country == "GB":
        if draw(_index(2)):
            a, b = draw(_digits(4)), draw(_digits(4))
            nsn = f"20{a}{b}"
            forms = [f"+44{nsn}", f"+44 20 {a} {b}", f"020 {a} {b}", f"(020) {a} {b}"]
        else:
            a, b = draw(_digits(3)), draw(_digits(6))
            nsn = f"7{a}{b}"
            forms = [f"+44{nsn}", f"+44 7{a} {b}", f"07{a} {b}", f"07{a}{b}"]
    elif country == "FR":
        pairs = [draw(_digits(2)) for _ in range(4)]
        first = _pick(draw, "1234567")
        nsn = first + "".join(pairs)
        forms = [f"+33{nsn}", f"+33 {first} {' '.join(pairs)}", f"0{first} {' '.join(pairs)}",
                 f"0{first}.{'.'.join(pairs)}"]  # fmt: skip
    else:
        sub = draw(_digits(8))
        nsn = f"30{sub}"
        forms = [f"+49{nsn}", f"+49 30 {sub}", f"030 {sub}", f"030/{sub}"]
    return ls.Secret(ls.PHONE, _pick(draw, forms), digits=nsn)


_SYLLABLES = ("ba", "dor", "ken", "lim", "mar", "nov", "pel", "quin", "ros", "tav", "vel",
              "wick", "yar", "zen", "hol", "fen", "gar", "tor")  # fmt: skip
_street_names = st.binary(min_size=2, max_size=4).map(
    lambda raw: "".join(_SYLLABLES[byte % len(_SYLLABLES)] for byte in raw).capitalize()
)


@st.composite
def addresses(draw: st.DrawFn) -> ls.Secret:
    """A postal address; ``parts`` are its identifying lines: street line and postcode.

    The city, state and country are generated and sent too, but a city on its own names
    no one, so only the street line and the postal code are scanned for.
    """
    number = 1 + draw(_index(9999))
    street = draw(_street_names)
    suffix = _pick(draw, ("St", "Street", "Ave", "Lane", "Road", "Blvd", "Way"))
    line1 = f"{number} {street} {suffix}"
    city = draw(_street_names) + _pick(draw, ("ville", "ton", "burg", "field"))
    country = _pick(draw, ("US", "GB", "CA"))
    upper = _chars("ABCDEFGHJKLMNPRSTUWXYZ", 1, 1)  # cached: one strategy for all draws
    if country == "US":
        postal = f"{draw(_digits(5))}-{draw(_digits(4))}"
    elif country == "GB":
        postal = (
            f"{draw(upper)}{draw(upper)}{draw(_digits(1))}{draw(upper)} "
            f"{draw(_digits(1))}{draw(upper)}{draw(upper)}"
        )
    else:
        a, b = draw(upper) + draw(_digits(1)) + draw(upper), draw(_digits(1))
        postal = f"{a} {b}{draw(upper)}{draw(_digits(1))}"
    oneline = f"{line1}, {city}, {postal}, {country}"
    return ls.Secret(ls.ADDRESS, oneline, parts=(line1, postal))


@dataclass(frozen=True)
class Bundle:
    """One of each kind of secret (two keys: the client's and a per-request one)."""

    card: ls.Secret
    cvc: ls.Secret
    key: ls.Secret
    request_key: ls.Secret
    whsec: ls.Secret
    email: ls.Secret
    phone: ls.Secret
    address: ls.Secret

    @property
    def all(self) -> list[ls.Secret]:
        return [self.card, self.cvc, self.key, self.request_key, self.whsec, self.email,
                self.phone, self.address]  # fmt: skip

    @property
    def line1(self) -> str:
        return self.address.parts[0]

    @property
    def postal(self) -> str:
        return self.address.parts[1]

    def text(self) -> str:
        """Every secret in one free-text sentence (a description, an error message)."""
        return (
            f"Card {self.card.value} cvc {self.cvc.value}; key {self.key.value} / "
            f"{self.request_key.value}; hook {self.whsec.value}; mail {self.email.value}; "
            f"call {self.phone.value}; ship to {self.address.value}"
        )

    def address_params(self) -> dict[str, str]:
        line1, city, postal, country = self.address.value.split(", ")
        return {"line1": line1, "city": city, "postal_code": postal, "country": country}


bundles = st.builds(
    Bundle, card_numbers(), cvcs, api_keys(), api_keys(), webhook_secrets(), emails(),
    phones(), addresses(),
)  # fmt: skip

# A single-valued position (idempotency key, Stripe-Account, a header, an error's param)
# takes one of the secrets, chosen per case.
SLOTS = ("card", "cvc", "key", "request_key", "whsec", "email", "phone", "address", "line1",
          "postal")  # fmt: skip


def slot(bundle: Bundle, name: str) -> str:
    if name == "line1":
        return bundle.line1
    if name == "postal":
        return bundle.postal
    secret: ls.Secret = getattr(bundle, name)
    return secret.value
