"""A leak scanner: does any generated secret appear anywhere stripe-otel exports?

Given the secrets of one generated case, :func:`scan` walks everything a backend or a log
file would receive: every finished span (name, attributes, status description, events and
their attributes, links and their attributes, resource), every metric data point's
attributes (and the metric and resource), and every log record captured at DEBUG from all
loggers, formatted in full (message and ``exc_info`` traceback).

A secret is looked for in the form it was given and in normalised forms, because a leak
does not have to be a verbatim copy:

* card numbers and phone numbers: as digits with the printing separators (spaces, dashes,
  dots, parentheses, ``+``, ``/``) removed: ``4242 4242 ...`` and ``4242-4242-...`` leak
  the same PAN, ``(415) 555-0123`` and ``+14155550123`` the same subscriber number;
* emails, street lines, postal codes: case-folded, whitespace collapsed;
* everything: also after percent-decoding (``jane%40example.com`` in a URL);
* keys and webhook secrets: the whole value and, on its own, the random part after the
  prefix (a leak that dropped ``sk_live_`` is still a leak);
* CVCs: see :func:`_cvc_hits`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "ADDRESS", "CARD", "CVC", "EMAIL", "KEY", "PHONE", "WEBHOOK_SECRET",
    "Finding", "LogCapture", "Secret", "scan", "texts_of_logs", "texts_of_metrics",
    "texts_of_spans",
]  # fmt: skip

CARD = "card"
CVC = "cvc"
KEY = "key"
WEBHOOK_SECRET = "webhook_secret"
EMAIL = "email"
PHONE = "phone"
ADDRESS = "address"

# What separates the groups of a printed card or phone number; anything else (a letter, a
# comma, a quote) ends a digit run, so unrelated numbers are never joined into one.
_SEPARATORS = re.compile(r"[\s().+/\-]+")
_SPACE = re.compile(r"\s+")
# Frame line numbers in tracebacks ("line 987") are positions in code, not data.
_LINE_NUMBER = re.compile(r"\bline \d+")


@dataclass(frozen=True)
class Secret:
    """One generated secret.

    ``value`` is the printed form that was fed to the SDK. ``digits`` (cards, phones) is
    the part that identifies it once punctuation is gone: the whole PAN, or the phone's
    national significant number (no country code, no trunk ``0``). ``parts`` are extra
    substrings that are secret on their own (a key's random body, an address's street line
    and postal code).
    """

    kind: str
    value: str
    digits: str = ""
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str
    form: str
    secret: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.kind} {self.secret!r} ({self.form}) in {self.where}: {self.excerpt!r}"


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text).casefold()


def _cvc_pattern(cvc: str) -> re.Pattern[str]:
    """A CVC is three or four digits, and short digit strings are everywhere in telemetry
    (status codes, ports, counts, line numbers, random ids and UUIDs). A substring search
    would flag every case, and stripping to digits would too. So:

    * the generator makes CVCs distinctive: 600-999 and 1000-9999, never an HTTP status
      (100-599), a retry count or a port of the local server (5 digits);
    * a CVC is a hit only as an exact *token*: not touching a letter, digit, ``_``, ``-`` or
      ``.`` on either side. That is how a leaked CVC looks (``"987"``, ``cvc=987``,
      ``code 987 is invalid``, ``[987]``), and it ignores the digits inside ``req_a987b``,
      a UUID group ``-9876-`` or a duration ``0.987``;
    * ``line N`` of a traceback is masked first; an int attribute equal to the CVC is a hit.
    """
    return re.compile(rf"(?<![0-9A-Za-z_.\-]){re.escape(cvc)}(?![0-9A-Za-z_.\-])")


class _Needles:
    """The forms of one secret to look for, prepared once per scan."""

    def __init__(self, secret: Secret) -> None:
        self.secret = secret
        self.cvc = _cvc_pattern(secret.value) if secret.kind == CVC else None
        self.folded = [_fold(secret.value)] + [(_fold(part)) for part in secret.parts]

    def form_in(self, text: _Text) -> str | None:
        secret = self.secret
        if self.cvc is not None:
            if secret.value in text.raw and self.cvc.search(text.masked) is not None:
                return "token"
            return None
        if secret.value in text.raw:
            return "verbatim"
        if self.folded[0] in text.folded:
            return "case-folded"
        for part in self.folded[1:]:
            if part in text.folded:
                return f"part {part!r}"
        if secret.digits and secret.digits in text.digits:
            return "digits only"
        return None


class _Text:
    """One exported string and its normalised forms, computed once for all secrets."""

    __slots__ = ("_digits", "_folded", "_masked", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._folded: str | None = None
        self._digits: str | None = None
        self._masked: str | None = None

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = _fold(self.raw)
        return self._folded

    @property
    def digits(self) -> str:
        if self._digits is None:
            self._digits = _SEPARATORS.sub("", self.raw)
        return self._digits

    @property
    def masked(self) -> str:
        if self._masked is None:
            self._masked = _LINE_NUMBER.sub("line #", self.raw)
        return self._masked


def _as_text(value: object) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None  # flags, durations and timestamps; no secret is a float
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _forms(value: object) -> list[tuple[_Text, str]]:
    """The value as text, and percent-decoded when that differs (a URL, a form body)."""
    raw = _as_text(value)
    if raw is None:
        return []
    forms = [(_Text(raw), "")]
    if "%" in raw or "+" in raw:
        decoded = unquote_plus(raw)
        if decoded != raw:
            forms.append((_Text(decoded), ", percent-decoded"))
    return forms


def _hits(needles: _Needles, value: object, forms: list[tuple[_Text, str]]) -> str | None:
    """The form in which the secret occurs in *value*, or None."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and needles.cvc is not None:
        return "int value" if str(value) == needles.secret.value else None
    for text, how in forms:
        form = needles.form_in(text)
        if form is not None:
            return form + how
    return None


