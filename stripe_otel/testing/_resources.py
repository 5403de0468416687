"""v1 resources: a generic collection, customers, events, charges and refunds."""

from __future__ import annotations

from typing import Any

from ._errors import ApiError, invalid_request, missing_param, resource_missing, unrecognized_url
from ._form import new_id, random_token
from ._store import Ctx, Obj

__all__ = ["Charges", "Customers", "Events", "Refunds", "Resource", "as_bool", "as_int"]

# collection -> (object name, id prefix)
KNOWN: dict[str, tuple[str, str]] = {
    "accounts": ("account", "acct"),
    "balance_transactions": ("balance_transaction", "txn"),
    "billing/meters": ("billing.meter", "mtr"),
    "charges": ("charge", "ch"),
    "checkout/sessions": ("checkout.session", "cs_test"),
    "coupons": ("coupon", "co"),
    "customers": ("customer", "cus"),
    "disputes": ("dispute", "dp"),
    "events": ("event", "evt"),
    "files": ("file", "file"),
    "invoiceitems": ("invoiceitem", "ii"),
    "invoices": ("invoice", "in"),
    "payment_intents": ("payment_intent", "pi"),
    "payment_links": ("payment_link", "plink"),
    "payment_methods": ("payment_method", "pm"),
    "payouts": ("payout", "po"),
    "prices": ("price", "price"),
    "products": ("product", "prod"),
    "promotion_codes": ("promotion_code", "promo"),
    "quotes": ("quote", "qt"),
    "refunds": ("refund", "re"),
    "setup_intents": ("setup_intent", "seti"),
    "sources": ("source", "src"),
    "subscription_items": ("subscription_item", "si"),
    "subscriptions": ("subscription", "sub"),
    "tax_rates": ("tax_rate", "txr"),
    "test_helpers/test_clocks": ("test_helpers.test_clock", "clock"),
    "tokens": ("token", "tok"),
    "transfers": ("transfer", "tr"),
    "webhook_endpoints": ("webhook_endpoint", "we"),
}


def describe(collection: str) -> tuple[str, str]:
    """Object name and id prefix for a collection, guessed when unknown."""
    if collection in KNOWN:
        return KNOWN[collection]
    parts = collection.split("/")
    last = parts[-1]
    if last.endswith("ies"):
        singular = last[:-3] + "y"
    elif last.endswith("sses") or last.endswith("xes"):
        singular = last[:-2]
    elif last.endswith("s"):
        singular = last[:-1]
    else:
        singular = last
    name = ".".join([*parts[:-1], singular])
    words = singular.split("_")
    prefix = "".join(w[0] for w in words) if len(words) > 1 else singular[:4]
    return name, prefix


def as_int(params: dict[str, Any], key: str, required: bool = False) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        if required:
            raise missing_param(key)
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise invalid_request(
            f"Invalid integer: {raw}", code="parameter_invalid_integer", param=key
        ) from None


def as_bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def merge_metadata(current: dict[str, Any], update: object) -> dict[str, Any]:
    """Stripe's rules: ``metadata=""`` clears all, ``metadata[k]=""`` removes ``k``."""
    if update == "":
        return {}
    if not isinstance(update, dict):
        return current
    merged = dict(current)
    for k, v in update.items():
        if v == "" or v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged


_NOT_FIELDS = frozenset({"expand", "idempotency_key"})


