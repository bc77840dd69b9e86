"""`strategy spotperp --paper` sizes its spot buys for the fee the paper venue takes: paper settles
with the venues' ledger rule (a spot buy's fee comes out of the base received), so the buy is
grossed up as on a venue — without it every paper entry held the hedge less the fee, went
`broken` and unwound the difference (the demo showed entering → broken → unwinding → hedged)."""

from __future__ import annotations

from decimal import Decimal

from strategies.arbitrage.config import load_spotperp
from strategies.arbitrage.pair import Leg, LegId
from strategies.runtime import _spotperp_plan
from strategy_client.model import OrderType, Side
from strategy_client.model.ledger.fees import spot_deltas

from .builders import SPOT, instrument

D = Decimal


def test_paper_spot_buy_holds_at_least_the_hedge_after_the_paper_fee() -> None:
    cfg = load_spotperp(None, {"paper": True})
    plan = _spotperp_plan(cfg)
    spot_fees = plan.fees[cfg.spot_key]
    leg = Leg(id=LegId.A, instrument=instrument(SPOT, step="0.00001"), fees=spot_fees)
    hedge = D("0.010")
    qty = leg.buy_qty_for(hedge, OrderType.MARKET) if leg.buy_fee_in_base else hedge
    held, _, _, fee_in_base = spot_deltas(Side.BUY, qty, D("60000"), spot_fees.taker)
    assert fee_in_base  # the paper ledger's rule
    assert held >= hedge, (qty, held)
    assert held - hedge < D("0.00001")  # less than one step of dust
