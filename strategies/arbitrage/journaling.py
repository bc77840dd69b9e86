"""The strategy's journal: each arbitrage position (pair) written down at every transition.

:class:`PairJournal` wraps a :class:`strategy_client.journal.Journal` for an
:class:`~strategies.arbitrage.engine.ArbitrageEngine`. What is written and when (the crash
windows are in docs/strategies.md, "Journal and resume"):

* the **pair state** (:class:`SlotState`, msgpack in ``pair_states.state``; its phase, legs,
  base held, realised PnL by component and funding accrued in the indexed columns) after every
  transition, booked fill and funding payment — through the journal's writer queue
  (``append_nowait``; a full queue parks the record in an in-memory overflow deque that a pump
  task feeds to the writer in order: nothing is dropped and the event path never waits);
* **before an order is sent** (:meth:`PairJournal.before_send`) the pair state that lists the
  order (its client id, leg, purpose, request) is committed (``flush``) and the order's intent
  is written synchronously (``write_intent``); if either fails the order is not sent. Only the
  phase task waits for this commit, never the market-data path;
* each booked fill (``FillRecord``), funding payment (``FundingRecord``), each order's final
  state (``OrderRecord``) and each decision to enter or exit with its edge terms (``Decision``).
  Decisions not to act (up to 50 a second) are not journaled: the journal grows with trading.
"""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import msgspec
from loguru import logger

from strategy_client.journal import (
    Decision as DecisionRecord,
)
from strategy_client.journal import (
    FillRecord,
    FundingRecord,
    Journal,
    JournalBusy,
    JournalError,
    JournalRecord,
    OrderRecord,
    PairState,
    PnlComponents,
)
from strategy_client.model import Fill, FundingPayment, Order

from .execution import LegOrder
from .pair import PairSize
from .pnl import FundingRecord as LedgerFunding
from .pnl import PnlLedger, TradeRecord
from .slot import Slot

if TYPE_CHECKING:
    from .decision import Decision

__all__ = ["SlotState", "PairJournal", "EngineView", "decode_state", "ZERO"]


class EngineView(Protocol):
    """What the journal reads of the engine (its ledger and clock), so that it needs no import
    of the engine, which imports it."""

    @property
    def ledger(self) -> PnlLedger: ...

    def _now_ms(self) -> int: ...


ZERO = Decimal(0)
BPS_PLACES = Decimal("0.0001")  # decision terms are kept to 1/10000 bps


