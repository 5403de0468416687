"""Where a Honeycomb exporter sends, and with which headers: one resolved, checked value.

Precedence, highest first (each setting on its own): the keyword argument, then
``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_*``, then ``OTEL_EXPORTER_OTLP_*``, then the
Honeycomb distro's ``HONEYCOMB_*`` variables, then the defaults (US endpoint,
``http/protobuf``, gzip, 10 s). A bad value raises :class:`~stripe_otel.config.ConfigError`
naming the variable, when the exporter is built rather than on the first export.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, cast
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from stripe_otel.config import ConfigError

__all__ = [
    "EU_ENDPOINT",
    "US_ENDPOINT",
    "HoneycombSettings",
    "MissingSettingError",
    "Signal",
    "honeycomb_settings",
    "is_classic_key",
]

_logger = logging.getLogger("stripe_otel.exporters")

Protocol = Literal["http/protobuf", "grpc"]
Compression = Literal["gzip", "deflate", "none"]
Signal = Literal["traces", "metrics"]

US_ENDPOINT: Final = "https://api.honeycomb.io"
EU_ENDPOINT: Final = "https://api.eu1.honeycomb.io"
_REGIONS: Final = {"us": US_ENDPOINT, "eu": EU_ENDPOINT}
TEAM_HEADER: Final = "x-honeycomb-team"
DATASET_HEADER: Final = "x-honeycomb-dataset"
_PROTOCOLS: Final[tuple[Protocol, ...]] = ("http/protobuf", "grpc")
_COMPRESSIONS: Final[tuple[Compression, ...]] = ("gzip", "deflate", "none")
_DEFAULT_TIMEOUT_S: Final = 10.0
# Classic (pre-environments) keys: 32 hex chars, or the newer hc?ic_ prefix + 58 chars.
_CLASSIC_KEY_RE: Final = re.compile(r"^([0-9a-f]{32}|hc[a-z]ic_[0-9a-z]{58})$")


class MissingSettingError(ConfigError):
    """A setting that is needed is not set (as opposed to set to a wrong value)."""


def is_classic_key(key: str) -> bool:
    """True for a Honeycomb Classic key, which needs a dataset header."""
    return bool(_CLASSIC_KEY_RE.match(key))


def _key_hint(key: str | None) -> str:
    # Four characters tell two keys apart in a support ticket and reveal nothing usable.
    return "None" if key is None else f"'{key[:4]}…'"


@dataclass(frozen=True, repr=False)
class HoneycombSettings:
    """Resolved settings for one signal. Build it with :func:`honeycomb_settings`."""

    #: HTTP: the full URL posted to (``…/v1/traces``); gRPC: ``host:port``.
    endpoint: str
    protocol: Protocol
    api_key: str | None
    #: The dataset; sent as a header for classic keys (traces) or whenever set (metrics).
    dataset: str | None
    #: Every header sent with an export, the team and dataset headers included.
    headers: Mapping[str, str]
    compression: Compression
    #: Seconds for one export, retries included.
    timeout: float
    #: gRPC only: a plaintext channel (``http://`` or loopback endpoints).
    insecure: bool = False
    signal: Signal = "traces"

    @property
    def classic_key(self) -> bool:
        return self.api_key is not None and is_classic_key(self.api_key)

    def __repr__(self) -> str:
        # Header values may be credentials (the team key, a collector's token): names only.
        return (
            f"HoneycombSettings(signal={self.signal!r}, "
            f"endpoint={_without_userinfo(self.endpoint)!r}, "
            f"protocol={self.protocol!r}, api_key={_key_hint(self.api_key)}, "
            f"dataset={self.dataset!r}, headers={sorted(self.headers)!r}, "
            f"compression={self.compression!r}, timeout={self.timeout!r}, "
            f"insecure={self.insecure!r})"
        )

    __str__ = __repr__


def _without_userinfo(endpoint: str) -> str:
    # `https://user:token@collector:4318`: credentials in the URL are never shown.
    scheme, sep, rest = endpoint.rpartition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if "@" in rest else endpoint


class _Sources:
    """Reads the environment layers for one signal and says where a value came from."""

    def __init__(self, environ: Mapping[str, str], signal: Signal) -> None:
        self.environ = environ
        self.signal = signal

    def env(self, name: str) -> tuple[str, str] | None:
        value = self.environ.get(name, "").strip()
        return (value, f"environment variable {name}") if value else None

    def otlp(self, suffix: str) -> tuple[str, str] | None:
        """``OTEL_EXPORTER_OTLP_<SIGNAL>_<suffix>``, else ``OTEL_EXPORTER_OTLP_<suffix>``."""
        return self.env(f"OTEL_EXPORTER_OTLP_{self.signal.upper()}_{suffix}") or self.env(
            f"OTEL_EXPORTER_OTLP_{suffix}"
        )


def _invalid(source: str, value: object, why: str, *, show: bool = True) -> ConfigError:
    shown = repr(value) if show else "(value hidden)"
    return ConfigError(f"stripe-otel: {source} has an invalid value {shown}: {why}")


def _choice(
    arg: object, arg_name: str, env: tuple[str, str] | None, allowed: tuple[str, ...], default: str
) -> str:
    if arg is not None:
        raw, source = arg, f"argument {arg_name}="
    elif env is not None:
        raw, source = env
    else:
        return default
    value = raw.strip().lower() if isinstance(raw, str) else None
    if value not in allowed:
        raise _invalid(source, raw, f"expected one of {', '.join(allowed)}")
    return value


def _timeout(arg: float | str | None, env: tuple[str, str] | None) -> float:
    if arg is not None:
        raw, source = arg, "argument timeout="
    elif env is not None:
        # Seconds, as the Python OTLP exporters read this variable (the spec says ms).
        raw, source = env
    else:
        return _DEFAULT_TIMEOUT_S
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise _invalid(source, raw, "expected a number of seconds > 0")
    return value


# RFC 9110 token characters: what a header name may be made of.
_TOKEN_RE: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]+$")
# Control characters (tab aside) cannot be sent in a header value; a CR/LF would even
# make the HTTP client refuse every export, long after start-up.
_BAD_VALUE_RE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_header(name: str, value: str, source: str, where: str) -> None:
    if not _TOKEN_RE.match(name):
        raise _invalid(
            source, None, f"{where}: a header name has a character it cannot have", show=False
        )
    if _BAD_VALUE_RE.search(value):
        raise _invalid(source, None, f"{where}: a control character in a header value", show=False)


def _parse_headers(raw: str, source: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with URL-encoded parts, as the OTLP spec defines it."""
    headers: dict[str, str] = {}
    for index, item in enumerate(raw.split(",")):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = unquote(name).strip().lower()
        if not sep or not name:
            # The values are likely credentials: say where, never what.
            raise _invalid(source, None, f"entry {index + 1} is not name=value", show=False)
        value = unquote(value).strip()
        _check_header(name, value, source, f"entry {index + 1}")
        headers[name] = value
    return headers


