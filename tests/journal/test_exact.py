"""Money is exact: any decimal written comes back equal, digit for digit, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategy_client.journal import FillRecord, HistoryFilter, Journal, PairState, PnlComponents, ProcessInfo
from strategy_client.model import Fill, OrderRequest, OrderType, Side

from .conftest import Backend
from .factories import PERP

amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("99999999"), places=8, allow_nan=False)
signed = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=18, allow_nan=False)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(qty=amounts, price=amounts, pnl=signed, fee=signed)
def test_decimals_round_trip_exactly(
    backend: Backend, qty: Decimal, price: Decimal, pnl: Decimal, fee: Decimal
) -> None:
    run = uuid.uuid4().hex[:16]  # examples (and hypothesis' replays) share the backend: each its own stream
    # one SQLite file (migrated once) holds every example's stream, as one PostgreSQL schema does
    url = backend.url or f"sqlite:///{backend.data_dir}/exact.sqlite3"
    j = Journal.open(url, process=ProcessInfo(role="runner", name=f"exact-{run}"))
    try:
        _round_trip(j, f"x{run}", qty, price, pnl, fee)
    finally:
        j.close()


def _round_trip(j: Journal, cid: str, qty: Decimal, price: Decimal, pnl: Decimal, fee: Decimal) -> None:
    req = OrderRequest(key=PERP, side=Side.SELL, type=OrderType.LIMIT, qty=qty, price=price, client_id=cid)
    j.write_intent(req)
    got = j.intent(cid)
    assert got is not None and got.request == req
    assert str(got.request.qty) == str(qty) and str(got.request.price) == str(price)

    f = Fill(
        key=PERP,
        client_id=cid,
        venue_id="v",
        trade_id="t",
        side=Side.SELL,
        price=price,
        qty=qty,
        fee=fee,
        fee_asset="USDT",
        is_maker=False,
        ts_ms=1,
        realized_pnl=pnl,
    )
    pair = PairState(
        strategy="s",
        pair_id="p",
        version=1,
        ts_ms=1,
        phase="hedged",
        leg_a="a",
        leg_b="b",
        realized=PnlComponents(basis=pnl, fees=fee, total=pnl - fee),
        funding_accrued=pnl,
    )

    async def write() -> None:
        async with j.running():
            await j.append(FillRecord(fill=f))
            await j.append(pair)

    asyncio.run(write())
    (row,) = j.history_fills(HistoryFilter(stream=j.stream))
    assert (row.price, row.qty, row.fee, row.realized_pnl) == (price, qty, fee, pnl)
    assert str(row.realized_pnl) == str(pnl)
    (back,) = j.pairs()
    assert back.realized == pair.realized and back.funding_accrued == pnl
