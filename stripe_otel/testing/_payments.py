"""PaymentMethods (cards, test tokens) and PaymentIntents with charges and declines.

Card numbers are never stored: a PaymentMethod keeps brand, last4 and expiry; the
test behaviour of the number (decline reason) is kept out of the object.
"""

from __future__ import annotations

from ._cards import DECLINES, NUMBERS, brand, luhn_ok, token_number
from ._errors import invalid_request, missing_param, resource_missing, unexpected_state
from ._form import deep_copy, new_id, random_token
from ._resources import Resource, as_bool, as_int, card_error
from ._store import Ctx, Obj

__all__ = ["PaymentIntents", "PaymentMethods"]


class PaymentMethods(Resource):
    list_filters = ("customer", "type")

    def _card(
        self, ctx: Ctx, number: str, exp_month: int, exp_year: int, own_params: bool = False
    ) -> Obj:
        """A card PaymentMethod; ``own_params``: the request is a PaymentMethod create."""
        kind = brand(number)
        billing = ctx.params.get("billing_details") if own_params else None
        fields = {
            "allow_redisplay": "unspecified",
            "billing_details": billing
            or {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": kind,
                "checks": {"address_line1_check": None, "address_postal_code_check": None,
                           "cvc_check": "unchecked"},
                "country": "US",
                "display_brand": kind,
                "exp_month": exp_month,
                "exp_year": exp_year,
                "fingerprint": random_token(16),
                "funding": "debit" if number == "4000056655665556" else "credit",
                "generated_from": None,
                "last4": number[-4:],
                "networks": {"available": [kind], "preferred": None},
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            "customer": None,
            "type": "card",
        }  # fmt: skip
        metadata = ctx.params.get("metadata") if own_params else None
        obj = ctx.store.add(self.collection, self.new(ctx, fields, metadata))
        ctx.store.hidden[obj["id"]] = {"decline": NUMBERS.get(number)}
        return obj

    def from_token(self, ctx: Ctx, token: str, param: str) -> Obj:
        """An existing PaymentMethod, or a new one for a test token like ``pm_card_visa``."""
        obj = ctx.store.get(self.collection, token)
        if obj is not None:
            return obj
        number = token_number(token)
        if number is None:
            raise resource_missing("PaymentMethod", token, param=param)
        return self._card(ctx, number, 12, int(ctx.now // 31_556_952) + 1970 + 3)

    def create(self, ctx: Ctx) -> Obj:
        p = ctx.params
        kind = p.get("type")
        if not kind:
            raise missing_param("type")
        if kind != "card":
            return super().create(ctx)
        card = p.get("card")
        if not isinstance(card, dict):
            raise missing_param("card")
        if card.get("token"):
            obj = self.from_token(ctx, str(card["token"]), "card[token]")
        else:
            number = str(card.get("number") or "").replace(" ", "")
            if not number:
                raise missing_param("card[number]")
            month = as_int(card, "exp_month")
            year = as_int(card, "exp_year")
            if month is None:
                raise missing_param("card[exp_month]")
            if year is None:
                raise missing_param("card[exp_year]")
            if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
                raise card_error(
                    {"code": "incorrect_number", "message": "Your card number is incorrect.",
                     "param": "number"}, None, None, None)  # fmt: skip
            year = year if year >= 100 else 2000 + year
            obj = self._card(ctx, number, month, year, own_params=True)
        ctx.store.record_event(ctx, "payment_method.created", obj)
        return obj

    def retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        return self.from_token(ctx, obj_id, "id")

    def action(self, ctx: Ctx, obj_id: str, name: str) -> Obj:
        if name not in ("attach", "detach"):
            return super().action(ctx, obj_id, name)
        obj = self.from_token(ctx, obj_id, "payment_method")
        previous = {"customer": obj.get("customer")}
        if name == "attach":
            cus = ctx.params.get("customer")
            if not cus:
                raise missing_param("customer")
            if ctx.store.get("customers", str(cus)) is None:
                raise resource_missing("customer", str(cus), param="customer")
            obj["customer"] = cus
            ctx.store.record_event(ctx, "payment_method.attached", obj, previous)
        else:
            obj["customer"] = None
            ctx.store.record_event(ctx, "payment_method.detached", obj, previous)
        return obj


_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation",
               "requires_action", "processing")  # fmt: skip
_UPDATABLE = {"amount", "currency", "customer", "description", "metadata", "payment_method",
              "receipt_email", "setup_future_usage", "shipping", "statement_descriptor",
              "capture_method", "payment_method_types"}  # fmt: skip


class PaymentIntents(Resource):
    list_filters = ("customer",)

    def __init__(self, collection: str, payment_methods: PaymentMethods) -> None:
        super().__init__(collection)
        self.pms = payment_methods

    def _pm_id(self, ctx: Ctx, raw: object) -> str | None:
        if not raw:
            return None
        return str(self.pms.from_token(ctx, str(raw), "payment_method")["id"])

    def create(self, ctx: Ctx) -> Obj:
        p = ctx.params
        amount = as_int(p, "amount", required=True)
        currency = p.get("currency")
        if not currency:
            raise missing_param("currency")
        currency = str(currency).lower()
        assert amount is not None
        if amount < 50 and currency in ("usd", "eur", "gbp"):
            raise invalid_request(
                "Amount must be at least 50 cents", code="amount_too_small", param="amount"
            )
        customer = p.get("customer") or None
        if customer and ctx.store.get("customers", str(customer)) is None:
            raise resource_missing("customer", str(customer), param="customer")
        pm_id = self._pm_id(ctx, p.get("payment_method"))
        apm = p.get("automatic_payment_methods")
        pi_id = new_id("pi")
        pi = self.new(
            ctx,
            {
                "amount": amount,
                "amount_capturable": 0,
                "amount_details": {"tip": {}},
                "amount_received": 0,
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": (
                    {
                        "allow_redirects": apm.get("allow_redirects", "always"),
                        "enabled": as_bool(apm.get("enabled")),
                    }
                    if isinstance(apm, dict)
                    else None
                ),
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": p.get("capture_method") or "automatic_async",
                "client_secret": f"{pi_id}_secret_{random_token(25)}",
                "confirmation_method": p.get("confirmation_method") or "automatic",
                "currency": currency,
                "customer": customer,
                "description": p.get("description"),
                "last_payment_error": None,
                "latest_charge": None,
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": pm_id,
                "payment_method_configuration_details": None,
                "payment_method_options": {
                    "card": {
                        "installments": None,
                        "mandate_options": None,
                        "network": None,
                        "request_three_d_secure": "automatic",
                    }
                },
                "payment_method_types": p.get("payment_method_types") or ["card"],
                "processing": None,
                "receipt_email": p.get("receipt_email"),
                "review": None,
                "setup_future_usage": p.get("setup_future_usage"),
                "shipping": p.get("shipping"),
                "source": None,
                "statement_descriptor": p.get("statement_descriptor"),
                "statement_descriptor_suffix": None,
                "status": "requires_confirmation" if pm_id else "requires_payment_method",
                "transfer_data": None,
                "transfer_group": None,
            },
            p.get("metadata"),
        )
        pi["id"] = pi_id
        ctx.store.add(self.collection, pi)
        ctx.store.record_event(ctx, "payment_intent.created", pi)
        if as_bool(p.get("confirm")):
            self._confirm(ctx, pi)
        return pi

    def update(self, ctx: Ctx, obj_id: str) -> Obj:
        pi = self.get(ctx, obj_id)
        if pi["status"] in ("succeeded", "canceled"):
            raise unexpected_state(
                f"This PaymentIntent's amount could not be updated because it has a status of "
                f"{pi['status']}.",
                "payment_intent_unexpected_state",
                payment_intent=deep_copy(pi),
            )
        if ctx.params.get("payment_method"):
            ctx.params["payment_method"] = self._pm_id(ctx, ctx.params["payment_method"])
        self.apply_update(ctx, pi, _UPDATABLE)
        if pi["status"] == "requires_payment_method" and pi.get("payment_method"):
            pi["status"] = "requires_confirmation"
        return pi

    def action(self, ctx: Ctx, obj_id: str, name: str) -> Obj:
        pi = self.get(ctx, obj_id)
        if name == "confirm":
            pm_id = self._pm_id(ctx, ctx.params.get("payment_method"))
            if pi["status"] not in _CONFIRMABLE:
                raise self._state_error(pi, "confirm", _CONFIRMABLE)
            if pm_id:
                pi["payment_method"] = pm_id
            if not pi.get("payment_method"):
                raise unexpected_state(
                    "You cannot confirm this PaymentIntent because it's missing a payment "
                    "method. You can either update the PaymentIntent with a payment method "
                    "and then confirm it again, or confirm it again directly with a payment "
                    "method or ConfirmationToken.",
                    "payment_intent_unexpected_state",
                    payment_intent=deep_copy(pi),
                )
            self._confirm(ctx, pi)
            return pi
        if name == "capture":
            if pi["status"] != "requires_capture":
                raise self._state_error(pi, "capture", ("requires_capture",))
            amount = as_int(ctx.params, "amount_to_capture") or int(pi["amount"])
            pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
            charge = ctx.store.get("charges", str(pi["latest_charge"]))
            if charge is not None:
                charge.update(captured=True, amount_captured=amount,
                              balance_transaction=new_id("txn"))  # fmt: skip
                ctx.store.record_event(ctx, "charge.captured", charge)
            ctx.store.record_event(ctx, "payment_intent.succeeded", pi)
            return pi
        if name == "cancel":
            if pi["status"] not in _CANCELABLE:
                raise self._state_error(pi, "cancel", _CANCELABLE)
            pi.update(status="canceled", canceled_at=ctx.now, amount_capturable=0,
                      cancellation_reason=ctx.params.get("cancellation_reason"))  # fmt: skip
            ctx.store.record_event(ctx, "payment_intent.canceled", pi)
            return pi
        return super().action(ctx, obj_id, name)

    def _state_error(self, pi: Obj, verb: str, allowed: tuple[str, ...]) -> Exception:
        status = pi["status"]
        if verb == "confirm" and status == "succeeded":
            message = (
                "You cannot confirm this PaymentIntent because it has already succeeded "
                "after being previously confirmed."
            )
        else:
            done = {"confirm": "confirmed", "capture": "captured", "cancel": "canceled"}[verb]
            message = (
                f"This PaymentIntent could not be {done} because it has a status of {status}. "
                f"Only a PaymentIntent with one of the following statuses may be {done}: "
                f"{', '.join(allowed)}."
            )
        return unexpected_state(
            message, "payment_intent_unexpected_state", payment_intent=deep_copy(pi)
        )

    def _confirm(self, ctx: Ctx, pi: Obj) -> None:
        store = ctx.store
        pm = store.get("payment_methods", str(pi.get("payment_method") or ""))
        if pm is None:
            return  # stays requires_payment_method
        reason = store.hidden.get(pm["id"], {}).get("decline")
        manual = pi.get("capture_method") == "manual"
        charge = self._charge(ctx, pi, pm, reason, captured=not manual)
        if reason is not None:
            decline = DECLINES[reason]
            err = {k: v for k, v in decline.items() if k != "advice_code"}
            pi.update(
                status="requires_payment_method",
                latest_charge=charge["id"],
                payment_method=None,
                last_payment_error={**err, "charge": charge["id"], "payment_method": pm,
                                    "type": "card_error"},
            )  # fmt: skip
            store.record_event(ctx, "charge.failed", charge)
            store.record_event(ctx, "payment_intent.payment_failed", pi)
            raise card_error(decline, charge["id"], deep_copy(pi), deep_copy(pm))
        pi.update(
            status="requires_capture" if manual else "succeeded",
            amount_received=0 if manual else pi["amount"],
            amount_capturable=pi["amount"] if manual else 0,
            latest_charge=charge["id"],
            last_payment_error=None,
        )
        store.record_event(ctx, "charge.succeeded", charge)
        kind = "amount_capturable_updated" if manual else "succeeded"
        store.record_event(ctx, f"payment_intent.{kind}", pi)

    def _charge(self, ctx: Ctx, pi: Obj, pm: Obj, reason: str | None, captured: bool) -> Obj:
        ok = reason is None
        card = pm.get("card") or {}
        decline = DECLINES.get(reason or "", {})
        charge: Obj = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": pi["amount"] if ok and captured else 0,
            "amount_refunded": 0,
            "balance_transaction": new_id("txn") if ok and captured else None,
            "billing_details": pm.get("billing_details"),
            "captured": ok and captured,
            "created": ctx.now,
            "currency": pi["currency"],
            "customer": pi.get("customer"),
            "description": pi.get("description"),
            "disputed": False,
            "failure_code": None if ok else decline["code"],
            "failure_message": None if ok else decline["message"],
            "livemode": ctx.livemode,
            "metadata": {},
            "outcome": {
                "network_status": "approved_by_network" if ok else "declined_by_network",
                "reason": None if ok else decline.get("decline_code"),
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "Payment complete."
                if ok
                else "The bank did not return any further details with this decline.",
                "type": "authorized" if ok else "issuer_declined",
            },
            "paid": ok,
            "payment_intent": pi["id"],
            "payment_method": pm["id"],
            "payment_method_details": {
                "card": {
                    k: card.get(k)
                    for k in ("brand", "country", "exp_month", "exp_year", "funding", "last4")
                },
                "type": "card",
            },
            "receipt_url": None,
            "refunded": False,
            "status": "succeeded" if ok else "failed",
        }
        return ctx.store.add("charges", charge)
