"""Webhook entry points and the signature check.

``Webhook.construct_event*`` (snapshot events) and ``StripeClient.parse_event_notification*``
(thin events) open the webhook span; ``StripeClient.construct_event`` and the event
notification handlers call these, so an inner entry point finds a webhook already open and
passes through. ``WebhookSignature.verify_header`` makes the verify child. The app gets
exactly the return value or exception it would get without us.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_otel import _webhooks
from stripe_otel._guard import safe_call
from stripe_otel._patching import Patch
from stripe_otel._suppression import instrumentation_suppressed


def _entry(header_index: int, thin: bool) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        hook = None
        if _webhooks.current() is None and not instrumentation_suppressed():
            header = args[header_index] if len(args) > header_index else kwargs.get("sig_header")
            hook = safe_call(_webhooks.start, header, thin)
        if hook is None:
            return wrapped(*args, **kwargs)
        try:
            event = wrapped(*args, **kwargs)
        except BaseException as exc:
            safe_call(_webhooks.detach, hook)
            safe_call(_webhooks.finish, hook, None, exc)
            raise
        safe_call(_webhooks.detach, hook)
        safe_call(_webhooks.finish, hook, event, None)
        return event

    return wrapper


def _verify(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    started = safe_call(_webhooks.verify_start) if not instrumentation_suppressed() else None
    if started is None:
        return wrapped(*args, **kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        safe_call(_webhooks.verify_end, started, exc)
        raise
    safe_call(_webhooks.verify_end, started, None)
    return result


def patches() -> list[Patch]:
    webhook = ("stripe._webhook", "Webhook")
    client = ("stripe._stripe_client", "StripeClient")
    return [
        # construct_event(payload, sig_header, secret, ...): a staticmethod.
        Patch(*webhook, "construct_event", _entry(header_index=1, thin=False)),
        Patch(*webhook, "construct_event_without_verification", _entry(99, thin=False)),
        Patch("stripe._webhook", "WebhookSignature", "verify_header", _verify),
        # parse_event_notification(self, raw, sig_header, secret, ...): bound, so args[1].
        Patch(*client, "parse_event_notification", _entry(header_index=1, thin=True)),
        Patch(*client, "parse_event_notification_without_verification", _entry(99, thin=True)),
    ]
