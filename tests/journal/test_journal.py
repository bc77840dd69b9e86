"""The journal over real SQLite files and the real PostgreSQL (each test runs on both)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import msgspec
import pytest

from strategy_client.journal import (
    RETENTION_ENV,
    BalanceSnapshot,
    Decision,
    DuplicateIntent,
    EventRecord,
    FillRecord,
    FundingRecord,
    HistoryFilter,
    InvalidRecord,
    JournalBusy,
    JournalClosed,
    OrderRecord,
    PairState,
    PnlComponents,
    PositionSnapshot,
    to_csv,
    to_json,
    to_table,
)
from strategy_client.model import (
    AccountSnapshot,
    Balance,
    Exchange,
    FundingPayment,
    MarginBalance,
    OrderStatus,
    Position,
    RejectCode,
)
from strategy_client.wire.messages import (
    BookEvent,
    FundingPaymentEvent,
    OrderEvent,
    OrderEventKind,
    PositionEvent,
)

from .conftest import Backend
from .factories import DAY_MS, PERP, SPOT, T0, fill, order, request


def test_intent_is_committed_exactly_and_readable_by_another_connection(backend: Backend) -> None:
    j = backend.open()
    req = request("c-1", qty="0.00100000", price="50000.123456789")
    j.write_intent(req, origin="spotperp")
    got = backend.reader().intent("c-1")
    assert got is not None and got.request == req and got.origin == "spotperp"
    assert got.request.qty == Decimal("0.00100000") and str(got.request.qty) == "0.00100000"
    # never answered: after a restart it must be looked up at the venue
    (pending,) = j.unresolved_orders()
    assert pending.client_id == "c-1" and pending.status is OrderStatus.PENDING and pending.price == req.price


def test_a_client_id_is_journaled_once(backend: Backend) -> None:
    j = backend.open()
    j.write_intent(request("dup"))
    with pytest.raises(DuplicateIntent) as err:
        j.write_intent(request("dup"))
    assert "dup" in err.value.line and "\n" not in err.value.line
    assert j.stats.intents == 1 and j.stats.intent_errors == 1


def test_bad_intents_and_readers_are_refused(backend: Backend) -> None:
    j = backend.open()
    with pytest.raises(InvalidRecord):
        j.write_intent(request(""))
    j.write_intent(request("ok"))
    reader = backend.reader()
    with pytest.raises(JournalClosed):
        reader.write_intent(request("from-reader"))
    j.close()
    with pytest.raises(JournalClosed):
        j.write_intent(request("after-close"))


async def test_events_are_filed_published_after_commit_and_replayed_from_a_sequence(backend: Backend) -> None:
    j = backend.open()
    reader = backend.reader()
    j.write_intent(request("a"))
    j.write_intent(request("b"))
    seen_at_commit: list[tuple[int, int]] = []

    def published(seq: int) -> None:
        # on_commit: the event is already readable by anyone (it is safe to publish now)
        seen_at_commit.append((seq, reader.last_seq()))

    async with j.running():
        events = [
            OrderEvent(kind=OrderEventKind.NEW, order=order("a")),
            OrderEvent(kind=OrderEventKind.NEW, order=order("b")),
            OrderEvent(
                kind=OrderEventKind.PARTIAL_FILL,
                order=order("a", OrderStatus.PARTIALLY_FILLED, filled="0.005"),
                fill=fill("a", "t1"),
            ),
            OrderEvent(kind=OrderEventKind.CANCEL, order=order("b", OrderStatus.CANCELED)),
            PositionEvent(position=Position(key=PERP, size=Decimal("0.005"), entry_price=Decimal("50000.10"))),
        ]
        for seq, ev in enumerate(events, start=1):
            await j.append(EventRecord(event=ev, seq=seq, topic=b"exec|binance|"), on_commit=lambda s=seq: published(s))
        await j.flush()
    assert [s for s, _ in seen_at_commit] == [1, 2, 3, 4, 5]
    assert all(visible >= seq for seq, visible in seen_at_commit)

    assert j.last_seq() == 5
    replay = reader.events_after(2)
    assert [e.seq for e in replay] == [3, 4, 5]
    assert replay[0].event == events[2] and replay[0].topic == b"exec|binance|"
    from strategy_client.wire import codec

    raw = reader._store.query("SELECT payload FROM events WHERE seq = 3")
    assert bytes(raw[0][0]) == codec.encode(events[2])  # the wire bytes: a replay publishes the same payload
    assert [e.seq for e in reader.events_after(0, limit=2)] == [1, 2]

    (open_order,) = reader.open_orders()
    assert open_order.client_id == "a" and open_order.filled_qty == Decimal("0.005")
    assert reader.order("b") is not None and reader.order("b").status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert reader.unresolved_orders() == []
    (f,) = reader.history_fills()
    assert f.trade_id == "t1" and f.realized_pnl == Decimal("0.33333333333333333333") and f.fee == Decimal("0.0100002")


async def test_duplicates_are_ignored_and_counted(backend: Backend) -> None:
    j = backend.open()
    j.write_intent(request("a"))
    async with j.running():
        ev = OrderEvent(
            kind=OrderEventKind.FILL, order=order("a", OrderStatus.FILLED, filled="0.01"), fill=fill("a", "t1")
        )
        await j.append(EventRecord(event=ev, seq=1))
        # the venue reports the same trade again (a reconcile after a reconnect): no second fill
        await j.append(FillRecord(fill=fill("a", "t1"), reconciled=True))
        # the same event sequence twice (a replayed append): the outbox row and what it files are skipped
        await j.append(EventRecord(event=ev, seq=1))
        await j.append(FundingRecord(payment=FundingPayment(key=PERP, amount=Decimal("-0.12"), asset="USDT", ts_ms=T0)))
        await j.append(FundingRecord(payment=FundingPayment(key=PERP, amount=Decimal("-0.12"), asset="USDT", ts_ms=T0)))
        await j.flush()
    stats = j.stats
    assert (stats.duplicate_fills, stats.duplicate_events, stats.duplicate_funding) == (1, 1, 1)
    assert len(j.history_fills()) == 1 and len(j.history_funding()) == 1
    assert len(j.events_after(0)) == 1


async def test_a_rejection_keeps_its_reason_and_code(backend: Backend) -> None:
    j = backend.open()
    j.write_intent(request("r"))
    rejected = msgspec.structs.replace(
        order("r", OrderStatus.REJECTED),
        reject_reason="ReduceOnly Order is rejected",
        reject_code=RejectCode.REDUCE_ONLY,
    )
    async with j.running():
        await j.append(EventRecord(event=OrderEvent(kind=OrderEventKind.REJECT, order=rejected), seq=1))
    assert j.order("r") == rejected
    (row,) = j.history_orders()
    assert (row.status, row.reject_code, row.reject_reason) == (
        "rejected",
        "reduce_only",
        "ReduceOnly Order is rejected",
    )


async def test_unknown_stays_unknown_until_the_venue_says(backend: Backend) -> None:
    j = backend.open()
    j.write_intent(request("u"))
    async with j.running():
        await j.append(
            OrderRecord(order=order("u", OrderStatus.UNKNOWN, venue_id="?"), kind="unknown", detail="timeout")
        )
        await j.flush()
        assert [o.status for o in j.unresolved_orders()] == [OrderStatus.UNKNOWN]
        await j.append(EventRecord(event=OrderEvent(kind=OrderEventKind.NEW, order=order("u")), seq=1, reconciled=True))
        await j.flush()
    assert j.unresolved_orders() == []
    (row,) = j.history_orders()
    assert row.status == "new" and row.reconciled


async def test_snapshots_and_funding_payment_events(backend: Backend) -> None:
    j = backend.open()
    account = AccountSnapshot(
        exchange=Exchange.BINANCE,
        balances=(Balance(asset="BTC", free=Decimal("0.01000000"), locked=Decimal("0")),),
        margin=(MarginBalance(asset="USDT", wallet_balance=Decimal("1000.00000001")),),
        positions=(Position(key=PERP, size=Decimal("-0.01"), entry_price=Decimal("50010")),),
        ts_ms=T0,
    )
    async with j.running():
        await j.append(BalanceSnapshot(account=account))
        await j.append(PositionSnapshot(positions=account.positions, ts_ms=T0 + 1))
        pay = FundingPayment(key=PERP, amount=Decimal("0.0412"), asset="USDT", rate=Decimal("0.0001"), ts_ms=T0 + 5)
        await j.append(EventRecord(event=FundingPaymentEvent(payment=pay), seq=7))
        with pytest.raises(InvalidRecord, match="market data"):
            await j.append(EventRecord(event=BookEvent(book=_book()), seq=8))
        await j.flush()
    (row,) = j.history_funding()
    assert row.amount == Decimal("0.0412") and row.rate == Decimal("0.0001")
    assert j.stats.committed == 3
    (pos,) = j.positions()
    assert pos.key == PERP and pos.size == Decimal("-0.01") and pos.updated_ts_ms == T0 + 1  # the later snapshot
    balances = {(b.wallet, b.asset): b for b in j.balances()}
    assert balances[("spot", "BTC")].free == Decimal("0.01000000")
    assert balances[("margin", "USDT")].free == Decimal("1000.00000001")


def _book():  # type: ignore[no-untyped-def]
    from strategy_client.model import OrderBook

    return OrderBook(key=PERP, bids=(), asks=(), venue_ts_ms=T0, local_ts_ns=T0 * 1_000_000)


def _pair(version: int, phase: str, ts_ms: int, total: str, *, pair_id: str = "p1", closed: bool = False) -> PairState:
    t = Decimal(total)
    return PairState(
        strategy="spotperp",
        pair_id=pair_id,
        version=version,
        ts_ms=ts_ms,
        phase=phase,
        leg_a=str(SPOT),
        leg_b=str(PERP),
        base_a=Decimal("0.01"),
        base_b=Decimal("-0.01"),
        closed=closed,
        realized=PnlComponents(basis=t, funding=Decimal("0"), fees=Decimal("0"), slippage=Decimal("0"), total=t),
        funding_accrued=Decimal("0.5"),
        state=b"\x81\xa1k\x01" + bytes([version]),
    )


async def test_pairs_latest_state_history_and_pnl(backend: Backend) -> None:
    j = backend.open("spotperp", role="strategy")
    async with j.running():
        await j.append(_pair(1, "entering", T0, "0"))
        await j.append(_pair(2, "hedged", T0 + 1000, "-0.10"))
        await j.append(_pair(3, "exiting", T0 + DAY_MS + 5, "1.25"))
        await j.append(_pair(1, "entering", T0 + 10, "0", pair_id="p2"))
        await j.append(_pair(2, "closed", T0 + 20, "0.05", pair_id="p2", closed=True))
        await j.append(
            Decision(
                strategy="spotperp",
                ts_ms=T0,
                action="enter",
                reason="edge",
                pair_id="p1",
                keys=f"{SPOT},{PERP}",
                terms={"edge_bps": Decimal("12.345"), "fees_bps": Decimal("-4.5")},
            )
        )
        await j.flush()
    (p1,) = j.pairs()  # p2 is closed
    assert (p1.pair_id, p1.version, p1.phase, p1.state) == ("p1", 3, "exiting", b"\x81\xa1k\x01\x03")
    assert {p.pair_id for p in j.pairs(include_closed=True)} == {"p1", "p2"}
    by_pair = {r.pair_id: r for r in j.pnl_by_pair()}
    assert by_pair["p1"].total == Decimal("1.25") and by_pair["p1"].transitions == 3
    days = [(r.day, r.name, r.total) for r in j.pnl_by_day()]
    assert days == [
        ("2026-01-01", "p1", Decimal("-0.10")),
        ("2026-01-01", "p2", Decimal("0.05")),
        ("2026-01-02", "p1", Decimal("1.35")),
    ]
    (d,) = j.decisions(HistoryFilter(strategy="spotperp"))
    assert d.terms == {"edge_bps": Decimal("12.345"), "fees_bps": Decimal("-4.5")}
    assert j.restart_state().pairs == (p1,)


async def test_history_filters_and_renderers(backend: Backend) -> None:
    j = backend.open()
    async with j.running():
        for i, key in enumerate((PERP, SPOT, PERP)):
            ts = T0 + i * DAY_MS
            await j.append(FillRecord(fill=fill(f"c{i}", f"t{i}", ts_ms=ts, key=key)))
        await j.append(
            FundingRecord(payment=FundingPayment(key=PERP, amount=Decimal("0.5"), asset="USDT", ts_ms=T0 + 3))
        )
        await j.flush()
    assert [f.trade_id for f in j.history_fills(HistoryFilter(key="binance:perp:btcusdt"))] == ["t0", "t2"]
    assert [f.trade_id for f in j.history_fills(HistoryFilter(key="BTCUSDT"))] == ["t0", "t1", "t2"]
    assert [f.trade_id for f in j.history_fills(HistoryFilter(since_ms=T0 + 1, until_ms=T0 + 2 * DAY_MS))] == ["t1"]
    assert [f.trade_id for f in j.history_fills(HistoryFilter(limit=1))] == ["t2"]
    assert j.history_fills(HistoryFilter(strategy="nobody")) == []
    day = j.pnl_by_day(source="venue")[0]
    assert (day.day, day.name) == ("2026-01-01", str(PERP))
    assert day.funding == Decimal("0.5") and day.total == Decimal("0.33333333333333333333") + Decimal("0.5") - Decimal(
        "0.0100002"
    )

    rows = j.history_fills()
    parsed = json.loads(to_json(rows))
    assert parsed[0]["realized_pnl"] == "0.33333333333333333333"  # exact, a string
    csv_text = to_csv(rows)
    assert csv_text.splitlines()[0].startswith("stream,ts_ms,key") and "0.0100002" in csv_text
    table = to_table(rows, ["trade_id", "qty", "fee"])
    assert table.splitlines()[2].split() == ["t0", "0.005", "0.0100002"]


async def test_intents_and_a_busy_writer_interleave_without_loss(backend: Backend) -> None:
    j = backend.open(max_batch=8)
    async with j.running():
        for i in range(200):
            await j.append(FillRecord(fill=fill("c", f"t{i}")))
            j.write_intent(request(f"i{i}"))  # shares SQLite's write connection with the writer thread
            if i % 10 == 0:
                await asyncio.sleep(0)
        await j.flush()
    assert len(j.history_fills()) == 200 and len(j.unresolved_orders()) == 200
    assert j.stats.write_errors == 0 and j.stats.intent_errors == 0


async def test_backpressure_never_drops(backend: Backend) -> None:
    j = backend.open(queue_capacity=2, max_batch=2)
    async with j.running():
        for i in range(50):
            await j.append(FillRecord(fill=fill("c", f"t{i}")))  # waits whenever 2 are queued
        await j.flush()
    assert len(j.history_fills()) == 50 and j.stats.committed == 50


async def test_append_nowait_refuses_when_full(backend: Backend) -> None:
    j = backend.open(queue_capacity=1)
    async with j.running():
        j.append_nowait(FillRecord(fill=fill("c", "t1")))
        with pytest.raises(JournalBusy):
            j.append_nowait(FillRecord(fill=fill("c", "t2")))
        await j.flush()
    assert [f.trade_id for f in j.history_fills()] == ["t1"]
    assert j.stats.appended == 1


async def test_an_append_cancelled_while_waiting_for_space_is_not_counted(backend: Backend) -> None:
    j = backend.open(queue_capacity=1)
    async with j.running():
        j.append_nowait(FillRecord(fill=fill("c", "t1")))
        waiting = asyncio.ensure_future(j.append(FillRecord(fill=fill("c", "t2"))))
        waiting.cancel()  # cancelled before it found room in the queue
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.wait_for(j.flush(), 30)  # waits for t1 only, not for the cancelled append
    assert [f.trade_id for f in j.history_fills()] == ["t1"]
    assert j.close() == 0  # nothing counted as lost


async def test_append_needs_a_running_writer(backend: Backend) -> None:
    j = backend.open()
    with pytest.raises(JournalClosed, match="writer is not running"):
        await j.append(FillRecord(fill=fill("c", "t1")))


async def test_prune_keeps_what_a_restart_needs(backend: Backend) -> None:
    j = backend.open()
    old = T0
    j.write_intent(request("open-old"), ts_ns=old * 1_000_000)
    j.write_intent(request("done-old"), ts_ns=old * 1_000_000)
    j.write_intent(request("never-answered"), ts_ns=old * 1_000_000)
    async with j.running():
        await j.append(
            EventRecord(
                event=OrderEvent(kind=OrderEventKind.NEW, order=order("open-old")), seq=1, ts_ns=old * 1_000_000
            )
        )
        await j.append(
            EventRecord(
                event=OrderEvent(
                    kind=OrderEventKind.FILL,
                    order=order("done-old", OrderStatus.FILLED, filled="0.01"),
                    fill=fill("done-old", "t"),
                ),
                seq=2,
                ts_ns=old * 1_000_000,
            )
        )
        await j.flush()
    report = j.prune(old + 1)
    assert report.deleted["orders"] == 1 and report.deleted["order_intents"] == 1 and report.deleted["fills"] == 1
    assert [o.client_id for o in j.open_orders()] == ["open-old"]
    assert [o.client_id for o in j.unresolved_orders()] == ["never-answered"]
    assert j.intent("done-old") is None and j.intent("open-old") is not None
    j.vacuum()
    assert j.stats.fault == ""


async def test_retention_setting(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    j = backend.open()
    async with j.running():
        await j.append(FillRecord(fill=fill("c", "old", ts_ms=T0)))
        await j.append(FillRecord(fill=fill("c", "new", ts_ms=T0 + 10 * DAY_MS)))
    monkeypatch.delenv(RETENTION_ENV, raising=False)
    assert j.apply_retention(now_ms=T0 + 11 * DAY_MS) is None  # unset: keep everything
    monkeypatch.setenv(RETENTION_ENV, "7")
    report = j.apply_retention(now_ms=T0 + 11 * DAY_MS)
    assert report is not None and report.deleted["fills"] == 1
    assert [f.trade_id for f in j.history_fills()] == ["new"]
    monkeypatch.setenv(RETENTION_ENV, "a week")
    with pytest.raises(InvalidRecord, match="not a number of days"):
        j.apply_retention()


async def test_writes_survive_reopening(backend: Backend) -> None:
    j = backend.open()
    j.write_intent(request("kept"))
    async with j.running():
        await j.append(FillRecord(fill=fill("kept", "t1")))
    j.close()
    again = backend.open()
    assert again.intent("kept") is not None and len(again.history_fills()) == 1
    runs = again.runs()
    assert len(runs) == 2 and runs[0].stopped_ms is not None and runs[1].stopped_ms is None


async def test_writer_drains_on_exit_and_close_reports_nothing_lost(backend: Backend) -> None:
    j = backend.open()
    async with j.running():
        for i in range(20):
            await j.append(FillRecord(fill=fill("c", f"t{i}")))
    assert j.close() == 0
    assert len(backend.reader().history_fills()) == 20


def test_a_concurrent_reader_does_not_block_intents(backend: Backend) -> None:
    j = backend.open()
    reader = backend.reader()
    for i in range(20):
        j.write_intent(request(f"c{i}"))
        assert len(reader.unresolved_orders()) == i + 1


async def test_on_commit_errors_are_counted_not_fatal(backend: Backend) -> None:
    j = backend.open()

    def boom() -> None:
        raise RuntimeError("publisher failed")

    async with j.running():
        await j.append(FillRecord(fill=fill("c", "t1")), on_commit=boom)
        await j.append(FillRecord(fill=fill("c", "t2")))
        await j.flush()
    assert j.stats.callback_errors == 1 and len(j.history_fills()) == 2


async def test_flush_waits_for_the_batch_in_flight(backend: Backend) -> None:
    j = backend.open(max_batch=1)
    async with j.running():
        for i in range(10):
            await j.append(FillRecord(fill=fill("c", f"t{i}")))
        await asyncio.wait_for(j.flush(), 30)
        assert j.stats.committed == 10