class Resource:
    """A collection with create, retrieve, update, delete, list and search.

    Fields of created objects are the request's parameters. Subclasses add validation,
    defaults and state machines.
    """

    list_filters: tuple[str, ...] = ()

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.object_name, self.prefix = describe(collection)
        self.url = f"/v1/{collection}"

    # -- helpers -----------------------------------------------------------------------
    def new(self, ctx: Ctx, fields: dict[str, Any], metadata: object = None) -> Obj:
        """A new object with Stripe's common fields; ``metadata`` follows Stripe's rules."""
        obj: Obj = {
            "id": new_id(self.prefix),
            "object": self.object_name,
            "created": ctx.now,
            "livemode": ctx.livemode,
        }
        obj.update(fields)
        obj["metadata"] = merge_metadata({}, metadata)
        return obj

    def fields(self, ctx: Ctx) -> dict[str, Any]:
        return {k: v for k, v in ctx.params.items() if k not in _NOT_FIELDS}

    def get(self, ctx: Ctx, obj_id: str, param: str = "id") -> Obj:
        obj = ctx.store.get(self.collection, obj_id)
        if obj is None:
            raise resource_missing(self.object_name, obj_id, param=param)
        return obj

    def apply_update(self, ctx: Ctx, obj: Obj, allowed: set[str] | None = None) -> Obj:
        previous: Obj = {}
        for key, value in self.fields(ctx).items():
            if allowed is not None and key not in allowed:
                continue
            old = obj.get(key)
            new = merge_metadata(old or {}, value) if key == "metadata" else value
            if new == "" and key != "metadata":
                new = None
            if old != new:
                previous[key] = old
                obj[key] = new
        if previous:
            ctx.store.record_event(ctx, f"{self.object_name}.updated", obj, previous)
        return obj

    # -- verbs -------------------------------------------------------------------------
    def create(self, ctx: Ctx) -> Obj:
        fields = self.fields(ctx)
        fields.pop("metadata", None)
        obj = self.new(ctx, fields, ctx.params.get("metadata"))
        ctx.store.add(self.collection, obj)
        ctx.store.record_event(ctx, f"{self.object_name}.created", obj)
        return obj

    def retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        return self.get(ctx, obj_id)

    def update(self, ctx: Ctx, obj_id: str) -> Obj:
        return self.apply_update(ctx, self.get(ctx, obj_id))

    def delete(self, ctx: Ctx, obj_id: str) -> Obj:
        obj = self.get(ctx, obj_id)
        ctx.store.remove(self.collection, obj_id)
        ctx.store.record_event(ctx, f"{self.object_name}.deleted", obj)
        return {"id": obj_id, "object": self.object_name, "deleted": True}

    def list(self, ctx: Ctx) -> Obj:
        wanted = {k: ctx.params[k] for k in self.list_filters if ctx.params.get(k)}
        pred = None
        if wanted:

            def pred(o: Obj) -> bool:
                return all(o.get(k) == v for k, v in wanted.items())

        return ctx.store.list_page(ctx, self.collection, self.url, self.object_name, predicate=pred)

    def search(self, ctx: Ctx) -> Obj:
        return ctx.store.search(ctx, self.collection, self.url + "/search")

    def action(self, ctx: Ctx, obj_id: str, name: str) -> Obj:
        """``POST /v1/<collection>/<id>/<name>``: apply params; ``cancel`` sets status."""
        if ctx.method != "POST":
            raise unrecognized_url(ctx.method, ctx.path)
        obj = self.get(ctx, obj_id)
        self.apply_update(ctx, obj)
        if name == "cancel" and "status" in obj:
            obj["status"] = "canceled"
        return obj


class Customers(Resource):
    list_filters = ("email", "test_clock")

    def create(self, ctx: Ctx) -> Obj:
        p = ctx.params
        obj = self.new(
            ctx,
            {
                "address": p.get("address"),
                "balance": int(p.get("balance") or 0),
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": p.get("description"),
                "discount": None,
                "email": p.get("email"),
                "invoice_prefix": random_token(8, "ABCDEF0123456789"),
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": (p.get("invoice_settings") or {}).get(
                        "default_payment_method"
                    ),
                    "footer": None,
                    "rendering_options": None,
                },
                "name": p.get("name"),
                "next_invoice_sequence": 1,
                "phone": p.get("phone"),
                "preferred_locales": p.get("preferred_locales") or [],
                "shipping": p.get("shipping"),
                "tax_exempt": p.get("tax_exempt") or "none",
                "test_clock": None,
            },
            p.get("metadata"),
        )
        ctx.store.add(self.collection, obj)
        if p.get("payment_method"):
            pm = ctx.store.get("payment_methods", str(p["payment_method"]))
            if pm is not None:
                pm["customer"] = obj["id"]
        ctx.store.record_event(ctx, "customer.created", obj)
        return obj

    def action(self, ctx: Ctx, obj_id: str, name: str) -> Obj:
        if name == "payment_methods" and ctx.method == "GET":
            self.get(ctx, obj_id, param="customer")
            kind = ctx.params.get("type")
            items = [
                pm
                for pm in ctx.store.all("payment_methods")
                if pm.get("customer") == obj_id and (not kind or pm.get("type") == kind)
            ]
            url = f"{self.url}/{obj_id}/payment_methods"
            return ctx.store.list_page(ctx, "payment_methods", url, "payment_method", items=items)
        return super().action(ctx, obj_id, name)


