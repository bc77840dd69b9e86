"""Books as the venue's decimal text (``TextBook``) on the runner's hot path: what a subscriber
decodes is exactly what the venue sent; a frame whose level text is not a decimal number is
refused as a bad frame; quality control and the price actor treat a text book as the Decimal
book it denotes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_runner.actors.price import GetBook, PriceManager
from exchange_runner.publisher import Publisher, TextBookEvent
from exchange_runner.quality import QualityConfig, QualityControl
from exchanges.base import ExchangeAdapter
from exchanges.binance.market_stream import BinanceMarketStreams
from exchanges.binance.urls import BinanceUrls
from exchanges.binance.ws_parse import DecimalTextCheck
from exchanges.transport.ws import Frame
from strategy_client.model import BookLevel, Exchange, InstrumentKey, MarketKind, OrderBook, TextBook
from strategy_client.wire import BookEvent, Header, TopicKind, decode_event, decode_header, encode, topic
from tests.helpers import eventually
from tests.runner.fakes import RecordingPublisher, running

PERP = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.PERP)
SPOT = InstrumentKey(Exchange.BINANCE, "BTCUSDT", MarketKind.SPOT)
NOW_MS = 1_800_000_000_000
FAST = settings(max_examples=60, deadline=None)

# the venue's text as Binance writes it (fixed decimals, trailing zeros) and a few it might
BIDS = [["65000.10000000", "0.00100000"], ["64999.9", "12"], ["64999", "0.5"], [".5", "5."]]
ASKS = [["65000.20", "1.000"], ["65001", "0.00000001"]]


def futures_frame(bids: list[list[str]], asks: list[list[str]], u: int = 7, raw_levels: bytes | None = None) -> bytes:
    def side(levels: list[list[str]]) -> str:
        return "[" + ",".join(f'["{p}","{q}"]' for p, q in levels) + "]"

    levels = raw_levels.decode() if raw_levels is not None else f'"b":{side(bids)},"a":{side(asks)}'
    head = f'"e":"depthUpdate","E":{NOW_MS},"T":{NOW_MS},"s":"BTCUSDT","U":{u},"u":{u},"pu":{u - 1}'
    return ('{"stream":"btcusdt@depth5@100ms","data":{' + head + "," + levels + "}}").encode()


def spot_frame(bids: list[list[str]], asks: list[list[str]], u: int = 7) -> bytes:
    def side(levels: list[list[str]]) -> str:
        return "[" + ",".join(f'["{p}","{q}"]' for p, q in levels) + "]"

    body = f'"lastUpdateId":{u},"bids":{side(bids)},"asks":{side(asks)}'
    return ('{"stream":"btcusdt@depth5@100ms","data":{' + body + "}}").encode()


def parsers() -> tuple[BinanceMarketStreams, Any, Any]:
    """The push mode's parsers of a spot and a perp connection, each returning what it emits."""
    streams = BinanceMarketStreams(BinanceUrls.live())
    out: list[TextBook] = []
    plans = streams._text_book_plans([SPOT, PERP], 5, out.append)

    def parser(name: str) -> Any:
        def parse(frame: Frame) -> TextBook | None:
            out.clear()
            plan.parse(frame)
            return out[0] if out else None

        plan = by_kind[name]
        parse.name = plan.name  # type: ignore[attr-defined]
        return parse

    by_kind = {p.name.split(":")[1]: p for p in plans}
    return streams, parser("spot"), parser("perp")


def parse(parser: Any, data: bytes) -> Any:
    return parser(Frame(parser.name, data, NOW_MS * 1_000_000, 1))


def test_the_push_mode_parses_levels_as_the_venues_text() -> None:
    _, spot, perp = parsers()
    book = parse(perp, futures_frame(BIDS, ASKS, u=9))
    assert isinstance(book, TextBook)
    assert [list(lv) for lv in book.bids] == BIDS and [list(lv) for lv in book.asks] == ASKS
    assert (book.key, book.sequence, book.venue_ts_ms) == (PERP, 9, NOW_MS)
    sbook = parse(spot, spot_frame(BIDS, ASKS, u=11))
    assert isinstance(sbook, TextBook) and sbook.key == SPOT and sbook.sequence == 11
    assert sbook.bids == book.bids