def _argument_headers(raw: Mapping[str, str]) -> dict[str, str]:
    source = "argument headers="
    if not isinstance(raw, Mapping):
        raise _invalid(source, None, "expected a mapping of header names to values", show=False)
    headers: dict[str, str] = {}
    for index, (raw_name, raw_value) in enumerate(raw.items()):
        if not isinstance(raw_name, str) or not isinstance(raw_value, str):
            raise _invalid(source, None, f"entry {index + 1} is not a str: str pair", show=False)
        name, value = raw_name.strip().lower(), raw_value.strip()
        _check_header(name, value, source, f"entry {index + 1}")
        headers[name] = value
    return headers


def _first(*candidates: tuple[str | None, str]) -> tuple[str, str] | None:
    """The first (value, source) whose value is set, checked as a header value."""
    for raw, source in candidates:
        if raw is None or not isinstance(raw, str):
            if raw is not None:
                raise _invalid(source, None, "expected a string", show=False)
            continue
        value = raw.strip()
        if value:
            if _BAD_VALUE_RE.search(value):
                raise _invalid(source, None, "it has a control character", show=False)
            return value, source
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_honeycomb(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "honeycomb.io" or host.endswith(".honeycomb.io")


_HOST_RE: Final = re.compile(r"^[0-9A-Za-z._~%:-]+$")


def _split(value: str, source: str, why: str) -> SplitResult:
    """Split a URL, refusing what an HTTP or gRPC client would only refuse at export."""
    show = "@" not in value
    try:
        url = urlsplit(value)
        port = url.port  # raises for a non-number or out-of-range port
    except ValueError:
        raise _invalid(source, value, why + " (the host or port is malformed)", show=show) from None
    host = url.hostname
    if not host or not _HOST_RE.match(host):
        raise _invalid(source, value, why, show=show)
    if port == 0:
        raise _invalid(source, value, why + " (port 0)", show=show)
    return url


def _http_endpoint(value: str, source: str, signal: Signal, as_is: bool) -> tuple[str, str]:
    """(URL to post to, host). Appends ``/v1/<signal>`` unless *as_is* or already there."""
    why = "expected an http(s) URL such as https://api.honeycomb.io"
    url = _split(value, source, why)
    if url.scheme not in ("http", "https"):
        raise _invalid(source, value, why, show="@" not in value)
    path = url.path
    if not as_is:
        base, suffix = path.rstrip("/"), f"/v1/{signal}"
        path = base if base.endswith(suffix) else base + suffix
    return urlunsplit((url.scheme, url.netloc, path, url.query, "")), url.hostname or ""


def _grpc_endpoint(value: str, source: str) -> tuple[str, str, bool]:
    """(``host:port``, host, insecure). gRPC ignores any path; TLS unless http:// or loopback."""
    has_scheme = "://" in value
    why = "expected host:port or a URL such as https://api.honeycomb.io:443"
    url = _split(value if has_scheme else f"//{value}", source, why)
    if has_scheme and url.scheme not in ("http", "https"):
        raise _invalid(source, value, why, show="@" not in value)
    host, port = url.hostname or "", url.port
    if has_scheme:
        insecure = url.scheme == "http"
        port = port or (80 if insecure else 443)
    else:
        insecure = _is_loopback(host)
        port = port or (4317 if insecure else 443)
    shown_host = f"[{host}]" if ":" in host else host
    return f"{shown_host}:{port}", host, insecure


def honeycomb_settings(
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    api_key: str | None = None,
    dataset: str | None = None,
    headers: Mapping[str, str] | None = None,
    compression: str | None = None,
    timeout: float | str | None = None,
    region: str | None = None,
    signal: Signal = "traces",
    environ: Mapping[str, str] | None = None,
) -> HoneycombSettings:
    """Resolve and check the settings of a Honeycomb exporter for *signal*.

    ``region`` (``"us"``/``"eu"``, or ``HONEYCOMB_REGION``) picks Honeycomb's endpoint;
    it cannot be combined with ``endpoint=``. The team key may also come from an
    ``x-honeycomb-team`` entry of the headers (argument or ``OTEL_EXPORTER_OTLP_*HEADERS``).
    """
    if signal not in ("traces", "metrics"):
        raise ConfigError(f"stripe-otel: signal must be 'traces' or 'metrics', not {signal!r}")
    src = _Sources(os.environ if environ is None else environ, signal)

    chosen_protocol = cast(
        Protocol, _choice(protocol, "protocol", src.otlp("PROTOCOL"), _PROTOCOLS, "http/protobuf")
    )
    chosen_compression = cast(
        Compression,
        _choice(compression, "compression", src.otlp("COMPRESSION"), _COMPRESSIONS, "gzip"),
    )
    chosen_timeout = _timeout(timeout, src.otlp("TIMEOUT"))

    # Headers: the signal's variable replaces the generic one (OTLP spec), not merged, and
    # an argument replaces both. The team and dataset entries are settings of their own,
    # each with its own precedence: a headers= argument without them does not discard
    # those of the environment.
    env_source = src.otlp("HEADERS")
    env_extra = _parse_headers(*env_source) if env_source is not None else {}
    arg_extra = _argument_headers(headers) if headers is not None else {}
    extra = dict(arg_extra if headers is not None else env_extra)
    extra.pop(TEAM_HEADER, None)
    extra.pop(DATASET_HEADER, None)
    env_name = env_source[1] if env_source is not None else ""

    key_var = f"HONEYCOMB_{signal.upper()}_APIKEY"
    found_key = _first(
        (api_key, "argument api_key="),
        (arg_extra.get(TEAM_HEADER), "argument headers="),
        (env_extra.get(TEAM_HEADER), env_name),
        (src.environ.get(key_var), f"environment variable {key_var}"),
        (src.environ.get("HONEYCOMB_API_KEY"), "environment variable HONEYCOMB_API_KEY"),
    )
    key = found_key[0] if found_key is not None else None

    dataset_var = "HONEYCOMB_DATASET" if signal == "traces" else "HONEYCOMB_METRICS_DATASET"
    found_dataset = _first(
        (dataset, "argument dataset="),
        (arg_extra.get(DATASET_HEADER), "argument headers="),
        (env_extra.get(DATASET_HEADER), env_name),
        (src.environ.get(dataset_var), f"environment variable {dataset_var}"),
    )
    chosen_dataset = found_dataset[0] if found_dataset is not None else None

    chosen_endpoint, host, insecure = _resolve_endpoint(
        src, endpoint, region, chosen_protocol, signal
    )

    if key is None and _is_honeycomb(host):
        raise MissingSettingError(
            f"stripe-otel: no Honeycomb API key for {signal}: set HONEYCOMB_API_KEY (or "
            f"HONEYCOMB_{signal.upper()}_APIKEY, an x-honeycomb-team entry in "
            f"OTEL_EXPORTER_OTLP_HEADERS, or api_key=). Only a non-Honeycomb endpoint, such "
            f"as a local Collector, works without one."
        )
    classic = key is not None and is_classic_key(key)
    if classic and chosen_dataset is None:
        raise MissingSettingError(
            f"stripe-otel: the Honeycomb API key {_key_hint(key)} is a Classic key, which "
            f"needs a dataset: set {dataset_var} (or dataset=)."
        )
    if signal == "metrics" and chosen_dataset is None and key is not None:
        # Honeycomb files metrics without a dataset header under "unknown_metrics".
        _logger.warning(
            "stripe-otel: no Honeycomb metrics dataset; set %s. Metrics go to unknown_metrics.",
            dataset_var,
        )

    sent = dict(extra)
    if key is not None:
        sent[TEAM_HEADER] = key
    # Environment keys route traces by service.name and ignore the header; metrics always
    # need it to pick their dataset.
    if chosen_dataset is not None and (classic or signal == "metrics"):
        sent[DATASET_HEADER] = chosen_dataset
    return HoneycombSettings(
        endpoint=chosen_endpoint,
        protocol=chosen_protocol,
        api_key=key,
        dataset=chosen_dataset,
        headers=MappingProxyType(sent),
        compression=chosen_compression,
        timeout=chosen_timeout,
        insecure=insecure,
        signal=signal,
    )


def _resolve_endpoint(
    src: _Sources, endpoint: str | None, region: str | None, protocol: Protocol, signal: Signal
) -> tuple[str, str, bool]:
    """(endpoint for the exporter, host, insecure) following the precedence above."""
    if endpoint is not None and region is not None:
        raise ConfigError("stripe-otel: give endpoint= or region=, not both")
    as_is = False
    signal_var = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    if endpoint is not None and not isinstance(endpoint, str):
        raise _invalid("argument endpoint=", endpoint, "expected a URL string")
    if endpoint is not None and endpoint.strip():
        value, source = endpoint.strip(), "argument endpoint="
    elif region is not None:
        value, source = _region(region, "argument region="), "argument region="
    elif (found := src.env(signal_var)) is not None:
        # The OTLP spec: a signal-specific endpoint is the full URL, used as-is.
        (value, source), as_is = found, True
    elif found := src.env("OTEL_EXPORTER_OTLP_ENDPOINT") or src.env("HONEYCOMB_API_ENDPOINT"):
        value, source = found
    elif (found := src.env("HONEYCOMB_REGION")) is not None:
        value, source = _region(found[0], found[1]), found[1]
    else:
        value, source = US_ENDPOINT, "default"
    if protocol == "grpc":
        return _grpc_endpoint(value, source)
    url, host = _http_endpoint(value, source, signal, as_is)
    return url, host, url.startswith("http://")


def _region(value: str, source: str) -> str:
    try:
        return _REGIONS[value.strip().lower()]
    except (AttributeError, KeyError):
        raise _invalid(source, value, "expected us or eu") from None
