"""Exporters for Honeycomb and Datadog, built on the OpenTelemetry SDK's exporter API.

Install the extras: ``pip install "stripe-otel[honeycomb]"`` or ``"stripe-otel[datadog]"``.
"""