def test_a_subscriber_decodes_exactly_the_venues_decimals() -> None:
    """Venue text → runner (parse, publish) → the wire → strategy_client's decoder: each level is
    the Decimal of the venue's string, digit for digit (trailing zeros kept), and the event's
    bytes are those of the Decimal book's BookEvent."""
    _, _, perp = parsers()
    book = parse(perp, futures_frame(BIDS, ASKS))
    ctx: zmq.Context[Any] = zmq.Context()
    pub: zmq.Socket[bytes] = ctx.socket(zmq.PUB)
    sub: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
    try:
        pub.bind("inproc://text-book")
        sub.connect("inproc://text-book")
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        publisher = Publisher(pub, Exchange.BINANCE)
        publisher.publish_book(book)
        assert sub.poll(5000), "the book reached the subscriber"
        t, header, body = sub.recv_multipart()
    finally:
        sub.close(linger=0)
        pub.close(linger=0)
        ctx.term()
    assert t == topic(TopicKind.BOOK, Exchange.BINANCE, PERP)
    got = decode_header(header)
    assert got.seq == 1 and got.ts > 0 and got.id.count("-") == 1
    assert header == encode(Header(id=got.id, ts=got.ts, seq=1))  # the runner's Header, byte for byte
    event = decode_event(body)
    assert isinstance(event, BookEvent)
    assert [(str(lv.price), str(lv.qty)) for lv in event.book.bids] == [
        (str(Decimal(p)), str(Decimal(q))) for p, q in BIDS
    ]
    assert [(lv.price, lv.qty) for lv in event.book.asks] == [(Decimal(p), Decimal(q)) for p, q in ASKS]
    assert str(event.book.bids[0].price) == "65000.10000000"  # the venue's digits, trailing zeros kept
    tiny = event.book.asks[1].qty
    assert tiny.as_tuple() == Decimal("0.00000001").as_tuple()  # coefficient and exponent
    assert event.book == book.to_book()
    assert decode_event(encode(BookEvent(book=book.to_book()))) == event


@FAST
@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e9"), places=8),
            st.decimals(min_value=0, max_value=Decimal("1e6"), places=8),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_text_levels_encode_as_their_decimals_do(levels: list[tuple[Decimal, Decimal]]) -> None:
    text = tuple((str(p), str(q)) for p, q in levels)
    tb = TextBook(key=PERP, bids=text, asks=text, venue_ts_ms=1, local_ts_ns=2, sequence=3)
    dec = tuple(BookLevel(p, q) for p, q in levels)
    ob = OrderBook(key=PERP, bids=dec, asks=dec, venue_ts_ms=1, local_ts_ns=2, sequence=3)
    assert tb.to_book() == ob
    body = encode(TextBookEvent(book=tb))
    assert body == encode(BookEvent(book=ob))  # byte for byte, where the text is the Decimal's own
    decoded = decode_event(body)
    assert isinstance(decoded, BookEvent) and decoded.book == ob


@pytest.mark.parametrize(
    "bad",
    ["abc", "", ".", "1.2.3", "1..2", "0x10", "١.5x"],
)
def test_a_level_that_is_not_a_decimal_number_is_a_bad_frame(bad: str) -> None:
    streams, _, perp = parsers()
    good = futures_frame(BIDS, ASKS)
    assert parse(perp, good) is not None  # teaches the check this frame's shape
    assert parse(perp, good) is not None  # (the fast path)
    before = streams.decimal_text.strict_checks
    assert parse(perp, futures_frame([["65000.1", bad], *BIDS[1:]], ASKS)) is None
    assert parse(perp, futures_frame(BIDS, [*ASKS[:1], [bad, "1.0"]])) is None
    assert streams.errors.counts["futures_depth:decimal"] == 2
    assert streams.decimal_text.strict_checks == before + 2  # neither took the fast path


