"""The tape parsers (trades, 24 h tickers) of each venue on payloads shaped as the venues' docs show
them, and on bad frames: a bad frame is counted by kind and skipped, never raised."""

from __future__ import annotations

from decimal import Decimal

from exchanges.binance.tape import BinanceTape
from exchanges.binance.urls import BinanceUrls
from exchanges.bybit.parse import SymbolMap as BybitSymbols
from exchanges.bybit.tape import BybitTape
from exchanges.bybit.urls import BybitUrls
from exchanges.okx.symbols import SymbolMap as OkxSymbols
from exchanges.okx.symbols import VenueInstrument
from exchanges.okx.tape import OkxTape
from exchanges.okx.urls import OkxUrls
from exchanges.transport.ws import Frame
from strategy_client.model import InstrumentKey, MarketKind, Side, Ticker, Trade

D = Decimal


def _frame(source: str, data: str) -> Frame:
    return Frame(source=source, data=data.encode(), recv_ns=1, generation=1)


def test_binance_agg_trade_and_ticker() -> None:
    tape = BinanceTape(BinanceUrls.sim(1), on_status=lambda s: None)
    trade = tape._parser("aggTrade", MarketKind.SPOT)(
        _frame(
            "x",
            '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":12345,"p":"64250.10",'
            '"q":"0.010","f":100,"l":105,"T":1700000000000,"m":true,"M":true}}',
        )
    )
    assert trade == (
        Trade(
            key=InstrumentKey.parse("binance:spot:BTCUSDT"),
            trade_id="12345",
            price=D("64250.10"),
            qty=D("0.010"),
            side=Side.SELL,  # the buyer was the maker: the taker sold
            venue_ts_ms=1700000000000,
            local_ts_ns=1,
            count=6,
        ),
    )
    (ticker,) = tape._parser("ticker", MarketKind.PERP)(
        _frame(
            "x",
            '{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":1700000000001,"s":"BTCUSDT","p":"1","P":"0.1",'
            '"w":"1","c":"64250.1","Q":"1","o":"64000","h":"65000","l":"63000","v":"12","q":"770000","O":0,"C":1,'
            '"F":1,"L":2,"n":2}}',
        )
    )
    assert isinstance(ticker, Ticker) and (ticker.last, ticker.bid, ticker.volume_24h) == (D("64250.1"), None, D(12))
    bad = tape._parser("aggTrade", MarketKind.SPOT)
    assert bad(_frame("x", '{"stream":"x","data":{"nope":1}}')) == ()
    assert bad(_frame("x", '{"stream":"x","data":{"s":"B","a":1,"p":"NaN","q":"1","f":1,"l":1}}')) == ()
    assert tape.errors.counts == {"aggTrade:malformed": 1, "aggTrade:bad_number": 1}


def test_bybit_trades_and_merged_linear_ticker_deltas() -> None:
    tape = BybitTape(BybitUrls.sim(1), BybitSymbols(), on_status=lambda s: None)
    conns = tape.connections(
        [InstrumentKey.parse("bybit:perp:BTCUSDT")], [InstrumentKey.parse("bybit:perp:BTCUSDT")], print
    )
    parse = conns[0].sink.parsers[conns[0].name]  # type: ignore[union-attr]
    (t,) = parse(
        _frame(
            "x",
            '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1700000000000,"s":"BTCUSDT",'
            '"S":"Buy","v":"0.001","p":"64210.5","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}',
        )
    )
    assert isinstance(t, Trade) and (t.trade_id, t.side, t.qty) == (
        "20f43950-d8dd-5b31-9112-a178eb6023af",
        Side.BUY,
        D("0.001"),
    )
    delta = '{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"64214.90"},"ts":3}'
    assert parse(_frame("x", delta)) == ()  # a delta before any snapshot
    snapshot = (
        '{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"64210.50",'
        '"bid1Price":"64210.40","ask1Price":"64210.50","volume24h":"98231.551","highPrice24h":"65000",'
        '"lowPrice24h":"63000","prevPrice24h":"64000","turnover24h":"6300000000"},"ts":2}'
    )
    (first,) = parse(_frame("x", snapshot))
    (second,) = parse(_frame("x", delta))
    assert isinstance(first, Ticker) and isinstance(second, Ticker)
    assert (first.bid, second.bid, second.last, second.venue_ts_ms) == (D("64210.40"), D("64214.90"), D("64210.50"), 3)
    assert tape.errors.counts["tickers:delta_before_snapshot"] == 1


def test_okx_trades_in_base_units_and_bad_frames() -> None:
    inst = VenueInstrument(
        key=InstrumentKey.parse("okx:perp:BTCUSDT"),
        inst_id="BTC-USDT-SWAP",
        inst_type="SWAP",
        tick_sz=D("0.1"),
        lot_sz=D("0.01"),
        min_sz=D("0.01"),
        ct_val=D("0.01"),
    )
    tape = OkxTape(OkxUrls.sim(1), lambda: OkxSymbols([inst]), on_status=lambda s: None)
    (t,) = tape.parse(
        _frame(
            "x",
            '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
            '"tradeId":"130639474","px":"42219.9","sz":"3","side":"sell","ts":"1630048897897","count":"3"}]}',
        )
    )
    assert isinstance(t, Trade) and (t.qty, t.side, t.count) == (D("0.03"), Side.SELL, 3)  # 3 contracts of 0.01
    assert not tape.parse(_frame("x", '{"event":"subscribe","arg":{"channel":"trades"}}'))
    assert tape.parse(_frame("x", '{"arg":{"channel":"trades"},"data":[{"instId":"BTC-USDT-SWAP"}]}')) == ()
    assert (
        tape.parse(
            _frame(
                "x",
                '{"arg":{"channel":"trades"},"data":[{"instId":"BTC-USDT-SWAP","tradeId":"1",'
                '"px":"x","sz":"1","side":"buy","ts":"1"}]}',
            )
        )
        == ()
    )
    assert tape.errors.counts == {"tape:malformed": 1, "tape:bad_number": 1}
