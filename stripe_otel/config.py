"""stripe-otel's settings: one table of knobs, each with an env var and a keyword argument.

Precedence, highest first: the keyword argument given to
``StripeInstrumentor().instrument(...)``, then the ``STRIPE_OTEL_*`` environment
variable, then the default. Every value is parsed and checked when the instrumentor
starts; a bad one raises :class:`ConfigError` naming the variable, so a typo never
surfaces as an exception inside a payment call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from stripe_otel._redact import scrub

__all__ = ["KNOBS", "ConfigError", "Knob", "Settings", "markdown_table", "setting"]


class ConfigError(ValueError):
    """A stripe-otel setting has a value that cannot be used."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError("expected one of true/false/1/0/yes/no/on/off")


def _parse_auto_bool(raw: object) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return "auto"
    try:
        return "true" if _parse_bool(raw) else "false"
    except ValueError:
        raise ValueError("expected auto or one of true/false/1/0/yes/no/on/off") from None


def _parse_non_negative_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number of seconds")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a finite number >= 0")
    return value


@dataclass(frozen=True)
class Knob:
    """One setting: its keyword name, env var, parser, default and one-line doc."""

    name: str
    env: str
    parse: Callable[[object], Any]
    default: Any
    doc: str


KNOBS: tuple[Knob, ...] = (
    Knob(
        "enabled",
        "STRIPE_OTEL_ENABLED",
        _parse_bool,
        True,
        "Master switch. `false` makes `instrument()` a no-op (the app runs unpatched).",
    ),
    Knob(
        "suppress_http_instrumentation",
        "STRIPE_OTEL_SUPPRESS_HTTP_INSTRUMENTATION",
        _parse_bool,
        True,
        "Suppress HTTP-level instrumentations (httpx, requests, urllib3, urllib) under our "
        "span, so there is one CLIENT span per call and no `traceparent` is sent to Stripe. "
        "`false` keeps their spans as children of the attempt span (and lets them inject "
        "`traceparent`).",
    ),
    Knob(
        "attempt_spans",
        "STRIPE_OTEL_ATTEMPT_SPANS",
        _parse_bool,
        True,
        "One child span per HTTP attempt of the SDK's retry loop.",
    ),
    Knob(
        "phases",
        "STRIPE_OTEL_PHASES",
        _parse_bool,
        True,
        "Split each attempt into network / api_processing (estimated) / network phase spans, "
        "add an sdk_decode span and per-phase totals. Times the transports (httpx, "
        "urllib3, http.client, DNS) while a sampled Stripe call is in flight.",
    ),
    Knob(
        "metrics",
        "STRIPE_OTEL_METRICS",
        _parse_bool,
        True,
        "Record the operation/phase duration histograms and the retry/error counters.",
    ),
    Knob(
        "datadog_names",
        "STRIPE_OTEL_DATADOG_NAMES",
        _parse_auto_bool,
        "auto",
        "Set Datadog's `operation.name` / `resource.name` (and `_dd.measured` on phases) on our "
        "spans, as ddtrace's OpenTelemetry bridge and the Agent's OTLP intake need. `auto`: "
        "when the tracer provider is ddtrace's (`DD_TRACE_OTEL_ENABLED=true`) or "
        "`OTEL_TRACES_EXPORTER` names `datadog_otlp`.",
    ),
    Knob(
        "webhook_metadata_link",
        "STRIPE_OTEL_WEBHOOK_METADATA_LINK",
        _parse_bool,
        False,
        "Opt-in: write the W3C `traceparent` of the creating call into the "
        "`metadata[otel_traceparent]` of the Stripe objects the app creates (never "
        "overwriting the app's own keys, never on calls with an idempotency key), so webhooks "
        "handled in another process link back to it. This writes to your Stripe data.",
    ),
    Knob(
        "record_idempotency_key",
        "STRIPE_OTEL_RECORD_IDEMPOTENCY_KEY",
        _parse_bool,
        True,
        "Record `stripe.idempotency_key` (dropped anyway if it looks like a secret or PII).",
    ),
    Knob(
        "record_object_id",
        "STRIPE_OTEL_RECORD_OBJECT_ID",
        _parse_bool,
        True,
        "Record `stripe.object.id` of the response object (only Stripe-shaped ids).",
    ),
    Knob(
        "flush_on_sigterm",
        "STRIPE_OTEL_FLUSH_ON_SIGTERM",
        _parse_bool,
        True,
        "On SIGTERM, flush finished spans and metrics (bounded by a timeout) before the "
        "process dies by SIGTERM as before. Only when the process still has the default "
        "SIGTERM handler: an app's or a server's own handler (gunicorn, uvicorn) is left alone.",
    ),
    Knob(
        "error_log_interval",
        "STRIPE_OTEL_ERROR_LOG_INTERVAL",
        _parse_non_negative_float,
        60.0,
        "Seconds between two log lines about the same internal error (they are always counted).",
    ),
)

