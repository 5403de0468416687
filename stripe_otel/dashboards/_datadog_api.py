"""Create or update a dashboard through Datadog's v1 dashboards API, with urllib alone.

Idempotent: the dashboard is found by title (``GET /api/v1/dashboard``), then replaced
(``PUT /api/v1/dashboard/{id}``) or created (``POST /api/v1/dashboard``). Every failure
becomes one :class:`DashboardError` line saying what happened to the dashboard; neither
the keys nor a traceback ever reach it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Final

from stripe_otel.dashboards._errors import DashboardError

PATH: Final = "/api/v1/dashboard"
TIMEOUT_S: Final = 30.0
_PAGE: Final = 100
_MAX_PAGES: Final = 1_000
_NOTHING: Final = "nothing was created"


def api_base(site: str, api_url: str | None) -> str:
    return (api_url or f"https://api.{site}").rstrip("/")


def app_base(site: str) -> str:
    """Where people open dashboards: ``app.datadoghq.com``, ``us3.datadoghq.com``, ..."""
    return f"https://app.{site}" if site.count(".") == 1 else f"https://{site}"


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


class _Api:
    def __init__(self, base: str, api_key: str, app_key: str) -> None:
        for label, key in (("API", api_key), ("application", app_key)):
            if not key:
                raise DashboardError(f"no Datadog {label} key given — nothing was sent")
            if not key.isascii() or not key.isprintable():
                raise DashboardError(
                    f"the Datadog {label} key holds characters an HTTP header cannot carry "
                    "— nothing was sent"
                )
        self.base = base
        self._headers = {
            "DD-API-KEY": api_key,
            "DD-APPLICATION-KEY": app_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._secrets = tuple(k for k in (api_key, app_key) if len(k) >= 4)

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _one_line(text)

    def call(self, method: str, path: str, body: bytes | None, *, outcome: str) -> Any:
        """Send one request and return its JSON reply. *outcome*: what a failure leaves
        behind ("nothing was created", "dashboard x was not changed"), for the message."""
        url = self.base + path
        where = f"{method} {url.split('?', 1)[0]}"
        request = urllib.request.Request(  # noqa: S310 (http(s) only: base is ours)
            url, data=body, method=method, headers=self._headers
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status = error.code
            try:
                detail = error.read().decode("utf-8", "replace")
            except OSError:
                detail = ""
            finally:
                error.close()
            raise DashboardError(self._http_message(status, where, detail, outcome)) from None
        except TimeoutError:
            if method != "GET":  # it may have been applied all the same
                outcome = "it may have been applied; run again (the import is idempotent)"
            raise DashboardError(
                f"no answer from Datadog within {TIMEOUT_S:.0f} s ({where}) — {outcome}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DashboardError(
                f"could not reach Datadog at {self.base} ({self._clean(str(reason))}) — {outcome}"
            ) from None
        try:
            return json.loads(raw)
        except ValueError:
            if method != "GET":  # accepted, maybe, but unreadable
                outcome = "it may have been applied; run again (the import is idempotent)"
            raise DashboardError(
                f"Datadog's reply to {where} is not JSON (HTTP {status}) — {outcome}"
            ) from None

    def _http_message(self, status: int, where: str, detail: str, outcome: str) -> str:
        if status == 401:
            return f"Datadog rejected the API key (HTTP 401, {where}) — {outcome}"
        if status == 403:
            return (
                f"Datadog rejected the API/application key (HTTP 403, {where}; the "
                f"application key needs the dashboards_read and dashboards_write scopes) "
                f"— {outcome}"
            )
        if status == 404:
            return f"Datadog has no {where} (HTTP 404): is the site right? — {outcome}"
        if status == 429:
            return f"Datadog rate-limited {where} (HTTP 429); try again later — {outcome}"
        if status >= 500:
            return f"Datadog server error (HTTP {status}, {where}); try again later — {outcome}"
        errors = detail
        try:
            parsed = json.loads(detail)
            if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list):
                errors = "; ".join(map(str, parsed["errors"]))
        except ValueError:
            pass
        said = f": {self._clean(errors)}" if errors.strip() else ""
        return f"Datadog refused {where} (HTTP {status}{said}) — {outcome}"


def _find(api: _Api, title: str) -> str | None:
    """The id of the first dashboard titled *title*, if any."""
    seen: set[str] = set()
    for page in range(_MAX_PAGES):
        query = urllib.parse.urlencode({"count": _PAGE, "start": page * _PAGE})
        reply = api.call("GET", f"{PATH}?{query}", None, outcome=_NOTHING)
        listed = reply.get("dashboards") if isinstance(reply, dict) else None
        if not isinstance(listed, list):
            raise DashboardError(
                f"Datadog's reply to GET {api.base}{PATH} has no dashboard list — {_NOTHING}"
            )
        fresh = 0
        for item in listed:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            if item.get("title") == title:
                return str(item["id"])
            fresh += item["id"] not in seen
            seen.add(item["id"])
        if len(listed) < _PAGE or not fresh:
            return None
    return None


def send(
    dashboard: dict[str, Any],
    *,
    api_key: str,
    app_key: str,
    site: str,
    api_url: str | None,
    dry_run: bool,
    out: Callable[[str], object],
) -> str:
    base = api_base(site, api_url)
    title = str(dashboard.get("title", ""))
    body = json.dumps(dashboard).encode()
    if dry_run:
        out(f"dry run: GET {base}{PATH} to look for a dashboard titled {title!r}")
        out(
            f"dry run: then PUT {base}{PATH}/<id> if there is one, else POST {base}{PATH} "
            f"(JSON body, {len(body)} bytes)"
        )
        out("dry run: nothing was sent")
        return f"{title!r} to {base}"
    api = _Api(base, api_key, app_key)
    existing = _find(api, title)
    if existing is None:
        reply = api.call("POST", PATH, body, outcome=_NOTHING)
    else:
        path = f"{PATH}/{urllib.parse.quote(existing, safe='')}"
        reply = api.call("PUT", path, body, outcome=f"dashboard {existing} was not changed")
    if not isinstance(reply, dict) or not isinstance(reply.get("id"), str):
        done = "created" if existing is None else f"updated ({existing})"
        raise DashboardError(
            f"Datadog's reply has no dashboard id; the dashboard was probably {done} "
            "— run again to update it"
        )
    url = reply.get("url")
    if isinstance(url, str) and url.startswith("/"):
        return app_base(site) + url
    return str(reply["id"])
