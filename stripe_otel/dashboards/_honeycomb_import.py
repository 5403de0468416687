"""Create the Honeycomb queries, their annotations and the board, idempotently.

Every import creates fresh queries and annotations: Honeycomb queries are immutable (and
cheap), and an annotation can never be moved to another query, so neither can be reused
for a changed query. The *board* is found by name (``GET /1/boards``) and updated in
place (``PUT /1/boards/{id}``) when it exists, so re-importing never makes a second board;
the queries and annotations of the previous import are left behind, unused.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import IO, Any, Final
from urllib.parse import quote, urlsplit

from stripe_otel.dashboards._errors import DashboardError
from stripe_otel.dashboards._honeycomb_spec import (
    annotation_body,
    board_body,
    query_entries,
    shape_problems,
)

__all__ = ["import_board"]

_TIMEOUT_S: Final = 30.0
_TEAM_HEADER: Final = "X-Honeycomb-Team"
_KEY_RE: Final = re.compile(r"[\x21-\x7e]+")
_MAX_DETAIL: Final = 200
_PERMISSIONS: Final = "Manage Queries and Columns and Manage Public Boards"


class _Failed(Exception):
    """One request failed; ``str()`` says how, without what had been created."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the key to wherever it points: report it instead.
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _one_line(text: str, key: str) -> str:
    text = " ".join(text.split())
    if key:
        text = text.replace(key, "***")
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _error_detail(raw: bytes) -> str:
    """Honeycomb's own explanation from an error body, if it gave one in JSON."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(body, Mapping):
        for field in ("error", "detail", "title"):
            if isinstance(body.get(field), str) and body[field].strip():
                return str(body[field])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("detail") or errors[0].get("title") or "")
    return ""


class _Api:
    def __init__(
        self, api_url: str, api_key: str, dataset: str, dry_run: bool, out: Callable[[str], Any]
    ) -> None:
        self.api_url, self.key, self.dataset = api_url, api_key, dataset
        self.dry_run, self.out = dry_run, out
        self._opener = urllib.request.build_opener(_NoRedirect)

    def call(self, method: str, path: str, body: object, doing: str) -> Any:
        data = None if body is None else json.dumps(body).encode()
        size = "no body" if data is None else f"{len(data)} bytes"
        if self.dry_run:
            self.out(f"dry run: {method} {path} ({size})")
            return None
        request = urllib.request.Request(  # noqa: S310 (scheme checked in import_board)
            self.api_url + path,
            data=data,
            method=method,
            headers={_TEAM_HEADER: self.key, "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=_TIMEOUT_S) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise _Failed(self._http_error(exc, doing)) from None
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {_TIMEOUT_S:.0f} s"
            reason_text = _one_line(str(reason) or type(reason).__name__, self.key)
            raise _Failed(
                f"could not reach Honeycomb at {self.api_url} {doing}: {reason_text}"
            ) from None
        self.out(f"{method} {path} ({size}) -> {status}")
        try:
            return json.loads(raw)
        except ValueError:
            raise _Failed(
                f"Honeycomb's answer {doing} was not JSON (HTTP {status}); is {self.api_url} "
                "Honeycomb's API?"
            ) from None

    def _http_error(self, exc: urllib.error.HTTPError, doing: str) -> str:
        try:
            detail = _one_line(_error_detail(exc.read()), self.key)
        except (OSError, http.client.HTTPException):
            detail = ""
        status = exc.code
        if status == 401:
            hint = f"the API key was not accepted (use a Configuration key with {_PERMISSIONS})"
        elif status == 403:
            hint = f"the API key lacks a permission it needs ({_PERMISSIONS})"
        elif status == 404:
            hint = (
                f"not found: check the dataset {self.dataset!r} (__all__ for the whole "
                f"environment) and the API URL {self.api_url}"
            )
        elif status == 429:
            after = exc.headers.get("Retry-After") if exc.headers else None
            hint = "rate limited" + (f", retry after {after} s" if after else ", retry later")
        elif 300 <= status < 400:
            hint = f"a redirect, not followed: check the API URL {self.api_url}"
        elif status >= 500:
            hint = "a Honeycomb server error"
        else:
            hint = "the request was rejected"
        if detail:
            hint += f": {detail}"
        return f"Honeycomb answered {status} {doing} ({hint})"


def _id(answer: Any, doing: str) -> str:
    found = answer.get("id") if isinstance(answer, Mapping) else None
    if isinstance(found, str) and found:
        return found
    raise _Failed(f"Honeycomb's answer {doing} had no id")


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


class _Run:
    """One import: the requests in order, and what they have created so far."""

    def __init__(self, api: _Api, spec: Mapping[str, Any]) -> None:
        self.api, self.spec = api, spec
        self.slug = quote(api.dataset, safe="")
        self.name = spec["board"].get("name")
        self.queries = self.annotations = 0
        self.existing: str | None = None

    def summary(self) -> str:
        if not self.queries and not self.annotations:
            return "nothing was created"
        unchanged = f"; board {self.existing} is unchanged" if self.existing else ""
        return (
            f"{_count(self.queries, 'query', 'queries')} and "
            f"{_count(self.annotations, 'annotation', 'annotations')} were created and are "
            f"unused{unchanged} — re-run to finish"
        )

    def find_board(self) -> None:
        boards = self.api.call("GET", "/1/boards", None, "listing boards")
        if boards is not None and not isinstance(boards, list):
            raise _Failed("Honeycomb's answer listing boards was not a list")
        for board in boards or []:
            if isinstance(board, Mapping) and board.get("name") == self.name:
                self.existing = _id(board, "listing boards")
                return

    def create_queries(self) -> dict[str, tuple[str, str]]:
        dry = self.api.dry_run
        entries = query_entries(self.spec)
        ids: dict[str, tuple[str, str]] = {}
        for n, entry in enumerate(entries, 1):
            key = entry["key"]
            what = f"query {n} of {len(entries)} ({key})"
            doing = f"creating {what}"
            answer = self.api.call("POST", f"/1/queries/{self.slug}", entry["query"], doing)
            query_id = f"<id of {key}>" if dry else _id(answer, doing)
            self.queries += 0 if dry else 1
            doing = f"creating the annotation of {what}"
            body = annotation_body(entry, query_id)
            answer = self.api.call("POST", f"/1/query_annotations/{self.slug}", body, doing)
            ids[key] = (query_id, f"<annotation of {key}>" if dry else _id(answer, doing))
            self.annotations += 0 if dry else 1
        return ids

    def save_board(self, ids: Mapping[str, tuple[str, str]]) -> Any:
        body = board_body(self.spec, ids)
        if self.api.dry_run:
            self.api.out(
                f"dry run: PUT /1/boards/<id> instead if a board named {self.name!r} exists"
            )
        if self.existing:
            path = f"/1/boards/{quote(self.existing, safe='')}"
            return self.api.call("PUT", path, body, f"updating board {self.existing}")
        return self.api.call("POST", "/1/boards", body, "creating the board")


def import_board(
    spec: Mapping[str, Any],
    *,
    api_key: str,
    dataset: str = "__all__",
    api_url: str = "https://api.honeycomb.io",
    dry_run: bool = False,
    out: Callable[[str], Any] = print,
) -> str:
    """Create the queries and annotations of ``spec``, then create the board or, when a board
    of the same name exists, update it. Returns the board's URL (``links.board_url``), or its
    id when Honeycomb gives no URL; in a dry run, a note that nothing was sent.

    ``dry_run`` prints each request (method, path, body size) through ``out`` and sends
    nothing. Any failure raises :class:`DashboardError` with one line saying what failed
    and what had been created by then. The key is never printed.
    """
    problems = shape_problems(spec)
    if problems:
        raise DashboardError(f"not a Honeycomb board spec: {problems[0]}")
    parts = urlsplit(api_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise DashboardError(f"the Honeycomb API URL must be http(s)://host, got {api_url!r}")
    if not dry_run and not _KEY_RE.fullmatch(api_key or ""):
        raise DashboardError(
            "no usable Honeycomb API key: it must be non-empty printable ASCII without spaces"
        )
    if not dataset:
        raise DashboardError("the Honeycomb dataset is empty (use __all__ for the environment)")
    run = _Run(_Api(api_url.rstrip("/"), api_key, dataset, dry_run, out), spec)
    try:
        run.find_board()
        answer = run.save_board(run.create_queries())
    except _Failed as exc:
        raise DashboardError(f"{exc}; {run.summary()}") from None
    if dry_run:
        return "dry run: nothing was sent"
    links = answer.get("links") if isinstance(answer, Mapping) else None
    url = links.get("board_url") if isinstance(links, Mapping) else None
    if isinstance(url, str) and url:
        return url
    try:
        return _id(answer, "saving the board")
    except _Failed as exc:
        raise DashboardError(f"{exc}; the board may have been saved") from None
