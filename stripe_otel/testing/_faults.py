"""Injected faults and delays."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ._http import Reply

__all__ = [
    "ACTIONS",
    "PASS_THROUGH",
    "WRONG_CONTENT_TYPE",
    "DelayRules",
    "Fault",
    "FaultQueue",
    "relabel_content_type",
    "render_fault",
]

ACTIONS = frozenset(
    {"respond", "reset", "reset_mid_body", "delay", "truncated_json", "non_json", "huge",
     "unknown_fields", "wrong_content_type"}
)  # fmt: skip
#: Actions whose request the app still handles; the fault only alters how it answers.
PASS_THROUGH = frozenset({"delay", "wrong_content_type"})
WRONG_CONTENT_TYPE = "text/plain; charset=utf-8"

# (status, extra headers, body, content type) -> complete response bytes
Render = Callable[[int, list[tuple[str, str]], bytes, str], bytes]

_DEFAULT_MESSAGES = {
    429: "Request rate limit exceeded. Learn more about rate limits here "
    "https://stripe.com/docs/rate-limits.",
    500: "An unknown error occurred",
}


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Fault:
    """One injected fault, consumed by the next ``count`` matching requests.

    ``action``: ``respond`` (Stripe error body with ``status``), ``reset`` (drop the TCP
    connection, no response), ``reset_mid_body`` (headers and part of the body, then
    close), ``delay`` (answer normally after ``delay_ms``), ``truncated_json`` (200, cut
    JSON, correct Content-Length), ``non_json`` (200, text/html), ``huge`` (200, valid
    JSON of ``size_bytes``), ``unknown_fields`` (200, a valid object of a type and with
    fields no SDK knows, nested ones too), ``wrong_content_type`` (the normal answer, status
    and body, labelled ``text/plain``). An empty ``message`` picks Stripe's wording for the
    status.
    """

    status: int = 500
    error_type: str = "api_error"
    code: str | None = None
    decline_code: str | None = None
    param: str | None = None
    message: str = ""
    should_retry: bool | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    method: str | None = None
    path_regex: str | None = None
    count: int = 1
    action: str = "respond"
    delay_ms: float = 0
    size_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {sorted(ACTIONS)}")
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.delay_ms < 0 or self.size_bytes < 0:
            raise ValueError("delay_ms and size_bytes must be >= 0")
        if self.path_regex is not None:
            _compile(self.path_regex)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build from a JSON object (the control API); unknown keys raise ValueError."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        kwargs = dict(data)
        if "headers" in kwargs:
            headers = kwargs["headers"]
            if not isinstance(headers, dict):
                raise ValueError("headers must be an object")
            kwargs["headers"] = {str(k): str(v) for k, v in headers.items()}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_regex is None or _compile(self.path_regex).search(path) is not None


class FaultQueue:
    """Faults matched in insertion order; each is used ``count`` times."""

    def __init__(self) -> None:
        self._items: list[list[Any]] = []  # [fault, remaining]

    def add(self, fault: Fault) -> None:
        self._items.append([fault, fault.count])

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def take(self, method: str, path: str) -> Fault | None:
        if not self._items:
            return None
        for i, item in enumerate(self._items):
            fault: Fault = item[0]
            if fault.matches(method, path):
                item[1] -= 1
                if item[1] <= 0:
                    del self._items[i]
                return fault
        return None


class DelayRules:
    """Processing delays; the most recently added matching rule wins."""

    def __init__(self) -> None:
        self._rules: list[tuple[float, re.Pattern[str] | None, str | None]] = []

    def add(self, ms: float, path_regex: str | None = None, method: str | None = None) -> None:
        if ms < 0:
            raise ValueError("delay must be >= 0")
        pattern = _compile(path_regex) if path_regex is not None else None
        self._rules.append((float(ms), pattern, method.upper() if method else None))

    def clear(self) -> None:
        self._rules.clear()

    def seconds(self, method: str, path: str) -> float:
        for ms, pattern, m in reversed(self._rules):
            if m is not None and m != method:
                continue
            if pattern is not None and pattern.search(path) is None:
                continue
            return ms / 1000.0
        return 0.0


def error_body(fault: Fault) -> bytes:
    err: dict[str, Any] = {}
    code = fault.code
    if code is None and fault.status == 429:
        code = "rate_limit"
    if code is not None:
        err["code"] = code
    if fault.decline_code is not None:
        err["decline_code"] = fault.decline_code
    if code is not None:
        err["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
    err["message"] = fault.message or _DEFAULT_MESSAGES.get(fault.status, "An error occurred.")
    if fault.param is not None:
        err["param"] = fault.param
    err["type"] = fault.error_type
    return json.dumps({"error": err}, indent=2).encode()


@lru_cache(maxsize=4)
def huge_body(size: int) -> bytes:
    """A valid JSON list object of exactly ``size`` bytes (at least its skeleton)."""
    head = b'{"object":"list","url":"/v1/huge","has_more":false,"data":['
    tail_fmt = '],"padding":"%s"}'
    item = b'{"id":"item_%08d","object":"item","value":"abcdefghijklmnopqrstuvwxyz0123456789"}'
    budget = size - len(head) - len(tail_fmt % "")
    parts: list[bytes] = []
    used = 0
    n = 0
    while True:
        chunk = item % n
        extra = len(chunk) + (1 if parts else 0)
        if used + extra > budget:
            break
        parts.append(chunk)
        used += extra
        n += 1
    pad = max(0, budget - used)
    return head + b",".join(parts) + (tail_fmt % ("x" * pad)).encode()


_SAMPLE = json.dumps(
    {
        "id": "cus_FaultInjected000000000",
        "object": "customer",
        "created": 1700000000,
        "description": "x" * 512,
        "livemode": False,
        "metadata": {},
    },
    indent=2,
).encode()


_UNKNOWN = json.dumps(
    {
        "id": "fut_UnknownFields000000000",
        "object": "future_object",
        "created": 1700000000,
        "livemode": False,
        "status": "a_status_from_the_future",
        "metadata": {},
        "future_scalar": 1.5,
        "future_nested": {
            "object": "future_nested_object",
            "id": "futn_UnknownFields00000000",
            "values": [1, 2.5, None, True, "x", {"object": "future_item"}],
        },
        "future_list": {
            "object": "list",
            "url": "/v1/future_items",
            "has_more": False,
            "data": [{"id": "futi_UnknownFields00000000", "object": "future_item"}],
        },
    },
    indent=2,
).encode()


def relabel_content_type(response: bytes) -> bytes:
    """The same response with its ``Content-Type`` replaced (the first one is the head's)."""
    head, sep, body = response.partition(b"\r\n\r\n")
    head = re.sub(
        rb"(?im)^content-type:[^\r\n]*",
        b"Content-Type: " + WRONG_CONTENT_TYPE.encode(),
        head,
        count=1,
    )
    return head + sep + body


def render_fault(fault: Fault, render: Render, keep_alive: bool) -> Reply:
    """The reply for a fault; the caller adds any rule delay."""
    headers = list(fault.headers.items())
    if fault.should_retry is not None:
        headers.append(("Stripe-Should-Retry", "true" if fault.should_retry else "false"))
    if fault.status == 429 and not any(
        k.lower() == "stripe-rate-limited-reason" for k, _ in headers
    ):
        headers.append(("Stripe-Rate-Limited-Reason", "global-rate"))
    action = fault.action
    close = not keep_alive
    if action == "reset":
        return Reply(abort=True)
    if action == "respond":
        return Reply(
            render(fault.status, headers, error_body(fault), "application/json"), close=close
        )
    if action == "truncated_json":
        return Reply(
            render(200, headers, _SAMPLE[: len(_SAMPLE) // 2], "application/json"), close=close
        )
    if action == "non_json":
        return Reply(
            render(200, headers, b"<html>502 Bad Gateway</html>", "text/html"), close=close
        )
    if action == "huge":
        return Reply(
            render(200, headers, huge_body(fault.size_bytes), "application/json"), close=close
        )
    if action == "unknown_fields":
        return Reply(render(200, headers, _UNKNOWN, "application/json"), close=close)
    if action == "reset_mid_body":
        full = render(200, headers, _SAMPLE, "application/json")
        return Reply(full[: len(full) - len(_SAMPLE) // 2], close=True)
    raise AssertionError(action)  # PASS_THROUGH actions are handled by the app
