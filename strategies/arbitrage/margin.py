"""MarginPolicy: leverage, the pre-entry margin check, exposure caps, and degrading margin ratios.

Pure arithmetic over :class:`AccountSnapshot` values the engine fetched (``GetAccountSnapshot``)
and the exposure it holds:

* **Leverage** is set once at start on every perp leg (:meth:`MarginPolicy.leverage_requests`).
* **Entry check** (:meth:`MarginPolicy.check_entry`): what each leg consumes — a spot buy the
  full notional plus its taker fee from the spot wallet's free quote balance, a perp leg
  ``notional / leverage`` plus its taker fee from the futures wallet's available balance —
  must fit in ``(1 − margin_buffer)`` of what is available, per (exchange, wallet, asset);
  the notional after entry must stay within ``max_notional_per_instrument`` for each leg and
  ``max_total_notional`` in total. Every constraint is linear in the size, so the check also
  reports ``max_base``, the largest size that passes them all (the engine may enter smaller).
* **Margin ratio** (:meth:`MarginPolicy.assess`): the worst maintenance-margin ratio over the
  futures wallets (``MarginBalance.margin_ratio``: 0 safe, 1 liquidation) at or above
  ``exit_margin_ratio`` → ``EXIT`` everything; at or above ``reduce_margin_ratio`` → ``REDUCE``
  by ``reduce_fraction`` (:meth:`MarginPolicy.reduce_base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum

import msgspec

from strategy_client.model import AccountSnapshot, Exchange, InstrumentKey, MarketKind, round_down

from .pair import ArbPair, Leg

__all__ = [
    "MarginConfig",
    "MarginAction",
    "Requirement",
    "EntryCheck",
    "MarginAssessment",
    "MarginPolicy",
]

ZERO = Decimal(0)
ONE = Decimal(1)


class MarginConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    leverage: int = 3
    max_notional_per_instrument: Decimal = Decimal(50_000)
    max_total_notional: Decimal = Decimal(100_000)
    margin_buffer: Decimal = Decimal("0.2")
    reduce_margin_ratio: Decimal = Decimal("0.5")
    exit_margin_ratio: Decimal = Decimal("0.8")
    reduce_fraction: Decimal = Decimal("0.5")

    def problems(self, where: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if not 1 <= self.leverage <= 125:
            out.append((f"{where}.leverage", f"{self.leverage} is not between 1 and 125"))
        for name in ("max_notional_per_instrument", "max_total_notional"):
            if getattr(self, name) <= 0:
                out.append((f"{where}.{name}", f"{getattr(self, name)} must be positive"))
        if not ZERO <= self.margin_buffer < ONE:
            out.append((f"{where}.margin_buffer", f"{self.margin_buffer} is not in [0, 1)"))
        if not ZERO < self.reduce_margin_ratio <= self.exit_margin_ratio <= ONE:
            out.append(
                (
                    f"{where}.reduce_margin_ratio",
                    f"need 0 < reduce_margin_ratio ({self.reduce_margin_ratio}) <= exit_margin_ratio "
                    f"({self.exit_margin_ratio}) <= 1",
                )
            )
        if not ZERO < self.reduce_fraction <= ONE:
            out.append((f"{where}.reduce_fraction", f"{self.reduce_fraction} is not in (0, 1]"))
        return out


class MarginAction(StrEnum):
    OK = "ok"
    REDUCE = "reduce"
    EXIT = "exit"


class Requirement(msgspec.Struct, frozen=True, kw_only=True):
    """What an entry consumes from one wallet, and what that wallet has available."""

    exchange: Exchange
    wallet: MarketKind  # spot wallet or futures (perp) margin wallet
    asset: str
    required: Decimal
    available: Decimal  # before the buffer
    usable: Decimal  # available × (1 − margin_buffer)

    @property
    def ok(self) -> bool:
        return self.required <= self.usable


class EntryCheck(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    base: Decimal
    max_base: Decimal
    reasons: tuple[str, ...] = ()
    requirements: tuple[Requirement, ...] = ()


class MarginAssessment(msgspec.Struct, frozen=True, kw_only=True):
    action: MarginAction
    worst_ratio: Decimal
    exchange: Exchange | None = None
    asset: str = ""


def _per_base_cost(leg: Leg, price: Decimal, leverage: int) -> Decimal:
    """Wallet consumption per base unit of ``leg`` at ``price`` (collateral + taker fee)."""
    fee = price * leg.fees.taker
    if leg.is_perp:
        return price / Decimal(leverage) + fee
    return price + fee


def _floor_div(x: Decimal, y: Decimal) -> Decimal:
    """``x / y`` rounded towards zero, so a size derived from a limit never exceeds it."""
    with localcontext() as ctx:
        ctx.rounding = ROUND_FLOOR
        return x / y


class MarginPolicy:
    def __init__(self, config: MarginConfig) -> None:
        self.config = config

    def leverage_requests(self, pair: ArbPair) -> list[tuple[InstrumentKey, int]]:
        """(key, leverage) for every perp leg: set once at start."""
        return [(leg.key, self.config.leverage) for leg in pair.legs if leg.is_perp]

    def check_entry(
        self,
        pair: ArbPair,
        base: Decimal,
        price_a: Decimal,
        price_b: Decimal,
        accounts: Mapping[Exchange, AccountSnapshot],
        exposure: Mapping[InstrumentKey, Decimal] | None = None,
    ) -> EntryCheck:
        """May ``base`` more of the pair be entered? ``exposure``: current notional per key (abs).

        ``accounts`` must hold a snapshot for each leg's exchange; a missing one fails the check.
        """
        cfg = self.config
        held = dict(exposure or {})
        prices = {pair.a.id: price_a, pair.b.id: price_b}
        reasons: list[str] = []
        limits: list[Decimal] = []  # max base allowed by each constraint (quotients rounded down)
        # exposure caps
        for leg in pair.legs:
            price = prices[leg.id]
            room = cfg.max_notional_per_instrument - held.get(leg.key, ZERO)
            limits.append(_floor_div(max(ZERO, room), price))
            if base * price > room:
                reasons.append(
                    f"{leg.key}: notional {base * price + held.get(leg.key, ZERO)} would exceed "
                    f"max_notional_per_instrument {cfg.max_notional_per_instrument}"
                )
        total_room = cfg.max_total_notional - sum(held.values(), ZERO)
        limits.append(_floor_div(max(ZERO, total_room), price_a + price_b))
        if base * (price_a + price_b) > total_room:
            reasons.append(f"total notional would exceed max_total_notional {cfg.max_total_notional}")
        # wallets
        costs: dict[tuple[Exchange, MarketKind, str], Decimal] = {}
        for leg in pair.legs:
            wallet = (leg.key.exchange, leg.key.kind, pair.currency_of(leg))
            costs[wallet] = costs.get(wallet, ZERO) + _per_base_cost(leg, prices[leg.id], cfg.leverage)
        requirements: list[Requirement] = []
        for (exchange, kind, asset), per_base in costs.items():
            available = self._available(accounts.get(exchange), kind, asset)
            usable = available * (ONE - cfg.margin_buffer)
            req = Requirement(
                exchange=exchange,
                wallet=kind,
                asset=asset,
                required=base * per_base,
                available=available,
                usable=usable,
            )
            requirements.append(req)
            limits.append(_floor_div(max(ZERO, usable), per_base))
            if exchange not in accounts:
                reasons.append(f"{exchange}: no account snapshot")
            elif not req.ok:
                reasons.append(
                    f"{exchange} {kind} {asset}: needs {req.required}, usable {usable} "
                    f"(available {available}, buffer {cfg.margin_buffer})"
                )
        max_base = min(limits) if limits else ZERO
        return EntryCheck(
            ok=not reasons,
            base=base,
            max_base=max(ZERO, max_base),
            reasons=tuple(reasons),
            requirements=tuple(requirements),
        )

    @staticmethod
    def _available(snapshot: AccountSnapshot | None, kind: MarketKind, asset: str) -> Decimal:
        if snapshot is None:
            return ZERO
        if kind is MarketKind.SPOT:
            bal = snapshot.balance(asset)
            return bal.free if bal else ZERO
        margin = snapshot.margin_asset(asset)
        return margin.available_balance if margin else ZERO

    def assess(self, accounts: Mapping[Exchange, AccountSnapshot]) -> MarginAssessment:
        """The action the worst futures wallet's margin ratio calls for."""
        worst = ZERO
        where: tuple[Exchange, str] | None = None
        for exchange, snapshot in accounts.items():
            for margin in snapshot.margin:
                ratio = margin.margin_ratio
                if ratio > worst or where is None:
                    worst, where = max(worst, ratio), (exchange, margin.asset)
        action = MarginAction.OK
        if worst >= self.config.exit_margin_ratio:
            action = MarginAction.EXIT
        elif worst >= self.config.reduce_margin_ratio:
            action = MarginAction.REDUCE
        return MarginAssessment(
            action=action,
            worst_ratio=worst,
            exchange=where[0] if where else None,
            asset=where[1] if where else "",
        )

    def reduce_base(self, base: Decimal, step: Decimal) -> Decimal:
        """How much of an open ``base`` to close on ``REDUCE`` (on the pair's common ``step``).

        ``reduce_fraction`` of it rounded down to ``step``; all of it when that rounds to zero.
        """
        part = round_down(base * self.config.reduce_fraction, step) if step > 0 else base * self.config.reduce_fraction
        return part if part > 0 else base  # cannot reduce by less than a step: close it all
