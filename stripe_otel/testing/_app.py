"""Request pipeline: control API, recording, faults, auth, idempotency, routing, headers."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from . import _form
from ._control import handle_control
from ._errors import ApiError, invalid_request, unrecognized_url
from ._faults import (
    PASS_THROUGH,
    DelayRules,
    Fault,
    FaultQueue,
    relabel_content_type,
    render_fault,
)
from ._form import decode_form, mask_key, new_request_id
from ._http import REASONS, Reply, Request
from ._payments import PaymentIntents, PaymentMethods
from ._resources import Charges, Customers, Events, Refunds, Resource
from ._store import Ctx, Obj, Store
from ._v2 import handle_v2, v2_error

__all__ = ["App", "RecordedRequest"]

_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
_NAMESPACES = frozenset(
    {"apps", "billing", "billing_portal", "checkout", "climate", "entitlements",
     "financial_connections", "forwarding", "identity", "issuing", "radar", "reporting",
     "sigma", "tax", "terminal", "test_helpers", "treasury"}
)  # fmt: skip
_STATIC_MIDDLE = (
    "Access-Control-Allow-Credentials: true\r\n"
    "Access-Control-Allow-Methods: GET, HEAD, PUT, PATCH, POST, DELETE\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Expose-Headers: Request-Id, Stripe-Manage-Version, Stripe-Should-Retry, "
    "X-Stripe-External-Auth-Required, X-Stripe-Privileged-Session-Required\r\n"
    "Access-Control-Max-Age: 300\r\n"
    "Cache-Control: no-cache, no-store\r\n"
)
_STATIC_TAIL = (
    "Vary: Origin\r\n"
    "X-Stripe-Priority-Routing-Enabled: true\r\n"
    "X-Stripe-Routing-Context-Priority-Tier: api-{mode}\r\n"
    "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n"
    "\r\n"
)
_TAIL = {True: _STATIC_TAIL.format(mode="livemode"), False: _STATIC_TAIL.format(mode="testmode")}
_IDEMPOTENCY_CACHE = 10_000


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the server saw it (the API key is redacted)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    request_id: str = ""
    status: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("latin-1"),
            "received_at": self.received_at,
            "request_id": self.request_id,
            "status": self.status,
        }


@dataclass(slots=True)
class _Idem:
    fingerprint: tuple[str, str, Any]
    status: int
    body: bytes
    request_id: str


class _Date:
    """``Date`` header value, recomputed at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True)
        return self._value


def _error_body(exc: ApiError, rid: str, livemode: bool, v2: bool) -> bytes:
    err = dict(exc.error)
    if exc.status != 401 and not v2:
        mode = "" if livemode else "test/"
        err["request_log_url"] = (
            f"https://dashboard.stripe.com/{mode}logs/{rid}?t={int(time.time())}"
        )
    return json.dumps({"error": dict(sorted(err.items()))}, indent=2).encode()


def _reason(status: int) -> str:
    return REASONS.get(status, "Unknown")


