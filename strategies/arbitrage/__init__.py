"""The generic arbitrage layer: pure policies an async engine drives.

Nothing here does I/O or reads a clock; every call takes the time and market data it needs and
returns typed results:

* :mod:`.pair` — the two-leg model (leg A long, leg B short), sizes on both legs' grids;
* :mod:`.oracle` — :class:`PriceOracle`, latest book/mark/index per key with age and gap flags;
* :mod:`.funding` — funding normalised across venues and intervals, expected over a horizon;
* :mod:`.decision` — :class:`DecisionPolicy`, net edge on walked VWAPs, entry/exit decisions;
* :mod:`.state` — :class:`PositionMachine`, idle → entering → hedged → exiting → closed (+ broken/unwinding);
* :mod:`.execution` — :class:`ExecutionPolicy`, leg order, order types, hedges and unwinds;
* :mod:`.margin` — :class:`MarginPolicy`, leverage, margin check, exposure caps, ratio actions;
* :mod:`.pnl` — :class:`PnlLedger`, trades and funding with a PnL breakdown that adds up to the cent;
* :mod:`.config` — typed TOML configs for spot-perp and perp-perp.

How an engine drives them (one arbitrage position; ``now`` from the engine's clock)::

    oracle.on_book(ev.book, venue_stale=ev.stale)         # every BookEvent; on_gap() on a seq gap
    oracle.on_funding(ev.funding, received_ns)            # every FundingEvent
    view  = market_view(oracle, pair, now_ns)             # perp-perp: pair = orient_by_funding(...)
    size  = execution.size(pair, min(cfg.size, margin.check_entry(...).max_base))
    route = execution.route(pair, size, view.book_a.require(), view.book_b.require())
    d     = decision.evaluate_entry(pair, size, view, route, order_type=execution.taker_type)
    if d.action is Action.ENTER and margin.check_entry(pair, size.base, ...).ok:
        machine = execution.machine(pid, pair, d.edge.mid_a, on_transition=publish)
        ledger.register(pid, pair); machine.start_entry(now, d.reason)
        first = execution.plan_entry(pair, size, route, book_of_first, position_id=pid, seq=1,
                                     reference_mid=<the decision mid of that leg>)
        # on each fill: ledger.record_fill(...); machine.fill(leg, side, leg.to_base(qty), ts)
        #   and if it was the first leg: execution.plan_hedge(...) → send; on a failed hedge
        #   attempt machine.hedge_failed(ts) and re-plan with attempt + 1
        # when every order of the phase is final: machine.legs_settled(ts)
    # HEDGED: decision.evaluate_exit(pair, ledger.open_position(pid), view) → EXIT: start_exit,
    #   plan_exit + plan_hedge(exiting=True); UNWINDING: execution.plan_unwind(...) until settled
    # margin.assess(accounts) → REDUCE / EXIT; ledger.mark(...) periodically for the PnL timeline
"""

from .config import PerpPerpConfig, SpotPerpConfig, load_perpperp, load_spotperp, merge_overrides
from .decision import (
    Action,
    Decision,
    DecisionConfig,
    DecisionPolicy,
    EdgeBreakdown,
    HoldBreakdown,
    MarketView,
    OpenPosition,
    Reason,
    market_view,
)
from .errors import ArbitrageError, IllegalTransition, LedgerError, PlanError, StaleData, StrategyConfigError
from .execution import (
    ExecutionConfig,
    ExecutionPolicy,
    HedgePlan,
    LegOrder,
    OrderPurpose,
    UnwindPlan,
    dust_tolerance,
    hedge_quantity,
)
from .funding import FundingMode, expected_pair_funding, normalise, pair_carry_per_hour
from .margin import EntryCheck, MarginAction, MarginAssessment, MarginConfig, MarginPolicy
from .oracle import BookQuote, Freshness, OracleConfig, PriceOracle, PriceSource
from .pair import ArbPair, EntryRoute, FeeRates, Leg, LegId, PairSize, Role, orient_by_funding
from .pnl import PnlBreakdown, PnlLedger, PnlPoint, PositionPnl, TradeRecord
from .state import ArbEvent, ArbState, PositionMachine, Transition

__all__ = [
    "Action",
    "ArbEvent",
    "ArbPair",
    "ArbState",
    "ArbitrageError",
    "BookQuote",
    "Decision",
    "DecisionConfig",
    "DecisionPolicy",
    "EdgeBreakdown",
    "EntryCheck",
    "EntryRoute",
    "ExecutionConfig",
    "ExecutionPolicy",
    "FeeRates",
    "Freshness",
    "FundingMode",
    "HedgePlan",
    "HoldBreakdown",
    "IllegalTransition",
    "Leg",
    "LegId",
    "LegOrder",
    "LedgerError",
    "MarginAction",
    "MarginAssessment",
    "MarginConfig",
    "MarginPolicy",
    "MarketView",
    "OpenPosition",
    "OracleConfig",
    "OrderPurpose",
    "PairSize",
    "PerpPerpConfig",
    "PlanError",
    "PnlBreakdown",
    "PnlLedger",
    "PnlPoint",
    "PositionMachine",
    "PositionPnl",
    "PriceOracle",
    "PriceSource",
    "Reason",
    "Role",
    "SpotPerpConfig",
    "StaleData",
    "StrategyConfigError",
    "TradeRecord",
    "Transition",
    "UnwindPlan",
    "dust_tolerance",
    "expected_pair_funding",
    "hedge_quantity",
    "load_perpperp",
    "load_spotperp",
    "market_view",
    "merge_overrides",
    "normalise",
    "orient_by_funding",
    "pair_carry_per_hour",
]