_KNOBS_BY_NAME: Mapping[str, Knob] = {knob.name: knob for knob in KNOBS}


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved, validated settings. Build it with :meth:`Settings.resolve`."""

    enabled: bool = True
    suppress_http_instrumentation: bool = True
    attempt_spans: bool = True
    phases: bool = True
    metrics: bool = True
    datadog_names: str = "auto"
    webhook_metadata_link: bool = False
    record_idempotency_key: bool = True
    record_object_id: bool = True
    flush_on_sigterm: bool = True
    error_log_interval: float = 60.0

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Combine keyword overrides, the environment and defaults; validate each value.

        Unknown keywords are an error too: a misspelt option must not be silently ignored.
        """
        env = os.environ if environ is None else environ
        unknown = sorted(set(overrides) - set(_KNOBS_BY_NAME))
        if unknown:
            raise ConfigError(
                f"stripe-otel: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_KNOBS_BY_NAME))}"
            )
        values: dict[str, Any] = {}
        problems: list[str] = []
        for knob in KNOBS:
            try:
                values[knob.name] = _resolve(knob, overrides.get(knob.name), env)
            except _Invalid as exc:
                problems.append(str(exc))
        # Every bad setting in one error: fixing them one restart at a time is no fun.
        if len(problems) == 1:
            raise ConfigError(f"stripe-otel: {problems[0]}")
        if problems:
            raise ConfigError(
                f"stripe-otel: {len(problems)} invalid settings: " + "; ".join(problems)
            )
        return cls(**values)


class _Invalid(Exception):
    pass


def _resolve(knob: Knob, argument: object, env: Mapping[str, str]) -> Any:
    if argument is not None:
        raw, source = argument, f"argument {knob.name}="
    elif env.get(knob.env, "").strip():
        raw, source = env[knob.env], f"environment variable {knob.env}"
    else:
        return knob.default
    try:
        return knob.parse(raw)
    except (TypeError, ValueError) as exc:
        shown = repr(raw) if scrub(str(raw)) is not None else "(value hidden)"
        raise _Invalid(f"{source} has an invalid value {shown}: {exc}") from None


def setting(name: str, argument: object = None, environ: Mapping[str, str] | None = None) -> Any:
    """One setting, resolved and checked as :meth:`Settings.resolve` does (for code that
    needs one knob without the others, such as ``exporters.configure``)."""
    try:
        return _resolve(_KNOBS_BY_NAME[name], argument, os.environ if environ is None else environ)
    except _Invalid as exc:
        raise ConfigError(f"stripe-otel: {exc}") from None


def markdown_table() -> str:
    """The README's settings table, generated from :data:`KNOBS`. Regenerate it with
    ``python -c "from stripe_otel.config import markdown_table; print(markdown_table())"``."""

    def shown(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    rows = [
        "| env var | keyword | default | what it does |",
        "|---|---|---|---|",
        *(
            f"| `{knob.env}` | `{knob.name}` | `{shown(knob.default)}` | {knob.doc} |"
            for knob in KNOBS
        ),
    ]
    return "\n".join(rows)


# A knob without a field (or a field without a knob) would be a setting nobody can set.
assert {f.name for f in fields(Settings)} == set(_KNOBS_BY_NAME), "KNOBS and Settings differ"