@pytest.mark.parametrize("odd", ["5", "1e5", "-1", "+1", "1_000", "NaN"])
def test_text_decimal_accepts_takes_the_strict_path_and_passes(odd: str) -> None:
    """Whatever ``Decimal`` takes passes, as it did when the levels were decoded as Decimals."""
    streams, _, perp = parsers()
    frame = futures_frame([["65000.1", odd]], ASKS)
    for _ in range(2):
        book = parse(perp, frame)
        assert isinstance(book, TextBook) and book.bids[0][1] == odd
    assert streams.decimal_text.strict_checks == 2  # never learned: not a plain decimal


def test_the_check_learns_shapes_and_skips_the_strict_path_for_them() -> None:
    check = DecimalTextCheck(limit=1)
    a = futures_frame(BIDS, ASKS, u=1)
    levels = (tuple(tuple(lv) for lv in BIDS), tuple(tuple(lv) for lv in ASKS))
    assert check("BTCUSDT", a, cast(Any, levels)) and check.strict_checks == 1
    assert check("BTCUSDT", futures_frame(BIDS, ASKS, u=123456), cast(Any, levels))  # digits only differ
    assert check("ETHUSDT", futures_frame(BIDS, ASKS, u=9), cast(Any, levels))  # known shape, other stream
    assert check.strict_checks == 1 and list(check.last) == ["BTCUSDT"]  # (limit 1: not ETHUSDT's)
    other = futures_frame(BIDS[:1], ASKS, u=2)  # another shape: strict, and not kept (limit 1)
    assert check("BTCUSDT", other, cast(Any, (levels[0][:1], levels[1])))
    assert check("BTCUSDT", other, cast(Any, (levels[0][:1], levels[1]))) and check.strict_checks == 3
    assert check("BTCUSDT", a, cast(Any, levels)) and check.strict_checks == 3  # a known one again


def qc() -> QualityControl:
    return QualityControl(QualityConfig(max_deviation_bps=0.0, zscore_max=0.0))


def text_book(bid: str, ask: str, seq: int, qty: str = "1") -> TextBook:
    return TextBook(
        key=PERP,
        bids=((bid, qty),),
        asks=((ask, qty),),
        venue_ts_ms=NOW_MS,
        local_ts_ns=1,
        sequence=seq,
    )


def test_quality_control_checks_a_text_book_as_its_decimal_book() -> None:
    for text, expected in (
        (text_book("100", "101", 1), None),
        (text_book("101", "100", 2), "crossed"),
        (text_book("100", "100.0", 2), "crossed"),
        (text_book("0", "1", 2), "range"),
        (text_book("100", "101", 2, qty="0.00000000"), "range"),
    ):
        assert qc().check_book(text, NOW_MS) == expected, text
        assert qc().check_book(text.to_book(), NOW_MS) == expected, text
    one_sided = TextBook(key=PERP, bids=(("-1", "1"),), asks=(), venue_ts_ms=NOW_MS, local_ts_ns=1, sequence=1)
    assert qc().check_book(one_sided, NOW_MS) == "range"
    q = qc()
    assert q.check_book(text_book("100", "101", 5), NOW_MS) is None
    assert q.check_book(text_book("100", "101", 5), NOW_MS) is None  # the venue's re-sent book: a refresh
    assert q.check_book(text_book("100", "102", 5), NOW_MS) == "duplicate"
    assert q.check_book(text_book("100", "101", 4), NOW_MS) == "out_of_order"
    assert q.reference(PERP) == 100.5


async def test_the_price_actor_publishes_a_text_book_and_answers_with_its_decimal_book() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    publisher = RecordingPublisher(ctx)
    prices = PriceManager(cast(ExchangeAdapter, object()), publisher, [PERP])
    try:
        async with running(prices):
            book = text_book("65000.10", "65000.20", 3, qty="0.500")
            prices.feed.put_nowait(book)
            await eventually(lambda: prices.books_in == 1, what="book applied")
            ((kind, event),) = publisher.events
            assert kind is TopicKind.BOOK and decode_event(encode(event)) == BookEvent(book=book.to_book())
            got = await prices.ask(GetBook(PERP))
            assert got.book == book.to_book() and not got.stale
            assert str(got.book.bids[0].price) == "65000.10" and str(got.book.bids[0].qty) == "0.500"
            assert prices.fresh_book(PERP) == book.to_book()
    finally:
        publisher.close()
        ctx.term()
