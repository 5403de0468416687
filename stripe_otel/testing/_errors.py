"""Stripe error bodies, raised by resource handlers and rendered by the app."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "doc_url",
    "invalid_integer",
    "invalid_request",
    "missing_param",
    "resource_missing",
    "unexpected_state",
    "unrecognized_url",
]


def doc_url(code: str) -> str:
    return "https://stripe.com/docs/error-codes/" + code.replace("_", "-")


class ApiError(Exception):
    """An error response. ``error`` is the body's ``error`` object (without log url).

    ``cacheable`` marks errors raised after the request started executing (a card
    decline): those are stored for idempotent replay, as Stripe does; validation errors
    are not.
    """

    def __init__(
        self,
        status: int,
        error: dict[str, Any],
        *,
        cacheable: bool = False,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error
        self.cacheable = cacheable
        self.headers = headers or []


def invalid_request(
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    status: int = 400,
    **extra: Any,
) -> ApiError:
    err: dict[str, Any] = {}
    if code is not None:
        err["code"] = code
        err["doc_url"] = doc_url(code)
    err["message"] = message
    if param is not None:
        err["param"] = param
    err.update(extra)
    err["type"] = "invalid_request_error"
    return ApiError(status, err)


def missing_param(param: str) -> ApiError:
    return invalid_request(
        f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def invalid_integer(param: str, value: object) -> ApiError:
    return invalid_request(
        f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
    )


def resource_missing(object_name: str, obj_id: str, param: str = "id") -> ApiError:
    return invalid_request(
        f"No such {object_name}: '{obj_id}'",
        code="resource_missing",
        param=param,
        status=404,
    )


def unexpected_state(message: str, code: str, **extra: Any) -> ApiError:
    return invalid_request(message, code=code, **extra)


def unrecognized_url(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        {
            "message": (
                f"Unrecognized request URL ({method}: {path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
            "type": "invalid_request_error",
        },
    )
