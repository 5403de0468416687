"""Stripe's v1 form encoding (bracket notation), ids, and small JSON helpers."""

from __future__ import annotations

import datetime as _dt
import random
import re
import string
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "decode_form",
    "deep_copy",
    "iso_now",
    "mask_key",
    "new_id",
    "new_request_id",
    "random_token",
]

_BASE62 = string.ascii_letters + string.digits
_KEY_RE = re.compile(r"\[([^\]]*)\]")
_rand = random.Random()


# 248 = 4 * 62: bytes below it map uniformly onto base62; the rest are dropped.
_B62_TABLE = bytes((_BASE62 * 5)[:256], "ascii")
_B62_DROP = bytes(range(248, 256))


def random_token(n: int, alphabet: str = _BASE62) -> str:
    """``n`` random characters of ``alphabet`` (not for secrets)."""
    if alphabet is not _BASE62:
        return "".join(_rand.choices(alphabet, k=n))
    out = _rand.randbytes(n + 8).translate(_B62_TABLE, _B62_DROP)
    while len(out) < n:
        out += _rand.randbytes(n).translate(_B62_TABLE, _B62_DROP)
    return out[:n].decode("ascii")


def new_id(prefix: str) -> str:
    """``prefix`` + ``_`` + 24 base62 characters, as Stripe ids look."""
    return f"{prefix}_{random_token(24)}"


def new_request_id() -> str:
    return "req_" + random_token(14)


def mask_key(key: str) -> str:
    """Never echo a key back: keep its kind and, for long keys, the last four characters."""
    kind = ""
    for p in ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_"):
        if key.startswith(p):
            kind = p
            break
    if not kind:
        kind = key[:3] if len(key) >= 12 else ""
    tail = key[-4:] if len(key) >= 16 else ""
    return f"{kind}****{tail}"


def iso_now(ts: float | None = None) -> str:
    t = _dt.datetime.now(_dt.UTC) if ts is None else _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _split_key(key: str) -> list[str]:
    i = key.find("[")
    if i <= 0:
        return [key]
    parts = [key[:i]]
    parts.extend(_KEY_RE.findall(key, i))
    return parts


def decode_form(raw: str) -> dict[str, Any]:
    """Decode ``a[b][0]=x&m[k]=v&e[]=y`` into nested dicts and lists.

    A dict whose keys are all decimal indexes becomes a list, except directly under
    ``metadata``, whose keys are the user's. ``[]`` appends.
    """
    if not raw:
        return {}
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        parts = _split_key(key)
        node: dict[str, Any] = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            name = part
            if name == "":
                name = str(len(node))  # "[]": append
            if last:
                node[name] = value
            else:
                child = node.get(name)
                if not isinstance(child, dict):
                    child = {}
                    node[name] = child
                node = child
    _listify(root, in_metadata=False)
    return root


def _listify(d: dict[str, Any], in_metadata: bool) -> Any:
    """Turn index-keyed dicts into lists, bottom-up; returns the new value for ``d``."""
    for k, v in d.items():
        if isinstance(v, dict):
            d[k] = _listify(v, in_metadata=(k == "metadata"))
    if d and not in_metadata and all(k.isdigit() for k in d):
        return [d[k] for k in sorted(d, key=int)]
    return d


def deep_copy(obj: Any) -> Any:
    """Copy a JSON-shaped value (dicts, lists, scalars)."""
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    return obj