class SlotState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a restart needs to rebuild one position (the ``state`` blob of a pair row)."""

    position_id: str
    key_a: str
    key_b: str
    size: PairSize
    state: str
    a_base: Decimal
    b_base: Decimal
    opened_ms: int = 0
    next_seq: int = 1
    next_exit_ms: int = 0
    last_error: str = ""
    adopted: bool = False
    orders: list[LegOrder] = []
    trades: list[TradeRecord] = []
    funding: list[LedgerFunding] = []


_ENC = msgspec.msgpack.Encoder(decimal_format="string")
_DEC = msgspec.msgpack.Decoder(SlotState)


def decode_state(blob: bytes) -> SlotState:
    return _DEC.decode(blob)


class PairJournal:
    """The engine's journal writer (one per strategy run). ``overflow`` holds records the
    writer queue had no room for (bounded by the pairs' activity; fed to the writer in order)."""

    def __init__(self, journal: Journal, strategy: str) -> None:
        self.journal = journal
        self.strategy = strategy
        self.versions: dict[str, int] = {}
        self.overflow: deque[JournalRecord] = deque()
        self.errors = 0
        self._wake = asyncio.Event()

    def seed_versions(self, pairs: list[PairState]) -> None:
        for p in pairs:
            self.versions[p.pair_id] = max(self.versions.get(p.pair_id, 0), p.version)

    # ------------------------------------------------------------------ queue
    def put(self, record: JournalRecord) -> None:
        """Never blocks, never drops: the writer queue, else the overflow deque."""
        if self.overflow:
            self.overflow.append(record)
            self._wake.set()
            return
        try:
            self.journal.append_nowait(record)
        except JournalBusy:
            self.overflow.append(record)
            self._wake.set()
        except JournalError as exc:
            self.errors += 1
            logger.error("{}: journal: {}", self.strategy, exc)

    async def pump(self) -> None:
        """Feed the overflow deque to the writer (waits for room: backpressure on this task only)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.overflow:
                await self.journal.append(self.overflow[0])
                self.overflow.popleft()

    async def flush(self, timeout: float | None = 10.0) -> None:
        while self.overflow:
            await self.journal.append(self.overflow.popleft())
        await self.journal.flush(timeout)

    # ------------------------------------------------------------------ records
    def pair_state(self, engine: EngineView, slot: Slot) -> PairState:
        ledger = engine.ledger
        trades = [t for t in ledger.trades if t.position_id == slot.position_id]
        funding = [f for f in ledger.funding if f.position_id == slot.position_id]
        m = slot.machine
        blob = SlotState(
            position_id=slot.position_id,
            key_a=str(slot.pair.a.key),
            key_b=str(slot.pair.b.key),
            size=slot.size,
            state=m.state.value,
            a_base=m.a_base,
            b_base=m.b_base,
            opened_ms=slot.opened_ms,
            next_seq=slot.seq.value,
            next_exit_ms=slot.next_exit_ms,
            last_error=slot.last_error,
            adopted=slot.adopted,
            orders=list(slot.orders),
            trades=trades,
            funding=funding,
        )
        version = self.versions.get(slot.position_id, 0) + 1
        self.versions[slot.position_id] = version
        b = ledger.breakdown(slot.position_id) if slot.position_id in ledger.pairs else None
        realized = (
            PnlComponents(basis=b.basis, funding=b.funding, fees=b.fees, slippage=b.slippage, total=b.total)
            if b is not None
            else PnlComponents()
        )
        return PairState(
            strategy=self.strategy,
            pair_id=slot.position_id,
            version=version,
            ts_ms=engine._now_ms(),
            phase=m.state.value,
            leg_a=blob.key_a,
            leg_b=blob.key_b,
            base_a=m.a_base,
            base_b=-m.b_base,
            closed=m.state.value == "closed",
            realized=realized,
            funding_accrued=sum((f.amount for f in funding), ZERO),
            state=_ENC.encode(blob),
        )

    def slot_changed(self, engine: EngineView, slot: Slot) -> None:
        self.put(self.pair_state(engine, slot))

    async def before_send(self, engine: EngineView, slot: Slot, lo: LegOrder) -> None:
        """The pair state listing ``lo`` committed, then its intent: raises JournalError → do not send."""
        self.put(self.pair_state(engine, slot))
        await self.flush()
        self.journal.write_intent(lo.request, origin=f"{self.strategy}:{slot.position_id}:{lo.purpose.value}")

    def order_final(self, order: Order, detail: str = "", *, reconciled: bool = False) -> None:
        self.put(OrderRecord(order=order, kind=order.status.value, detail=detail, reconciled=reconciled))

    def fill(self, trade: TradeRecord, fill_venue_id: str, reconciled: bool) -> None:
        self.put(
            FillRecord(
                fill=Fill(
                    key=trade.key,
                    client_id=trade.client_id,
                    venue_id=fill_venue_id,
                    trade_id=trade.trade_id,
                    side=trade.side,
                    price=trade.price,
                    qty=trade.qty,
                    fee=trade.fee_native,
                    fee_asset=trade.fee_asset,
                    is_maker=trade.is_maker,
                    ts_ms=trade.ts_ms,
                ),
                reconciled=reconciled,
            )
        )

    def funding(self, payment: FundingPayment) -> None:
        self.put(FundingRecord(payment=payment))

    def decision(self, d: Decision, pair_id: str, keys: str, now_ms: int) -> None:
        terms: dict[str, Decimal] = {}
        if d.edge is not None:
            e = d.edge
            terms = {
                "net_bps": e.net_bps,
                "basis_bps": e.basis_bps,
                "funding_bps": e.funding_bps,
                "fees_bps": e.fees_bps,
                "slippage_bps": e.slippage_bps,
            }
        elif d.hold is not None:
            terms = {"hold_bps": d.hold.hold_bps}
        self.put(
            DecisionRecord(
                strategy=self.strategy,
                ts_ms=now_ms,
                action=d.action.value,
                reason=d.reason,
                pair_id=pair_id,
                keys=keys,
                terms={k: v.quantize(BPS_PLACES) for k, v in terms.items()},
                detail=d.detail,
            )
        )
