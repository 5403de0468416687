"""The checkout workload: N transactions on C threads, each create → confirm → INSERT.

Which checkouts are declined and which meet trouble is planned up front from the seed, so
a run can be repeated; only the timing (and so which thread runs what) differs.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import TracerProvider

import stripe_otel
from stripe_otel.demo import _db
from stripe_otel.demo._stack import Trouble

if TYPE_CHECKING:
    import stripe

__all__ = ["Checkout", "Tally", "Workload", "plan"]

DECLINE_RATE = 0.05
#: Share of checkouts meeting each kind of trouble (a 500, a 429, a slow confirm).
TROUBLE_RATE = 0.02
_TROUBLES: tuple[Trouble, ...] = ("500", "429", "slow")
_AMOUNTS = (1200, 2000, 2500, 4999, 7500, 12900, 19900)


@dataclass(frozen=True, slots=True)
class Checkout:
    index: int
    amount: int
    payment_method: str  # a Stripe test PaymentMethod token
    trouble: Trouble | None = None

    @property
    def order_id(self) -> str:
        return f"order_{self.index:05d}"


def plan(count: int, seed: int, *, trouble: bool = True) -> list[Checkout]:
    """*count* checkouts; exactly round(5%) declined and round(2%) per kind of trouble.

    Exact counts rather than a coin per checkout: a small run still shows each case,
    and the test can count the orders it expects.
    """
    rng = random.Random(seed)
    indexes = list(range(count))
    declined = set(rng.sample(indexes, round(count * DECLINE_RATE)))
    troubled: dict[int, Trouble] = {}
    if trouble:
        clean = [i for i in indexes if i not in declined]
        per_kind = round(count * TROUBLE_RATE)
        chosen = rng.sample(clean, min(len(clean), per_kind * len(_TROUBLES)))
        for n, i in enumerate(chosen):
            troubled[i] = _TROUBLES[n % len(_TROUBLES)]
    return [
        Checkout(
            i,
            rng.choice(_AMOUNTS),
            "pm_card_chargeDeclined" if i in declined else "pm_card_visa",
            troubled.get(i),
        )
        for i in indexes
    ]


@dataclass
class Tally:
    """Outcomes so far; read by the progress bar while workers write."""

    ok: int = 0
    declined: int = 0
    failed: int = 0
    paid: int = 0  # confirmed by Stripe (a webhook is due), whether or not the INSERT worked
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> int:
        return self.ok + self.declined + self.failed

    def snapshot(self) -> tuple[int, int, int, int]:
        with self.lock:
            return self.done, self.ok, self.declined, self.failed


class Workload:
    """Runs *checkouts* on *concurrency* threads until done or :meth:`stop`.

    ``before_confirm(checkout, intent_id)`` runs between create and confirm (the local
    stand-in arms the planned trouble there); ``before_each()`` before each checkout.
    """

    def __init__(
        self,
        client: stripe.StripeClient,
        checkouts: Sequence[Checkout],
        concurrency: int,
        db_path: Path,
        provider: TracerProvider,
        *,
        before_confirm: Callable[[Checkout, str], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> None:
        self.tally = Tally()
        self._client = client
        self._todo = list(reversed(checkouts))  # pop() from the end: first planned first
        self._todo_lock = threading.Lock()
        self._db_path = db_path
        self._provider = provider
        self._before_confirm = before_confirm
        self._before_each = before_each
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._worker, name=f"demo-checkout-{n}", daemon=True)
            for n in range(max(1, min(concurrency, len(checkouts))))
        ]

    def start(self) -> Workload:
        for thread in self._threads:
            thread.start()
        return self

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def join(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds in all for every worker; whether they all ended."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.alive()

    def stop(self) -> None:
        """No new checkout starts; those in flight finish (a call cannot be cut short)."""
        self._stop.set()

    def _next(self) -> Checkout | None:
        with self._todo_lock:
            return self._todo.pop() if self._todo and not self._stop.is_set() else None

    def _worker(self) -> None:
        try:
            db = _db.connect(self._db_path, self._provider)
        except sqlite3.Error as exc:
            self._error(f"sqlite3.{type(exc).__name__}: {exc}")
            return
        try:
            while (checkout := self._next()) is not None:
                self._run_one(db, checkout)
        finally:
            db.close()

    def _run_one(self, db: Any, checkout: Checkout) -> None:
        import stripe  # noqa: PLC0415 - the package imports without stripe installed

        if self._before_each is not None:
            self._before_each()
        outcome = "failed"
        try:
            self._checkout(db, checkout)
            outcome = "ok"
        except stripe.CardError:
            outcome = "declined"
        except stripe.StripeError as exc:
            # The type and Stripe's code only: Stripe's messages can quote what was sent.
            self._error(f"{type(exc).__name__} ({exc.code or exc.http_status})")
        except sqlite3.Error as exc:
            self._error(f"sqlite3.{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one broken checkout must not stop the run
            self._error(f"{type(exc).__name__}: {exc}")
        with self.tally.lock:
            if outcome == "ok":
                self.tally.ok += 1
            elif outcome == "declined":
                self.tally.declined += 1
            else:
                self.tally.failed += 1

    def _checkout(self, db: Any, checkout: Checkout) -> None:
        client = self._client
        # Everything in here is one business transaction: its span gets the time split
        # by phase, the INSERT included (the sqlite3 instrumentation's span is counted).
        with stripe_otel.transaction("checkout"):
            intent = client.v1.payment_intents.create(
                params={
                    "amount": checkout.amount,
                    "currency": "usd",
                    "payment_method": checkout.payment_method,
                    # No redirect-based methods: they would need a return_url to confirm.
                    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                    "metadata": {"order_id": checkout.order_id},
                }
            )
            if self._before_confirm is not None:
                self._before_confirm(checkout, intent.id)
            intent = client.v1.payment_intents.confirm(intent.id)
            with self.tally.lock:
                self.tally.paid += 1
            _db.insert_order(db, checkout.order_id, intent.id, intent.amount, intent.currency)

    def _error(self, text: str) -> None:
        with self.tally.lock:
            if len(self.tally.errors) < 20:
                self.tally.errors.append(text)
