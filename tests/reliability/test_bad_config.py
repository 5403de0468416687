"""Every setting given a wrong value produces one clear error naming it when the
instrumentor (or exporter) starts, and never an exception inside a payment call.

The knob cases iterate over :data:`stripe_otel.config.KNOBS`, so a new knob is covered
without touching this file (if none of the generic wrong values below is wrong for it,
the test says so).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
import wrapt

from stripe_otel import StripeInstrumentor, _shutdown
from stripe_otel.config import KNOBS, ConfigError, Knob, Settings
from stripe_otel.exporters._honeycomb_settings import honeycomb_settings
from stripe_otel.exporters.configure import configure
from stripe_otel.exporters.honeycomb import honeycomb_exporter
from stripe_otel.testing import Fault, StripeTestServer
from tests.conftest import Telemetry

ROOT = Path(__file__).parents[2]

# Spellings that are wrong for every knob there is (each must be wrong for at least one).
WRONG = ("not-a-valid-value", "maybe", "truee", "-1", "nan", "inf", "1e999", "2")
# Values of the wrong type, as an argument.
WRONG_TYPES: tuple[object, ...] = (object(), [True], {"on": 1}, b"true", 1j)
# Valid, if odd, spellings: whichever of these a knob accepts must work end to end.
ODD = (" TRUE ", "On", "nO", "1", " 0 ", "AUTO", " auto", "0", "1e-3", " 60 ", "0.0")


def _rejects(knob: Knob, value: object) -> bool:
    try:
        knob.parse(value)
    except (TypeError, ValueError):
        return True
    return False


def _wrong_values(knob: Knob) -> list[str]:
    values = [v for v in WRONG if _rejects(knob, v)]
    assert values, f"{knob.env}: no wrong value known; add one to WRONG"
    return values


def _patched() -> list[str]:
    """Attributes of the modules stripe-otel patches that are wrapt wrappers now."""
    import httpx
    import stripe._api_requestor
    import stripe._http_client
    import stripe._stripe_client
    import stripe._webhook
    import urllib3.connection

    found = []
    modules = (
        stripe._api_requestor,
        stripe._http_client,
        stripe._stripe_client,
        stripe._webhook,
        httpx,
        urllib3.connection,
        http.client,
        socket,
    )
    for module in modules:
        for name, value in vars(module).items():
            owners = [(name, value)]
            if isinstance(value, type):
                owners += [(f"{name}.{k}", v) for k, v in vars(value).items()]
            for label, item in owners:
                if isinstance(item, wrapt.FunctionWrapper):
                    found.append(f"{module.__name__}.{label}")
    return found


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith(("STRIPE_OTEL_", "OTEL_", "HONEYCOMB_", "DD_")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def unpatched(clean_env: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    assert not _patched(), "a previous test left stripe instrumented"
    yield clean_env
    if StripeInstrumentor().is_instrumented_by_opentelemetry:
        StripeInstrumentor().uninstrument()


def _assert_nothing_happened(telemetry: Telemetry, server: StripeTestServer) -> None:
    """A failed instrument() left no trace: no patch, no flag, no SIGTERM handler, no span."""
    instrumentor = StripeInstrumentor()
    assert not instrumentor.is_instrumented_by_opentelemetry
    assert not _patched()
    assert not _shutdown.installed()
    stripe.Customer.create(description="after a failed instrument()")
    assert telemetry.spans() == []
    assert server.request_count == 1


def _instrument(telemetry: Telemetry, **settings: Any) -> None:
    StripeInstrumentor().instrument(
        tracer_provider=telemetry.provider, meter_provider=telemetry.meter_provider, **settings
    )


def _assert_one_clear_error(info: pytest.ExceptionInfo[ConfigError], named: str) -> None:
    message = str(info.value)
    assert named in message
    assert message.count("invalid value") == 1
    error = info.value
    assert error.__cause__ is None  # no chain of tracebacks to read through
    assert error.__context__ is None or error.__suppress_context__


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.env)
def test_wrong_env_value_fails_instrument_naming_the_variable(
    knob: Knob, unpatched: pytest.MonkeyPatch, telemetry: Telemetry, stripe_globals: Any
) -> None:
    for value in _wrong_values(knob):
        unpatched.setenv(knob.env, value)
        with pytest.raises(ConfigError) as info:
            _instrument(telemetry)
        _assert_one_clear_error(info, f"environment variable {knob.env}")
    _assert_nothing_happened(telemetry, stripe_globals)


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.name)
def test_wrong_argument_fails_instrument_naming_it(
    knob: Knob, unpatched: pytest.MonkeyPatch, telemetry: Telemetry, stripe_globals: Any
) -> None:
    for value in [*_wrong_values(knob), *WRONG_TYPES]:
        with pytest.raises(ConfigError) as info:
            _instrument(telemetry, **{knob.name: value})
        _assert_one_clear_error(info, f"argument {knob.name}=")
    _assert_nothing_happened(telemetry, stripe_globals)


def test_every_wrong_setting_is_named_in_one_error(
    unpatched: pytest.MonkeyPatch, telemetry: Telemetry, stripe_globals: Any
) -> None:
    for knob in KNOBS:
        unpatched.setenv(knob.env, _wrong_values(knob)[0])
    with pytest.raises(ConfigError) as info:
        _instrument(telemetry)
    assert all(knob.env in str(info.value) for knob in KNOBS)
    _assert_nothing_happened(telemetry, stripe_globals)


@pytest.mark.slow
def test_wrong_env_value_fails_import_stripe_otel_auto(clean_env: pytest.MonkeyPatch) -> None:
    import os

    cases = [(knob, value) for knob in KNOBS for value in _wrong_values(knob)[:1]]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_OTEL_", "OTEL_"))}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import stripe_otel.auto"],
            env={**base, "PYTHONPATH": str(ROOT), knob.env: value},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for knob, value in cases
    ]
    for (knob, _value), proc in zip(cases, procs, strict=True):
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        errors = [line for line in err.splitlines() if line.startswith("stripe_otel.config.")]
        assert len(errors) == 1, err  # one error, not a chain of them
        assert errors[0].startswith("stripe_otel.config.ConfigError: ")
        assert f"environment variable {knob.env}" in errors[0]
        assert err.count("Traceback") == 1


def _odd_values(knob: Knob) -> list[str]:
    return [v for v in ODD if not _rejects(knob, v)]


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.env)
def test_odd_but_valid_values_never_break_a_payment_call(
    knob: Knob, unpatched: pytest.MonkeyPatch, telemetry: Telemetry, stripe_globals: Any
) -> None:
    values = _odd_values(knob)
    assert values, f"{knob.env}: no odd valid value known; add one to ODD"
    for value in values:
        unpatched.setenv(knob.env, value)
        _instrument(telemetry)
        try:
            stripe_globals.add_fault(Fault(status=500, count=1, should_retry=True))
            customer = stripe.Customer.create(description=f"{knob.env}={value!r}")
            assert customer.id.startswith("cus_")
            assert stripe.Customer.retrieve(customer.id).id == customer.id
        finally:
            StripeInstrumentor().uninstrument()
    # As arguments too (values are parsed the same way).
    _instrument(telemetry, **{knob.name: values[0]})
    assert _patched()  # what the failure tests check for would be seen
    assert stripe.Customer.create(description="argument").id.startswith("cus_")


# --- exporters ---------------------------------------------------------------------------------
HONEYCOMB_ENV_CASES = [
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
    ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5"),
    ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "nan"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:43l8"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:99999"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://coll ector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318/v1/traces"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=1"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-a=1%0Ax-b: 2"),
    ("HONEYCOMB_API_ENDPOINT", "api.honeycomb.io"),
    ("HONEYCOMB_REGION", "mars"),
    ("HONEYCOMB_API_KEY", "key\r\nx-injected: 1"),
    ("HONEYCOMB_TRACES_APIKEY", "key\x01"),
    ("HONEYCOMB_DATASET", "pay\nments"),
]
HONEYCOMB_ARG_CASES: list[tuple[str, object]] = [
    ("protocol", "http/json"),
    ("compression", "lz4"),
    ("timeout", "soon"),
    ("timeout", 0),
    ("timeout", [1]),
    ("endpoint", "ftp://collector"),
    ("endpoint", "http://collector:port"),
    ("endpoint", 4318),
    ("region", "mars"),
    ("region", 1),
    ("headers", "x-a=1"),
    ("headers", {"x a": "1"}),
    ("headers", {"x-a": "1\r\n2"}),
    ("headers", {"x-a": 1}),
    ("api_key", "key\nmore"),
    ("dataset", 7),
]
HIDDEN = ("key\r\nx-injected: 1", "key\x01")


def _honeycomb_env(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("HONEYCOMB_API_KEY", "Zx9QvTqL2mTestEnvKey01")
    monkeypatch.setenv(name, value)


@pytest.mark.parametrize(("name", "value"), HONEYCOMB_ENV_CASES)
def test_honeycomb_wrong_env_value_fails_at_construction(
    name: str, value: str, clean_env: pytest.MonkeyPatch
) -> None:
    _honeycomb_env(clean_env, name, value)
    for build in (
        lambda: honeycomb_exporter(),
        lambda: configure("honeycomb", set_global=False),
    ):
        with pytest.raises(ConfigError) as info:
            build()
        assert name in str(info.value)
        if value in HIDDEN:  # header values can be credentials
            assert value.strip() not in str(info.value)


@pytest.mark.parametrize(("name", "value"), HONEYCOMB_ARG_CASES)
def test_honeycomb_wrong_argument_fails_at_construction(
    name: str, value: object, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("HONEYCOMB_API_KEY", "Zx9QvTqL2mTestEnvKey01")
    for build in (honeycomb_exporter, lambda **kw: configure("honeycomb", set_global=False, **kw)):
        with pytest.raises(ConfigError, match=f"argument {name}="):
            build(**{name: value})


def test_metrics_only_wrong_value_fails_configure(clean_env: pytest.MonkeyPatch) -> None:
    # Metrics that *lack* a setting are skipped with a warning; a wrong value is an error.
    clean_env.setenv("HONEYCOMB_API_KEY", "Zx9QvTqL2mTestEnvKey01")
    clean_env.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "carrier-pigeon")
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"):
        configure("honeycomb", set_global=False)


DATADOG_ENV_CASES = [
    ("datadog", "DD_TRACE_AGENT_URL", "ftp://agent:8126"),
    ("datadog", "DD_TRACE_AGENT_URL", "agent:8126"),
    ("datadog", "DD_TRACE_AGENT_URL", "http://agent:81x6"),
    ("datadog", "DD_TRACE_AGENT_URL", "http://agent:812600"),
    ("datadog", "DD_TRACE_AGENT_URL", "unix://"),
    ("datadog", "DD_TRACE_AGENT_PORT", "eighty"),
    ("datadog", "DD_TRACE_AGENT_PORT", "0"),
    ("datadog", "DD_TRACE_AGENT_PORT", "65536"),
    ("datadog", "DD_AGENT_HOST", "http://agent"),
    ("datadog", "DD_AGENT_HOST", "agent:8126"),
    ("datadog", "DD_AGENT_HOST", "my agent"),
    ("datadog_otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "agent:4318"),
    ("datadog_otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://agent:43x8"),
    ("datadog_otlp", "DD_AGENT_HOST", "http://agent"),
]


@pytest.mark.parametrize(("vendor", "name", "value"), DATADOG_ENV_CASES)
def test_datadog_wrong_env_value_fails_configure(
    vendor: Any, name: str, value: str, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        configure(vendor, set_global=False)
    assert name in str(info.value)
    # The same when the exporter is built directly, as the OTEL_TRACES_EXPORTER entry
    # points do: an error at start-up, not an exporter that never sends.
    from stripe_otel.exporters.datadog import DatadogAgentExporter
    from stripe_otel.exporters.datadog_otlp import DatadogOtlpSpanExporter

    exporter_class = DatadogAgentExporter if vendor == "datadog" else DatadogOtlpSpanExporter
    with pytest.raises(ConfigError) as info:
        exporter_class()
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("vendor", "name", "value"),
    [
        ("datadog", "agent_url", "ftp://agent"),
        ("datadog", "agent_url", 8126),
        ("datadog", "timeout", "soon"),
        ("datadog", "timeout", -1),
        ("datadog_otlp", "endpoint", "agent:4318"),
        ("datadog_otlp", "timeout", 0),
    ],
)
def test_datadog_wrong_argument_fails_configure(
    vendor: Any, name: str, value: object, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=f"argument {name}="):
        configure(vendor, set_global=False, **{name: value})


def test_datadog_valid_addresses_are_accepted(clean_env: pytest.MonkeyPatch) -> None:
    from stripe_otel.exporters.datadog._settings import agent_settings, check_otlp_endpoint

    assert agent_settings(environ={}).url == "http://localhost:8126"
    env = {"DD_AGENT_HOST": "::1", "DD_TRACE_AGENT_PORT": " 9126 "}
    assert agent_settings(environ=env).url == "http://[::1]:9126"
    unix = {"DD_TRACE_AGENT_URL": "unix:///var/run/datadog/apm.socket"}
    assert agent_settings(environ=unix).url == unix["DD_TRACE_AGENT_URL"]
    assert check_otlp_endpoint(environ={"DD_AGENT_HOST": "agent"}) == "http://agent:4318"


# --- precedence of the Honeycomb team key and dataset -------------------------------------------
def test_headers_argument_keeps_the_team_key_from_otel_headers() -> None:
    # Documented: argument > OTEL_* > HONEYCOMB_*, per setting. A headers= argument that
    # carries no team key must not hand the key to HONEYCOMB_API_KEY.
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=otelKey0000000000001,x-from-env=1",
        "HONEYCOMB_API_KEY": "honeycombKey00000001",
    }
    settings = honeycomb_settings(headers={"x-from-arg": "2"}, environ=env)
    assert settings.api_key == "otelKey0000000000001"
    assert dict(settings.headers) == {"x-from-arg": "2", "x-honeycomb-team": "otelKey0000000000001"}


def test_team_key_in_headers_argument_beats_the_environment() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=otelKey0000000000001",
        "HONEYCOMB_API_KEY": "honeycombKey00000001",
    }
    settings = honeycomb_settings(headers={"X-Honeycomb-Team": "argKey00000000000001"}, environ=env)
    assert settings.api_key == "argKey00000000000001"
    assert honeycomb_settings(api_key="apiKey00000000000001", environ=env).api_key == (
        "apiKey00000000000001"
    )


def test_headers_argument_keeps_the_dataset_from_otel_headers() -> None:
    classic = "0123456789abcdef0123456789abcdef"
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-dataset=from-otel",
        "HONEYCOMB_DATASET": "from-honeycomb",
    }
    settings = honeycomb_settings(api_key=classic, headers={"x-a": "1"}, environ=env)
    assert settings.dataset == "from-otel"
    assert settings.headers["x-honeycomb-dataset"] == "from-otel"


def test_settings_resolve_names_only_bad_knobs() -> None:
    # A sanity check of the table the tests above iterate over: good values pass.
    env = {knob.env: _odd_values(knob)[0] for knob in KNOBS}
    assert isinstance(Settings.resolve(environ=env), Settings)


def test_readme_settings_table_is_the_generated_one() -> None:
    # So a new knob (which the tests above pick up by themselves) is documented too.
    from stripe_otel.config import markdown_table

    assert markdown_table() in (ROOT / "README.md").read_text()