class Events(Resource):
    def create(self, ctx: Ctx) -> Obj:
        raise unrecognized_url(ctx.method, ctx.path)

    def list(self, ctx: Ctx) -> Obj:
        one = ctx.params.get("type")
        many = ctx.params.get("types")
        patterns = [one] if isinstance(one, str) and one else []
        if isinstance(many, list):
            patterns.extend(str(t) for t in many)

        def matches(o: Obj) -> bool:
            t = str(o["type"])
            for pat in patterns:
                if pat.endswith("*") and t.startswith(pat[:-1]):
                    return True
                if t == pat:
                    return True
            return False

        pred = matches if patterns else None
        return ctx.store.list_page(ctx, self.collection, self.url, self.object_name, predicate=pred)


class Charges(Resource):
    list_filters = ("customer", "payment_intent")

    def create(self, ctx: Ctx) -> Obj:
        raise invalid_request(
            "Creating charges directly is not supported by this test server; use PaymentIntents.",
        )


class Refunds(Resource):
    list_filters = ("charge", "payment_intent")

    def create(self, ctx: Ctx) -> Obj:
        p = ctx.params
        store = ctx.store
        pi_id, ch_id = p.get("payment_intent"), p.get("charge")
        if not pi_id and not ch_id:
            raise invalid_request(
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if pi_id:
            pi = store.get("payment_intents", str(pi_id))
            if pi is None:
                raise resource_missing("payment_intent", str(pi_id), param="payment_intent")
            charge = store.get("charges", str(pi.get("latest_charge") or ""))
            if charge is None or pi.get("status") != "succeeded":
                raise invalid_request(
                    f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
        else:
            charge = store.get("charges", str(ch_id))
            if charge is None:
                raise resource_missing("charge", str(ch_id), param="charge")
        remaining = int(charge["amount_captured"]) - int(charge["amount_refunded"])
        if remaining <= 0:
            raise invalid_request(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = as_int(p, "amount")
        if amount is None:
            amount = remaining
        if amount <= 0 or amount > remaining:
            raise invalid_request(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining}).",
                code="amount_too_large",
                param="amount",
            )
        refund = self.new(
            ctx,
            {
                "amount": amount,
                "balance_transaction": new_id("txn"),
                "charge": charge["id"],
                "currency": charge["currency"],
                "destination_details": {
                    "card": {
                        "reference": None,
                        "reference_status": "pending",
                        "reference_type": "acquirer_reference_number",
                        "type": "refund",
                    },
                    "type": "card",
                },
                "payment_intent": charge.get("payment_intent"),
                "reason": p.get("reason"),
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            },
            p.get("metadata"),
        )
        store.add(self.collection, refund)
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        store.record_event(ctx, "refund.created", refund)
        store.record_event(ctx, "charge.refunded", charge, previous)
        return refund


def card_error(
    decline: dict[str, Any], charge_id: str | None, pi: Obj | None, pm: Obj | None
) -> ApiError:
    err: dict[str, Any] = {}
    if decline.get("advice_code"):
        err["advice_code"] = decline["advice_code"]
    if charge_id:
        err["charge"] = charge_id
    err["code"] = decline["code"]
    if decline.get("decline_code"):
        err["decline_code"] = decline["decline_code"]
    err["doc_url"] = "https://stripe.com/docs/error-codes/" + decline["code"].replace("_", "-")
    err["message"] = decline["message"]
    if decline.get("param"):
        err["param"] = decline["param"]
    if pi is not None:
        err["payment_intent"] = pi
    if pm is not None:
        err["payment_method"] = pm
    err["type"] = "card_error"
    return ApiError(402, err, cacheable=True)