class App:
    def __init__(self, api_version: str, max_recorded: int = 100_000) -> None:
        self.api_version = api_version
        self.lock = threading.Lock()
        self.store = Store()
        self.faults = FaultQueue()
        self.delays = DelayRules()
        self.recorded: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self.request_count = 0
        self._idem: dict[tuple[str, str], _Idem] = {}
        self._date = _Date()
        pms = PaymentMethods("payment_methods")
        self._resources: dict[str, Resource] = {
            "customers": Customers("customers"),
            "payment_methods": pms,
            "payment_intents": PaymentIntents("payment_intents", pms),
            "refunds": Refunds("refunds"),
            "charges": Charges("charges"),
            "events": Events("events"),
        }

    def reset(self, seed: int | None = None) -> None:
        with self.lock:
            if seed is not None:
                _form._rand.seed(seed)
            self.store.reset()
            self.faults.clear()
            self.delays.clear()
            self.recorded.clear()
            self.request_count = 0
            self._idem.clear()

    # -- rendering ---------------------------------------------------------------------
    def _render(
        self,
        status: int,
        body: bytes,
        req: Request,
        rid: str,
        extra: list[tuple[str, str]],
        *,
        content_type: str = "application/json",
        livemode: bool = False,
    ) -> bytes:
        h = req.headers
        version = h.get("stripe-version") or self.api_version
        conn = "keep-alive" if req.keep_alive else "close"
        parts = [
            f"HTTP/1.1 {status} {_reason(status)}\r\nServer: nginx\r\nDate: {self._date()}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {conn}\r\n",
            _STATIC_MIDDLE,
        ]
        idem = h.get("idempotency-key")
        if idem is not None:
            parts.append(f"Idempotency-Key: {idem}\r\n")
        for name, value in extra:
            parts.append(f"{name}: {value}\r\n")
        if idem is not None and not any(n == "Original-Request" for n, _ in extra):
            parts.append(f"Original-Request: {rid}\r\n")
        parts.append(f"Request-Id: {rid}\r\n")
        account = h.get("stripe-account")
        if account is not None:
            parts.append(f"Stripe-Account: {account}\r\n")
        parts.append(f"Stripe-Version: {version}\r\n")
        parts.append(_TAIL[livemode])
        return "".join(parts).encode("latin-1") + body

    # -- entry point (loop thread) -----------------------------------------------------
    def handle(self, req: Request) -> Reply:
        if req.path.startswith("/_control/"):
            return self._control(req)
        rid = new_request_id()
        with self.lock:
            self.request_count += 1
            delay = self.delays.seconds(req.method, req.path)
            fault = self.faults.take(req.method, req.path)
            status = 0
            if fault is not None and fault.action not in PASS_THROUGH:

                def render(s: int, hs: list[tuple[str, str]], b: bytes, ct: str) -> bytes:
                    return self._render(s, b, req, rid, hs, content_type=ct)

                reply = render_fault(fault, render, req.keep_alive)
                status = 0 if reply.abort else (200 if fault.action != "respond" else fault.status)
            else:
                extra: list[tuple[str, str]] = []
                if fault is not None:
                    delay += fault.delay_ms / 1000.0
                    extra = list(fault.headers.items())
                status, data = self._api(req, rid, extra)
                if fault is not None and fault.action == "wrong_content_type":
                    data = relabel_content_type(data)
                reply = Reply(data, close=not req.keep_alive)
            reply.delay += delay
            headers = dict(req.headers)
            if "authorization" in headers:
                headers["authorization"] = "<redacted>"
            record = RecordedRequest(
                req.method, req.path, req.query, headers, req.body, req.received_at, rid, status
            )
            self.recorded.append(record)
        return reply

    def _api(self, req: Request, rid: str, extra: list[tuple[str, str]]) -> tuple[int, bytes]:
        livemode = False
        try:
            key = self._authenticate(req)
            livemode = "_live_" in key
            return self._dispatch(req, rid, key, livemode, extra)
        except ApiError as exc:
            return exc.status, self._error(req, rid, exc, livemode, extra)
        except Exception as exc:  # noqa: BLE001 - a bug here must still answer like Stripe
            err = ApiError(500, {"message": f"An unknown error occurred ({exc!r})",
                                 "type": "api_error"})  # fmt: skip
            return 500, self._error(req, rid, err, livemode, extra)

    def _error(
        self, req: Request, rid: str, exc: ApiError, livemode: bool, extra: list[tuple[str, str]]
    ) -> bytes:
        body = _error_body(exc, rid, livemode, req.path.startswith("/v2/"))
        return self._render(exc.status, body, req, rid, exc.headers + extra, livemode=livemode)

    def _authenticate(self, req: Request) -> str:
        auth = req.headers.get("authorization", "")
        key = ""
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        elif auth[:6].lower() == "basic ":
            try:
                key = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        challenge = [("Www-Authenticate", 'Bearer realm="Stripe"')]
        if not key:
            raise ApiError(
                401,
                {
                    "message": "You did not provide an API key. You need to provide your API "
                    "key in the Authorization header, using Bearer auth (e.g. 'Authorization: "
                    "Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
                    "for details, or we can help at https://support.stripe.com/.",
                    "type": "invalid_request_error",
                },
                headers=challenge,
            )
        if not key.startswith(_KEY_PREFIXES) or len(key) <= len("sk_test_"):
            raise ApiError(
                401,
                {
                    "message": f"Invalid API Key provided: {mask_key(key)}",
                    "type": "invalid_request_error",
                },
                headers=challenge,
            )
        return key

    def _params(self, req: Request, v2: bool) -> dict[str, Any]:
        if v2:
            params: dict[str, Any] = {}
            for k, v in parse_qsl(req.query, keep_blank_values=True):
                if k in params:
                    prev = params[k]
                    params[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
                else:
                    params[k] = v
            if req.body:
                try:
                    body = json.loads(req.body)
                except ValueError:
                    raise v2_error(400, "invalid_request_error", "Invalid JSON body.") from None
                if not isinstance(body, dict):
                    raise v2_error(400, "invalid_request_error", "Body must be a JSON object.")
                params.update(body)
            return params
        params = decode_form(req.query) if req.query else {}
        if req.body:
            try:
                text = req.body.decode()
            except UnicodeDecodeError:
                raise invalid_request("Request body is not valid UTF-8.") from None
            params.update(decode_form(text))
        return params

    def _dispatch(
        self, req: Request, rid: str, key: str, livemode: bool, extra: list[tuple[str, str]]
    ) -> tuple[int, bytes]:
        path = req.path
        v2 = path.startswith("/v2/")
        if not v2 and not path.startswith("/v1/"):
            raise unrecognized_url(req.method, path)
        params = self._params(req, v2)
        idem_key = req.headers.get("idempotency-key")
        use_idem = idem_key is not None and (
            req.method == "POST" or (v2 and req.method == "DELETE")
        )
        cache_key = (key, idem_key or "")
        fingerprint = (req.method, path, params)
        if use_idem:
            seen = self._idem.get(cache_key)
            if seen is not None:
                if seen.fingerprint != fingerprint:
                    raise ApiError(
                        400,
                        {
                            "message": "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with. Try using a key other "
                            f"than '{idem_key}' if you meant to execute a different request.",
                            "type": "idempotency_error",
                        },
                    )
                replay = [("Idempotent-Replayed", "true"), ("Original-Request", seen.request_id)]
                data = self._render(seen.status, seen.body, req, rid, replay + extra,
                                    livemode=livemode)  # fmt: skip
                return seen.status, data
        ctx = Ctx(
            self.store, req.method, path, params, rid, idem_key if use_idem else None,
            livemode, self.api_version, int(time.time()),
        )  # fmt: skip
        status = 200
        try:
            segments = path[4:].rstrip("/").split("/")
            obj = handle_v2(ctx, req.method, segments) if v2 else self._route(ctx, segments)
            obj = self.store.expand(obj, params.get("expand"))
            body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        except ApiError as exc:
            if not (use_idem and exc.cacheable):
                raise
            status = exc.status
            body = _error_body(exc, rid, livemode, v2)
        if use_idem:
            self._idem[cache_key] = _Idem(fingerprint, status, body, rid)
            if len(self._idem) > _IDEMPOTENCY_CACHE:
                del self._idem[next(iter(self._idem))]
        return status, self._render(status, body, req, rid, extra, livemode=livemode)

    def _resource(self, collection: str) -> Resource:
        res = self._resources.get(collection)
        if res is None:
            res = self._resources[collection] = Resource(collection)
        return res

    def _route(self, ctx: Ctx, segs: list[str]) -> Obj:
        method = ctx.method
        if not segs or not segs[0]:
            raise unrecognized_url(method, ctx.path)
        if segs[0] in _NAMESPACES and len(segs) > 1:
            collection, rest = f"{segs[0]}/{segs[1]}", segs[2:]
        else:
            collection, rest = segs[0], segs[1:]
        res = self._resource(collection)
        if not rest:
            if method == "POST":
                return res.create(ctx)
            if method == "GET":
                return res.list(ctx)
        elif len(rest) == 1:
            if rest[0] == "search" and method == "GET":
                return res.search(ctx)
            if method == "GET":
                return res.retrieve(ctx, rest[0])
            if method == "POST":
                return res.update(ctx, rest[0])
            if method == "DELETE":
                return res.delete(ctx, rest[0])
        elif len(rest) == 2:
            return res.action(ctx, rest[0], rest[1])
        raise unrecognized_url(method, ctx.path)

    # -- control API -------------------------------------------------------------------
    def _control(self, req: Request) -> Reply:
        return handle_control(self, req)

    def delays_add(self, ms: float, path_regex: str | None, method: str | None) -> None:
        with self.lock:
            self.delays.add(ms, path_regex, method)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.add(fault)
