"""Low-cardinality names for Stripe paths: ``/v1/payment_intents/pi_3Mt.../confirm`` →
``/v1/payment_intents/{intent}/confirm`` and the operation ``PaymentIntent.confirm``.

Stripe's literal path segments are lower-case snake_case words (``payment_intents``,
``confirm``, ``search``). A segment is treated as an id, and replaced by a placeholder,
if it starts with a known Stripe id prefix or is not such a word (it has digits, capitals,
``-``, ``.``, ``%`` ...). An app's own *lower-case word* ids (a price called ``gold``)
stay literal: their number is bounded by the app. The placeholder is named after the
collection before it (``customers/{customer}``), as in Stripe's API reference.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

_WORD_RE: Final = re.compile(r"^[a-z]+(?:_[a-z]+)*$")
_VERSION_RE: Final = re.compile(r"^v\d+$")
# Prefixes of Stripe object ids whose random part could, rarely, be all lower-case
# letters, plus test tokens that are words (pm_card_visa).
_ID_PREFIXES: Final = (
    "acct_", "ba_", "btok_", "card_", "ch_", "cn_", "cs_", "cus_", "dp_", "du_", "ed_",
    "evt_", "fee_", "file_", "ii_", "il_", "in_", "iauth_", "ich_", "ipi_", "li_",
    "mandate_", "mtr_", "pi_", "pm_", "po_", "price_", "prod_", "promo_", "py_", "pyr_",
    "qt_", "re_", "seti_", "si_", "src_", "sub_", "tok_", "tr_", "trr_", "txn_", "we_",
)  # fmt: skip
_KNOWN_LITERALS: Final = frozenset({"3d_secure"})
_PLACEHOLDER_OVERRIDES: Final = {"payment_intents": "intent", "setup_intents": "intent"}


def _is_id(segment: str) -> bool:
    if segment in _KNOWN_LITERALS:
        return False
    return not _WORD_RE.match(segment) or segment.startswith(_ID_PREFIXES)


def singular(word: str) -> str:
    """English singular of a Stripe collection name (``charges`` → ``charge``)."""
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _placeholder(previous: str | None) -> str:
    if previous is None or previous.startswith("{") or _VERSION_RE.match(previous):
        return "{id}"
    return "{" + _PLACEHOLDER_OVERRIDES.get(previous, singular(previous)) + "}"


@lru_cache(maxsize=2048)
def _template_of_path(path: str) -> str:
    segments = path.split("/")
    out: list[str] = []
    previous: str | None = None
    for index, segment in enumerate(segments):
        if index == 0 or not segment or (index == 1 and _VERSION_RE.match(segment)):
            out.append(segment)
        elif _is_id(segment):
            out.append(_placeholder(previous))
        else:
            out.append(segment)
        previous = out[-1] or previous
    return "/".join(out)


def url_template(url: str) -> str:
    """The path of *url* (query dropped) with object ids replaced by placeholders.

    Cached by path: paths without ids (creates, lists) hit the cache; paths with ids
    miss it but cost only a split and a regex per segment.
    """
    path = url.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return _template_of_path(path)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_ITEM_VERBS: Final = {"GET": "retrieve", "POST": "update", "DELETE": "delete"}
_COLLECTION_VERBS: Final = {"GET": "list", "POST": "create"}
_COLLECTION_ACTIONS: Final = frozenset({"search", "preview", "upcoming"})
# Stripe's API namespaces (v1 and v2): the words that may stand before a collection.
_NAMESPACES: Final = frozenset({
    "apps", "billing", "billing_portal", "checkout", "climate", "core", "entitlements",
    "financial_connections", "forwarding", "identity", "issuing", "money_management",
    "radar", "reporting", "sigma", "tax", "terminal", "test_helpers", "treasury",
})  # fmt: skip
# Item actions that end in "s" and so look like sub-collections.
_ITEM_ACTIONS: Final = frozenset({"verify_microdeposits"})


def _is_action(segment: str) -> bool:
    return segment in _ITEM_ACTIONS or singular(segment) == segment


@lru_cache(maxsize=1024)
def operation_name(method: str, template: str) -> str | None:
    """``PaymentIntent.confirm`` for ``POST /v1/payment_intents/{intent}/confirm``.

    Derived from the template alone, so it is computed once per template. Returns None
    when the path does not fit Stripe's ``/vN/[namespace/]collection[/{id}[/...]]`` shape.
    v2 operations are prefixed ``v2.`` (``v2.core.Event.retrieve``), as the SDK's classes.
    """
    parts = [p for p in template.split("/") if p]
    if len(parts) < 2 or not _VERSION_RE.match(parts[0]):
        return None
    version, parts = parts[0], parts[1:]
    first_id = next((i for i, p in enumerate(parts) if p.startswith("{")), len(parts))
    head, tail = parts[:first_id], parts[first_id + 1 :]
    verb = method.upper()
    action: str | None = None
    if first_id == len(parts) and len(head) >= 2 and head[-1] in _COLLECTION_ACTIONS:
        action = head.pop()  # `/v1/customers/search`
    if not head or any(word not in _NAMESPACES for word in head[:-1]):
        return None  # not Stripe's shape, e.g. an app's own lower-case id (`/v1/prices/gold`)
    prefix = "v2." if version == "v2" else ""
    cls = prefix + ".".join([*head[:-1], _camel(singular(head[-1]))])
    if action is None and first_id == len(parts):
        action = _COLLECTION_VERBS.get(verb, verb.lower())
    elif action is None and not tail:
        action = _ITEM_VERBS.get(verb, verb.lower())
    elif action is None and len(tail) == 1 and _is_action(tail[0]) and verb == "POST":
        action = tail[0]  # `/v1/payment_intents/{intent}/confirm`
    elif action is None and len(tail) == 1 and _is_action(tail[0]):
        action = f"{_ITEM_VERBS.get(verb, verb.lower())}_{tail[0]}"  # singular sub-resource
    elif action is None and len(tail) == 1:
        sub = tail[0]  # a sub-collection: `/v1/customers/{customer}/sources`
        action = f"create_{singular(sub)}" if verb == "POST" else f"list_{sub}"
    elif action is None:
        rest = "_".join(tail[2:])
        action = f"{_ITEM_VERBS.get(verb, verb.lower())}_{singular(tail[0])}"
        action += f"_{rest}" if rest else ""
    return f"{cls}.{action}"