def _values(value: object) -> Iterator[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        yield value
    else:
        yield from value


def _attribute_texts(where: str, attributes: Any) -> Iterator[tuple[str, object]]:
    for key, value in dict(attributes or {}).items():
        yield f"{where} key", key
        for item in _values(value):
            yield f"{where}[{key}]", item


def texts_of_spans(spans: Sequence[ReadableSpan]) -> Iterator[tuple[str, object]]:
    """(where, value) for everything exported about *spans*."""
    for span in spans:
        where = f"span {span.name!r}"
        yield f"{where} name", span.name
        yield from _attribute_texts(f"{where} attribute", span.attributes)
        yield f"{where} status description", span.status.description
        for event in span.events:
            yield f"{where} event name", event.name
            yield from _attribute_texts(f"{where} event {event.name!r}", event.attributes)
        for link in span.links:
            yield from _attribute_texts(f"{where} link attribute", link.attributes)
        yield from _attribute_texts(f"{where} resource", span.resource.attributes)
        if span.instrumentation_scope is not None:
            yield f"{where} scope", span.instrumentation_scope.name


def texts_of_metrics(reader: InMemoryMetricReader) -> Iterator[tuple[str, object]]:
    """(where, value) for every metric, data point attribute and resource attribute."""
    data = reader.get_metrics_data()
    if data is None:
        return
    for resource_metrics in data.resource_metrics:
        yield from _attribute_texts("metric resource", resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                where = f"metric {metric.name!r}"
                yield f"{where} name", metric.name
                for point in getattr(metric.data, "data_points", ()):
                    yield from _attribute_texts(f"{where} point", point.attributes)
                    for exemplar in getattr(point, "exemplars", None) or ():
                        yield from _attribute_texts(
                            f"{where} exemplar", exemplar.filtered_attributes
                        )


_FORMATTER = logging.Formatter("%(name)s %(levelname)s %(message)s")


def texts_of_logs(records: Sequence[logging.LogRecord]) -> Iterator[tuple[str, object]]:
    """The full formatted text of each record: message, ``exc_info`` and stack info."""
    for record in records:
        yield f"log {record.name}:{record.levelname}", _FORMATTER.format(record)


class LogCapture(logging.Handler):
    """Captures every record of every logger at DEBUG while active.

    The root logger and every logger with a level of its own are set to DEBUG (and
    restored on exit); loggers that do not propagate get the handler directly. The root's
    other handlers (pytest's own capture) are set aside meanwhile: thousands of cases of
    DEBUG records would otherwise pile up in pytest's report buffer.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._saved: list[tuple[logging.Logger, int, bool]] = []
        self._root_handlers: list[logging.Handler] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogCapture:
        loggers = [logging.getLogger()] + [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        self._root_handlers = list(loggers[0].handlers)
        for handler in self._root_handlers:
            loggers[0].removeHandler(handler)
        for logger in loggers:
            attach = logger is loggers[0] or not logger.propagate
            self._saved.append((logger, logger.level, attach))
            if logger.level != logging.NOTSET:
                logger.setLevel(logging.DEBUG)
            if attach:
                logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger, level, attached in self._saved:
            logger.setLevel(level)
            if attached:
                logger.removeHandler(self)
        self._saved.clear()
        for handler in self._root_handlers:
            logging.getLogger().addHandler(handler)
        self._root_handlers = []

    def clear(self) -> None:
        self.records.clear()


def scan(secrets: Iterable[Secret], texts: Iterable[tuple[str, object]]) -> list[Finding]:
    """Every occurrence of a secret in *texts* ((where, value) pairs)."""
    prepared = [_Needles(secret) for secret in secrets]
    # The same values come back in many places (resource attributes on every span, an
    # attribute in every metric point): each distinct value is checked once.
    seen: dict[tuple[type, object], list[tuple[Secret, str]]] = {}
    findings = []
    for where, value in texts:
        key = (type(value), value)
        hits = seen.get(key)
        if hits is None:
            forms = _forms(value)
            hits = []
            for needles in prepared:
                form = _hits(needles, value, forms)
                if form is not None:
                    hits.append((needles.secret, form))
            seen[key] = hits
        for secret, form in hits:
            excerpt = str(value)[:300]
            findings.append(Finding(where, secret.kind, form, secret.value, excerpt))
    return findings
