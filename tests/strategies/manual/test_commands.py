"""The manual REPL's grammar: every command, every mistake's message, and properties."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.manual.commands import (
    COMMANDS,
    Balance,
    Book,
    Cancel,
    CancelAll,
    Command,
    CommandError,
    Funding,
    Help,
    Leverage,
    Orders,
    PlaceOrder,
    Positions,
    Price,
    Quit,
    help_text,
    parse_instrument,
    parse_line,
    suggest_command,
    to_line,
)
from strategy_client.model import Exchange, InstrumentKey, MarketKind, Side, TimeInForce
from strategy_client.wire import PriceSource

BN = Exchange.BINANCE
D = Decimal
PERP = InstrumentKey(BN, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(BN, "BTCUSDT", MarketKind.SPOT)


def parse(line: str) -> Command | None:
    return parse_line(line, BN)


def error_of(line: str) -> str:
    with pytest.raises(CommandError) as info:
        parse(line)
    return str(info.value)


# ----------------------------------------------------------------------------- instruments


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("BTCUSDT", PERP),
        ("btcusdt", PERP),
        ("perp:BTCUSDT", PERP),
        ("PERP:btcusdt", PERP),
        ("spot:BTCUSDT", SPOT),
        ("binance:spot:BTCUSDT", SPOT),
        ("Binance:Perp:BTCUSDT", PERP),
        ("1000PEPEUSDT", InstrumentKey(BN, "1000PEPEUSDT", MarketKind.PERP)),
    ],
)
def test_instrument_forms(text: str, key: InstrumentKey) -> None:
    assert parse_instrument(text, BN) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fut:BTCUSDT", "unknown market kind 'fut' (spot or perp)"),
        ("spot:", "has no symbol"),
        ("a:b:c:d", "too many ':'"),
        ("kraken:spot:BTCUSD", "unknown exchange 'kraken'"),
        ("okx:perp:BTC-USDT-SWAP", "is on okx; this session trades binance"),
        ("BTC$USDT", "bad symbol 'BTC$USDT'"),
    ],
)
def test_instrument_mistakes(text: str, message: str) -> None:
    with pytest.raises(CommandError, match="instrument") as info:
        parse_instrument(text, BN)
    assert message in str(info.value)


# ----------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("book BTCUSDT", Book(PERP, 5)),
        ("book spot:BTCUSDT 12", Book(SPOT, 12)),
        ("  BOOK   btcusdt   3  ", Book(PERP, 3)),
        ("price BTCUSDT", Price(PERP, PriceSource.MID)),
        ("price spot:BTCUSDT ask", Price(SPOT, PriceSource.ASK)),
        ("price BTCUSDT MARK", Price(PERP, PriceSource.MARK)),
        ("price perp:BTCUSDT index", Price(PERP, PriceSource.INDEX)),
        ("funding BTCUSDT", Funding(PERP)),
        ("buy perp:BTCUSDT 0.01", PlaceOrder(key=PERP, side=Side.BUY, qty=D("0.01"))),
        ("sell BTCUSDT .5", PlaceOrder(key=PERP, side=Side.SELL, qty=D("0.5"))),
        ("buy spot:BTCUSDT 0.01 95000", PlaceOrder(key=SPOT, side=Side.BUY, qty=D("0.01"), price=D("95000"))),
        (
            "sell BTCUSDT 0.01 99000.5 post reduce id=my-1",
            PlaceOrder(
                key=PERP,
                side=Side.SELL,
                qty=D("0.01"),
                price=D("99000.5"),
                tif=TimeInForce.POST_ONLY,
                reduce_only=True,
                client_id="my-1",
            ),
        ),
        (
            "buy BTCUSDT 1 2 IOC",
            PlaceOrder(key=PERP, side=Side.BUY, qty=D(1), price=D(2), tif=TimeInForce.IOC),
        ),
        ("buy BTCUSDT 1 2 fok", PlaceOrder(key=PERP, side=Side.BUY, qty=D(1), price=D(2), tif=TimeInForce.FOK)),
        ("buy BTCUSDT 1 2 gtc", PlaceOrder(key=PERP, side=Side.BUY, qty=D(1), price=D(2))),
        ("sell BTCUSDT 0.01 reduce", PlaceOrder(key=PERP, side=Side.SELL, qty=D("0.01"), reduce_only=True)),
        ("cancel spot:BTCUSDT my-1", Cancel(SPOT, "my-1")),
        ("cancel all", CancelAll(None)),
        ("cancel ALL BTCUSDT", CancelAll(PERP)),
        ("orders", Orders(None)),
        ("orders spot:BTCUSDT", Orders(SPOT)),
        ("positions", Positions()),
        ("balance", Balance()),
        ("leverage BTCUSDT 20", Leverage(PERP, 20)),
        ("help", Help(None)),
        ("help buy", Help("buy")),
        ("help EXIT", Help("quit")),
        ("?", Help(None)),
        ("?book", Help("book")),
        ("quit", Quit()),
        ("exit", Quit()),
    ],
)
def test_commands(line: str, command: Command) -> None:
    assert parse(line) == command


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "   # buy BTCUSDT 1"])
def test_blank_lines_and_comments_are_nothing(line: str) -> None:
    assert parse(line) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fly", "unknown command 'fly' — 'help' lists the commands"),
        ("bal", "unknown command 'bal' — did you mean 'balance'?"),
        ("postions", "did you mean 'positions'?"),
        ("book", "book: needs an instrument — usage: book <instrument> [depth]"),
        ("book BTCUSDT 0", "depth: must be a whole number from 1 to 100, got 0"),
        ("book BTCUSDT 1.5", "depth: '1.5' is not a whole number"),
        ("book BTCUSDT 500", "from 1 to 100"),
        ("book BTCUSDT 5 6", "book: unexpected '6'"),
        ("book fut:BTCUSDT", "book: instrument 'fut:BTCUSDT': unknown market kind"),
        ("price BTCUSDT last", "price: unknown price source 'last'"),
        ("price spot:BTCUSDT mark", "price: the mark price applies to perps; binance:spot:BTCUSDT is spot"),
        ("price spot:BTCUSDT index", "the index price applies to perps"),
        ("funding spot:BTCUSDT", "funding: funding applies to perps"),
        ("funding", "funding: needs an instrument"),
        ("buy", "buy: needs an instrument"),
        ("buy BTCUSDT", "buy: needs a quantity"),
        ("buy BTCUSDT abc", "buy: qty: 'abc' is not a positive number"),
        ("buy BTCUSDT -1", "qty: '-1' is not a positive number"),
        ("buy BTCUSDT 0", "qty: must be more than 0, got 0"),
        ("buy BTCUSDT 1e-3", "qty: '1e-3' is not a positive number"),
        ("buy BTCUSDT nan", "qty: 'nan' is not a positive number"),
        ("buy BTCUSDT 1,5", "qty: '1,5' is not a positive number"),
        ("buy BTCUSDT 1 0", "price: must be more than 0"),
        ("buy BTCUSDT 1 2x", "price: '2x' is not a positive number"),
        ("buy BTCUSDT 1 2 3", "unexpected number '3' after the qty and the price"),
        ("buy BTCUSDT 1 ioc", "buy: ioc needs a limit price"),
        ("sell BTCUSDT 1 post", "sell: post needs a limit price"),
        ("buy BTCUSDT 1 2 ioc fok", "at most one of gtc, ioc, fok, post (got ioc and fok)"),
        ("buy BTCUSDT 1 2 reduce reduce", "'reduce' given twice"),
        ("buy BTCUSDT 1 id=a id=b", "id= given twice"),
        ("buy BTCUSDT 1 id=", "id: '' must be 1-36 characters"),
        ("buy BTCUSDT 1 id=has space", "unknown option 'space'"),
        ("buy BTCUSDT 1 id=" + "x" * 37, "must be 1-36 characters"),
        ("buy BTCUSDT 1 id=a!b", "id: 'a!b' must be"),
        ("buy BTCUSDT 1 limit", "unknown option 'limit' (options: ioc, fok, post, gtc, reduce, id=<client id>)"),
        ("buy spot:BTCUSDT 1 reduce", "buy: reduce-only applies to perps; binance:spot:BTCUSDT is spot"),
        ("cancel", "cancel: needs an instrument and a client id, or 'all'"),
        ("cancel BTCUSDT", "cancel: needs the client id of the binance:perp:BTCUSDT order"),
        ("cancel BTCUSDT a b", "cancel: unexpected 'b'"),
        ("cancel all BTCUSDT x", "cancel: unexpected 'x'"),
        ("cancel BTCUSDT bad!id", "cancel: id: 'bad!id' must be"),
        ("orders BTCUSDT x", "orders: unexpected 'x'"),
        ("positions BTCUSDT", "positions: unexpected 'BTCUSDT' — usage: positions"),
        ("balance usdt", "balance: unexpected 'usdt'"),
        ("leverage BTCUSDT", "leverage: needs the leverage, a whole number"),
        ("leverage BTCUSDT 0", "leverage: must be a whole number of at least 1, got 0"),
        ("leverage BTCUSDT 2.5", "leverage: '2.5' is not a whole number"),
        ("leverage spot:BTCUSDT 3", "leverage: leverage applies to perps"),
        ("help fly", "help: no command 'fly'"),
        ("help bok", "help: no command 'bok' — did you mean 'book'?"),
        ("quit now", "quit: unexpected 'now'"),
    ],
)
def test_mistakes_say_what_is_wrong(line: str, message: str) -> None:
    assert message in error_of(line)


def test_a_command_error_names_its_command() -> None:
    with pytest.raises(CommandError) as info:
        parse("buy BTCUSDT x")
    assert info.value.command == "buy"
    with pytest.raises(CommandError) as info:
        parse("nonsense")
    assert info.value.command is None


def test_suggestions() -> None:
    assert suggest_command("pos") == "positions"
    assert suggest_command("lev") == "leverage"
    assert suggest_command("xyzzy") is None
    assert suggest_command("") is None


def test_help_lists_every_command_and_details_one() -> None:
    text = help_text()
    for spec in COMMANDS.values():
        assert spec.usage in text
    assert "BTCUSDT (a perp)" in text
    assert help_text("buy").startswith("usage: buy <instrument> <qty> [price]")
    assert "reduce-only" in help_text("buy") and "binance:perp:BTCUSDT" in help_text("buy")
    assert "<instrument>" not in help_text("balance")


# ----------------------------------------------------------------------------- properties

_symbols = st.from_regex(r"\A[A-Z0-9][A-Z0-9_\-./]{0,15}\Z")
_kinds = st.sampled_from(list(MarketKind))
_keys = st.builds(lambda s, k: InstrumentKey(BN, s, k), _symbols, _kinds)
_perp_keys = st.builds(lambda s: InstrumentKey(BN, s, MarketKind.PERP), _symbols)
_amounts = st.decimals(min_value=D("0.00000001"), max_value=D(10**9), places=8, allow_nan=False, allow_infinity=False)
_ids = st.from_regex(r"\A[A-Za-z0-9._:/-]{1,36}\Z")


@st.composite
def _orders(draw: st.DrawFn) -> PlaceOrder:
    key = draw(_keys)
    price = draw(st.none() | _amounts)
    tif = draw(st.sampled_from(list(TimeInForce))) if price is not None else TimeInForce.GTC
    return PlaceOrder(
        key=key,
        side=draw(st.sampled_from(list(Side))),
        qty=draw(_amounts),
        price=price,
        tif=tif,
        reduce_only=draw(st.booleans()) if key.kind is MarketKind.PERP else False,
        client_id=draw(st.just("") | _ids),
    )


_commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(Book, _keys, st.integers(1, 100)),
    st.builds(Price, _perp_keys, st.sampled_from(list(PriceSource))),
    st.builds(Price, _keys, st.sampled_from([PriceSource.MID, PriceSource.BID, PriceSource.ASK])),
    st.builds(Funding, _perp_keys),
    _orders(),
    st.builds(Cancel, _keys, _ids),
    st.builds(CancelAll, st.none() | _keys),
    st.builds(Orders, st.none() | _keys),
    st.just(Positions()),
    st.just(Balance()),
    st.builds(Leverage, _perp_keys, st.integers(1, 10_000)),
    st.builds(Help, st.none() | st.sampled_from(list(COMMANDS))),
    st.just(Quit()),
)


@given(_commands, st.booleans())
def test_every_command_reads_back_from_its_canonical_text(command: Command, short: bool) -> None:
    line = to_line(command, BN if short else None)
    assert parse(line) == command


@given(_orders(), st.randoms())
def test_order_options_may_come_in_any_order_and_case(order: PlaceOrder, rnd: random.Random) -> None:
    side, instrument, *rest = to_line(order).split()
    numbers = [w for w in rest if w[0].isdigit()]
    options = [w for w in rest if not w[0].isdigit()]
    rnd.shuffle(options)
    shouted = [w if w.startswith("id=") else w.upper() for w in options]  # client ids are case-sensitive
    assert parse(" ".join([side.upper(), instrument, *numbers, *shouted])) == order


@given(st.text(max_size=60))
def test_any_text_is_a_command_nothing_or_a_command_error(line: str) -> None:
    try:
        result = parse(line)
    except CommandError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result is None or isinstance(result, get_args(Command))


@given(st.lists(st.sampled_from(["buy", "sell", "BTCUSDT", "spot:BTCUSDT", "0.1", "5", "ioc", "reduce", "id=x", "x"])))
def test_order_like_word_salad_never_crashes(words: list[str]) -> None:
    try:
        parse(" ".join(words))
    except CommandError:
        pass
