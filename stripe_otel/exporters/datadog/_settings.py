"""Where the Datadog exporters send, resolved and checked once, at construction.

Precedence, highest first: the keyword argument, then ``DD_TRACE_AGENT_URL``, then
``DD_AGENT_HOST`` + ``DD_TRACE_AGENT_PORT``, then ``http://localhost:8126`` (for the OTLP
path: ``endpoint=``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``http://$DD_AGENT_HOST:4318``). A value
no request could be sent to raises :class:`~stripe_otel.config.ConfigError` naming the
variable or argument, at start-up, instead of every export failing quietly later.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from stripe_otel.config import ConfigError

__all__ = ["AgentSettings", "agent_settings", "check_otlp_endpoint", "check_timeout"]

DEFAULT_AGENT_URL: Final = "http://localhost:8126"
_HOST_RE: Final = re.compile(r"^[0-9A-Za-z._~%:-]+$")


@dataclass(frozen=True)
class AgentSettings:
    url: str
    timeout: float


def _invalid(source: str, value: object, why: str) -> ConfigError:
    # Agent URLs carry no secret, unless someone put credentials in one.
    shown = "(value hidden)" if "@" in str(value) else repr(value)
    return ConfigError(f"stripe-otel: {source} has an invalid value {shown}: {why}")


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    value = environ.get(name, "").strip()
    return (value, f"environment variable {name}") if value else None


def _check_url(value: object, source: str, schemes: tuple[str, ...]) -> str:
    why = f"expected a URL such as {DEFAULT_AGENT_URL}"
    if not isinstance(value, str):
        raise _invalid(source, value, why)
    try:
        url = urlsplit(value.strip())
        port = url.port  # a non-number or out-of-range port raises here
    except ValueError:
        raise _invalid(source, value, why + " (the host or port is malformed)") from None
    if url.scheme not in schemes:
        raise _invalid(source, value, f"the scheme must be one of {', '.join(schemes)}")
    if url.scheme == "unix":
        if not url.path:
            raise _invalid(source, value, "expected unix:///path/to/apm.socket")
    elif not url.hostname or not _HOST_RE.match(url.hostname) or port == 0:
        raise _invalid(source, value, why)
    return value.strip()


def _host(environ: Mapping[str, str]) -> str:
    found = _env(environ, "DD_AGENT_HOST")
    if found is None:
        return "localhost"
    host, source = found
    if "://" in host or "/" in host or not _HOST_RE.match(host.strip("[]")):
        raise _invalid(source, host, "expected a host name or IP address, without scheme or port")
    if ":" in host and not host.startswith("["):  # an IPv6 literal
        host = f"[{host}]"
    return host


def _port(environ: Mapping[str, str]) -> str:
    found = _env(environ, "DD_TRACE_AGENT_PORT")
    if found is None:
        return "8126"
    port, source = found
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise _invalid(source, port, "expected a port number (1-65535)")
    return str(int(port))


def check_timeout(timeout: object, source: str = "argument timeout=") -> float:
    """Seconds > 0, finite."""
    try:
        value = float(timeout) if not isinstance(timeout, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise _invalid(source, timeout, "expected a number of seconds > 0")
    return value


def agent_settings(
    agent_url: str | None = None,
    timeout: object = 2.0,
    environ: Mapping[str, str] | None = None,
) -> AgentSettings:
    """The native trace API's URL and timeout, checked (see the module doc)."""
    env = os.environ if environ is None else environ
    schemes = ("http", "https", "unix")
    if agent_url is not None and (not isinstance(agent_url, str) or agent_url.strip()):
        url = _check_url(agent_url, "argument agent_url=", schemes)
    elif (found := _env(env, "DD_TRACE_AGENT_URL")) is not None:
        url = _check_url(found[0], found[1], schemes)
    else:
        # Both checked even when one is unset: each names its own variable.
        host, port = _host(env), _port(env)
        url = _check_url(f"http://{host}:{port}", "DD_AGENT_HOST/DD_TRACE_AGENT_PORT", schemes)
    return AgentSettings(url, check_timeout(timeout))


def check_otlp_endpoint(
    endpoint: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The Agent's OTLP/HTTP base URL: argument > ``OTEL_EXPORTER_OTLP_ENDPOINT`` >
    ``http://$DD_AGENT_HOST:4318``, checked."""
    env = os.environ if environ is None else environ
    if endpoint is not None and (not isinstance(endpoint, str) or endpoint.strip()):
        return _check_url(endpoint, "argument endpoint=", ("http", "https")).rstrip("/")
    if (found := _env(env, "OTEL_EXPORTER_OTLP_ENDPOINT")) is not None:
        return _check_url(found[0], found[1], ("http", "https")).rstrip("/")
    return f"http://{_host(env)}:4318"
