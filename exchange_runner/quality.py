"""Quality control of incoming market data: books, trades and 24 h tickers (docs/market-data.md).

Pure: no I/O, no clock of its own (the caller passes ``now_ms``), no asyncio. One
:class:`QualityControl` per runner; the price actor checks each book before it keeps and publishes
it, the market actor each trade and ticker. A check answers ``None`` (pass) or the name of the
first check that failed; the item is then dropped by the caller, and counted here by instrument,
item kind and check.

The checks, in the order they run:

=============== ==================================================================================
``future``      the venue's timestamp is more than ``max_future_ms`` ahead of the venue's clock as
                we know it (ours + ``clock_offset_ms``, the adapter's measured offset)
``stale``       the venue's timestamp is more than ``max_age_ms`` behind it (0: off)
``out_of_order`` an update id (book ``sequence``, numeric trade id) or ticker time below the last
                accepted one; trades with non-numeric ids (Bybit): a time below the last one
``duplicate``   the same update id / trade id / ticker time again (trade ids: the last 4096 kept);
                a book repeating the held book's id *with the same levels* is a refresh, not a
                duplicate (Binance re-sends its partial depth every 100 ms): it passes
``crossed``     best bid ≥ best ask (a book; a ticker's bid/ask)
``range``       a price or size ≤ 0, a ticker whose high is below its low, a spread wider than
                ``max_spread_bps`` (0: off)
``deviation``   the mid (book), price (trade) or bid/ask mid (ticker) more than
                ``max_deviation_bps`` from the reference: the instrument's last accepted book mid
                while younger than ``reference_max_age_ms``, else its last accepted trade price
``zscore``      the log return from the last accepted mid (books) or trade price (trades), in bps,
                more than ``zscore_max`` standard deviations from the mean of the last
                ``zscore_window`` returns (once ``zscore_min_samples`` are in; the deviation is
                floored at ``zscore_floor_bps`` and at one tick, so a quiet book does not make
                every tick an outlier)
=============== ==================================================================================

**Rebasing.** A level shift is real after a while: ``rebase_after`` rejections in a row of one
item kind of one instrument by ``out_of_order``, ``deviation`` or ``zscore`` (a venue restarted its
ids, the price moved while we were disconnected) accept the next such item as the new reference
and start the return window afresh (counted in ``rebased``) — quality control never locks an
instrument out for good.

**Bursts.** ``burst_rejects`` rejections of one instrument within ``burst_window_s`` make a
warning (:meth:`warnings`) until the window has passed; the runner shows it in its status.

Cost: a book's checks are a dictionary lookup, a few integer compares and two decimal → float
conversions (``scripts/bench_quality.py``: budget ≤ 2 µs p50 per book). A
:class:`~strategy_client.model.TextBook` (the venue's decimal text) is checked the same way, its
top prices and sizes read with ``float`` straight from the text; with ``zscore_max = 0`` no log
return is computed or kept.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from decimal import Decimal
from typing import Final

import msgspec

from strategy_client.model import InstrumentKey, OrderBook, TextBook, Ticker, Trade

__all__ = ["QualityConfig", "QualityControl", "CHECKS", "ITEMS"]

FUTURE: Final = "future"
STALE: Final = "stale"
OUT_OF_ORDER: Final = "out_of_order"
DUPLICATE: Final = "duplicate"
CROSSED: Final = "crossed"
RANGE: Final = "range"
DEVIATION: Final = "deviation"
ZSCORE: Final = "zscore"
CHECKS = (FUTURE, STALE, OUT_OF_ORDER, DUPLICATE, CROSSED, RANGE, DEVIATION, ZSCORE)
ITEMS = ("book", "trade", "ticker")
_REBASABLE = frozenset({OUT_OF_ORDER, DEVIATION, ZSCORE})
_RECENT_IDS = 4096
_ZERO = Decimal(0)


class QualityConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Thresholds (the runner config's ``[runner.quality]`` table). A 0 turns a bound off."""

    enabled: bool = True
    max_future_ms: int = 5_000
    max_age_ms: int = 60_000
    max_deviation_bps: float = 500.0
    reference_max_age_ms: int = 10_000
    zscore_max: float = 10.0
    zscore_window: int = 300
    zscore_min_samples: int = 50
    zscore_floor_bps: float = 1.0
    max_spread_bps: float = 0.0
    rebase_after: int = 5
    burst_rejects: int = 50
    burst_window_s: float = 10.0

    def validate(self) -> None:
        """ValueError naming the first bad threshold."""
        for name in ("max_future_ms", "max_age_ms", "reference_max_age_ms", "zscore_max", "max_spread_bps"):
            if getattr(self, name) < 0:
                raise ValueError(f"quality.{name}: {getattr(self, name)} must be ≥ 0")
        if self.max_deviation_bps < 0 or self.zscore_floor_bps <= 0:
            raise ValueError("quality.max_deviation_bps must be ≥ 0 and quality.zscore_floor_bps > 0")
        if not 2 <= self.zscore_min_samples <= self.zscore_window <= 100_000:
            raise ValueError("quality: 2 ≤ zscore_min_samples ≤ zscore_window ≤ 100000")
        if self.rebase_after < 1 or self.burst_rejects < 1 or self.burst_window_s <= 0:
            raise ValueError("quality.rebase_after, burst_rejects and burst_window_s must be positive")

    def describe(self) -> dict[str, str]:
        return {f: str(getattr(self, f)) for f in self.__struct_fields__}


class _Returns:
    """A rolling window of log returns (bps) with running sum and sum of squares."""

    __slots__ = ("window", "values", "total", "squares")

    def __init__(self, window: int) -> None:
        self.window = window
        self.values: deque[float] = deque()
        self.total = 0.0
        self.squares = 0.0

    def clear(self) -> None:
        self.values.clear()
        self.total = self.squares = 0.0

    def add(self, r: float) -> None:
        values = self.values
        values.append(r)
        self.total += r
        self.squares += r * r
        if len(values) > self.window:
            old = values.popleft()
            self.total -= old
            self.squares -= old * old

    def zscore(self, r: float, min_samples: int, floor: float) -> float:
        n = len(self.values)
        if n < min_samples:
            return 0.0
        mean = self.total / n
        var = self.squares / n - mean * mean
        std = math.sqrt(var) if var > 0 else 0.0
        return abs(r - mean) / (std if std > floor else floor)


class _State:
    """One instrument's last accepted items and windows."""

    __slots__ = (
        "book",
        "book_seq",
        "mid",
        "mid_ms",
        "trade_id",
        "trade_ts",
        "trade_px",
        "ticker_ts",
        "recent_ids",
        "recent_order",
        "book_returns",
        "trade_returns",
        "tick",
        "tick_bps",
        "book_streak",
        "trade_streak",
        "ticker_streak",
        "rejected_at",
    )

    def __init__(self, window: int, tick: Decimal | None) -> None:
        self.book: OrderBook | TextBook | None = None  # the last accepted book
        self.book_seq = 0
        self.mid = 0.0  # last accepted book mid
        self.mid_ms = 0  # our clock when it was accepted
        self.trade_id = -1
        self.trade_ts = 0
        self.trade_px = 0.0
        self.ticker_ts = 0
        self.recent_ids: set[str] = set()
        self.recent_order: deque[str] = deque()
        self.book_returns = _Returns(window)
        self.trade_returns = _Returns(window)
        self.tick = float(tick) if tick else 0.0  # price units
        self.tick_bps = 0.0  # the tick in bps of the first price seen
        self.book_streak = 0  # rebasable rejections in a row, by item kind
        self.trade_streak = 0
        self.ticker_streak = 0
        self.rejected_at: deque[float] = deque()  # our clock (s) of recent rejections (bursts)


class QualityControl:
    """The checks of one runner with their counts (see the module doc)."""

    def __init__(self, config: QualityConfig, ticks: dict[InstrumentKey, Decimal] | None = None) -> None:
        self.config = config
        self.enabled = config.enabled
        self._ticks = ticks or {}
        self._states: dict[InstrumentKey, _State] = {}
        self.books_checked = 0
        self.trades_checked = 0
        self.tickers_checked = 0
        self.rejected: Counter[tuple[InstrumentKey, str, str]] = Counter()
        self.rebased = 0
        # the venue's clock minus ours, as the adapter measured it (the runner keeps it current):
        # venue times are compared with the venue's clock, so a skewed host drops nothing
        self.clock_offset_ms = 0
        self._future = config.max_future_ms
        self._age = config.max_age_ms
        self._dev = config.max_deviation_bps
        self._ref_age = config.reference_max_age_ms
        self._zmax = config.zscore_max
        self._zmin = config.zscore_min_samples
        self._zfloor = config.zscore_floor_bps
        self._spread = config.max_spread_bps

    # -- state -------------------------------------------------------------------------

    def _state(self, key: InstrumentKey) -> _State:
        st = self._states.get(key)
        if st is None:
            st = self._states[key] = _State(self.config.zscore_window, self._ticks.get(key))
        return st

    def _reject(self, st: _State, key: InstrumentKey, item: str, check: str, now_ms: int) -> str | None:
        """Count a rejection; None (accept) when it ends a run of rebasable ones."""
        if check in _REBASABLE:
            streak = f"{item}_streak"
            n = getattr(st, streak) + 1
            if n >= self.config.rebase_after:
                setattr(st, streak, 0)
                self.rebased += 1
                if item == "book":
                    st.book_returns.clear()
                    st.book_seq = 0
                elif item == "trade":
                    st.trade_returns.clear()
                    st.trade_id = -1
                    st.trade_ts = 0
                else:
                    st.ticker_ts = 0
                return None
            setattr(st, streak, n)
        self.rejected[(key, item, check)] += 1
        times = st.rejected_at
        now_s = now_ms / 1000
        times.append(now_s)
        horizon = now_s - self.config.burst_window_s
        while times and times[0] < horizon:
            times.popleft()
        return check

    def _time(self, ts: int, now_ms: int) -> str | None:
        if ts:
            venue_now = now_ms + self.clock_offset_ms
            if ts > venue_now + self._future:
                return FUTURE
            if self._age and ts < venue_now - self._age:
                return STALE
        return None

    def _price(self, st: _State, price: float, returns: _Returns, last: float, now_ms: int) -> str | None:
        """Deviation from the reference and the return's z-score; a price that passes adds its
        return to ``returns``."""
        mid = st.mid
        ref = mid if mid and now_ms - st.mid_ms <= self._ref_age else st.trade_px
        if ref and self._dev and abs(price - ref) * 10_000 > self._dev * ref:
            return DEVIATION
        if last and self._zmax:  # (the returns serve the z-score only: none kept while it is off)
            r = math.log(price / last) * 10_000
            tick = st.tick_bps
            floor = self._zfloor if self._zfloor > tick else tick
            if returns.zscore(r, self._zmin, floor) > self._zmax:
                return ZSCORE
            returns.add(r)
        return None

    # -- books -------------------------------------------------------------------------

    def check_book(self, book: OrderBook | TextBook, now_ms: int) -> str | None:
        """``None`` if ``book`` passes (it becomes the reference), else the failed check."""
        self.books_checked += 1
        key = book.key
        st = self._states.get(key) or self._state(key)
        ts = book.venue_ts_ms
        if ts:
            venue_now = now_ms + self.clock_offset_ms
            if ts > venue_now + self._future or (self._age and ts < venue_now - self._age):
                return self._reject(st, key, "book", FUTURE if ts > venue_now else STALE, now_ms)
        seq = book.sequence
        if seq and st.book_seq:
            if seq < st.book_seq:
                return self._reject(st, key, "book", OUT_OF_ORDER, now_ms)
            if seq == st.book_seq:
                held = st.book
                if held is not None and book.bids == held.bids and book.asks == held.asks:
                    st.mid_ms = now_ms  # the venue re-sent the held book (a refresh): it passes
                    st.book = book
                    return None
                return self._reject(st, key, "book", DUPLICATE, now_ms)
        bids = book.bids
        asks = book.asks
        mid = 0.0
        if bids and asks:
            if isinstance(book, TextBook):  # the venue's text: floats straight from it
                (bid_text, bid_qty), (ask_text, ask_qty) = bids[0], asks[0]  # type: ignore[misc]
                bid, ask = float(bid_text), float(ask_text)
                # a size is > 0 when its first digit after leading zeros and dots is 1-9
                # (``0.500``, ``12``) — else ``float`` says (``0.000``, ``-1``, ``1e-3``)
                empty = not (
                    ("1" <= bid_qty.lstrip("0.")[:1] <= "9" or float(bid_qty) > 0.0)
                    and ("1" <= ask_qty.lstrip("0.")[:1] <= "9" or float(ask_qty) > 0.0)
                )
            else:
                top_bid, top_ask = book.bids[0], book.asks[0]
                bid, ask = float(top_bid.price), float(top_ask.price)
                empty = top_bid.qty <= _ZERO or top_ask.qty <= _ZERO
            if bid >= ask:
                return self._reject(st, key, "book", CROSSED, now_ms)
            if bid <= 0 or empty:
                return self._reject(st, key, "book", RANGE, now_ms)
            mid = (bid + ask) / 2
            if self._spread and (ask - bid) * 10_000 > self._spread * mid:
                return self._reject(st, key, "book", RANGE, now_ms)
            if st.tick and not st.tick_bps:
                st.tick_bps = st.tick / mid * 10_000
            last = st.mid
            if last and self._zmax:
                bad = self._price(st, mid, st.book_returns, last, now_ms)
            elif self._dev:  # (_price's deviation check, inline: the books' hot path)
                ref = last if last and now_ms - st.mid_ms <= self._ref_age else st.trade_px
                bad = DEVIATION if ref and abs(mid - ref) * 10_000 > self._dev * ref else None
            else:
                bad = None
            if bad is not None and self._reject(st, key, "book", bad, now_ms) is not None:
                return bad  # (a rebase, None, accepts it and starts the window afresh)
        else:
            if isinstance(book, TextBook):
                bad_side = any(
                    float(price) <= 0.0 or float(qty) <= 0.0 for price, qty in (*book.bids[:1], *book.asks[:1])
                )
            else:
                bad_side = any(lv.price <= _ZERO or lv.qty <= _ZERO for lv in (*book.bids[:1], *book.asks[:1]))
            if bad_side:
                return self._reject(st, key, "book", RANGE, now_ms)
        st.book_streak = 0
        st.book = book
        if seq:
            st.book_seq = seq
        if mid:
            st.mid = mid
            st.mid_ms = now_ms
        return None

    # -- trades ------------------------------------------------------------------------

    def check_trade(self, trade: Trade, now_ms: int) -> str | None:
        self.trades_checked += 1
        key = trade.key
        st = self._state(key)
        bad = self._time(trade.venue_ts_ms, now_ms)
        if bad is not None:
            return self._reject(st, key, "trade", bad, now_ms)
        bad = self._trade_order(st, trade)
        if bad is not None and self._reject(st, key, "trade", bad, now_ms) is not None:
            return bad
        if trade.price <= _ZERO or trade.qty <= _ZERO:
            return self._reject(st, key, "trade", RANGE, now_ms)
        price = float(trade.price)
        if st.tick and not st.tick_bps:
            st.tick_bps = st.tick / price * 10_000
        bad = self._price(st, price, st.trade_returns, st.trade_px, now_ms)
        if bad is not None and self._reject(st, key, "trade", bad, now_ms) is not None:
            return bad
        st.trade_streak = 0
        st.trade_px = price
        self._accept_id(st, trade)
        return None

    def _trade_order(self, st: _State, trade: Trade) -> str | None:
        tid = trade.trade_id
        if tid.isdigit():
            n = int(tid)
            if st.trade_id >= 0:
                if n < st.trade_id:
                    return OUT_OF_ORDER
                if n == st.trade_id:
                    return DUPLICATE
            return None
        if tid in st.recent_ids:
            return DUPLICATE
        if trade.venue_ts_ms and trade.venue_ts_ms < st.trade_ts:
            return OUT_OF_ORDER
        return None

    def _accept_id(self, st: _State, trade: Trade) -> None:
        tid = trade.trade_id
        if tid.isdigit():
            st.trade_id = int(tid)
        else:
            st.recent_ids.add(tid)
            st.recent_order.append(tid)
            if len(st.recent_order) > _RECENT_IDS:
                st.recent_ids.discard(st.recent_order.popleft())
        if trade.venue_ts_ms > st.trade_ts:
            st.trade_ts = trade.venue_ts_ms

    # -- tickers -----------------------------------------------------------------------

    def check_ticker(self, ticker: Ticker, now_ms: int) -> str | None:
        self.tickers_checked += 1
        key = ticker.key
        st = self._state(key)
        bad = self._ticker(st, ticker, now_ms)
        if bad is not None and self._reject(st, key, "ticker", bad, now_ms) is not None:
            return bad
        st.ticker_streak = 0
        st.ticker_ts = max(st.ticker_ts, ticker.venue_ts_ms)
        return None

    def _ticker(self, st: _State, t: Ticker, now_ms: int) -> str | None:
        bad = self._time(t.venue_ts_ms, now_ms)
        if bad is not None:
            return bad
        if t.venue_ts_ms and st.ticker_ts:
            if t.venue_ts_ms < st.ticker_ts:
                return OUT_OF_ORDER
            if t.venue_ts_ms == st.ticker_ts:
                return DUPLICATE
        if t.bid is not None and t.ask is not None and t.bid >= t.ask:
            return CROSSED
        if t.last <= 0 or any(v is not None and v < 0 for v in (t.volume_24h, t.quote_volume_24h, t.bid, t.ask)):
            return RANGE
        if t.high_24h is not None and t.low_24h is not None and t.high_24h < t.low_24h:
            return RANGE
        if t.bid is not None and t.ask is not None and self._dev:
            mid = float(t.bid + t.ask) / 2
            ref = st.mid if st.mid and now_ms - st.mid_ms <= self._ref_age else st.trade_px
            if ref and abs(mid - ref) * 10_000 > self._dev * ref:
                return DEVIATION
        return None

    # -- reading -----------------------------------------------------------------------

    @property
    def checked(self) -> dict[str, int]:
        return {"book": self.books_checked, "trade": self.trades_checked, "ticker": self.tickers_checked}

    def reference(self, key: InstrumentKey) -> float:
        """The instrument's last accepted book mid (0.0 if none)."""
        st = self._states.get(key)
        return st.mid if st is not None else 0.0

    def warnings(self, now_ms: int) -> list[str]:
        """One line per instrument whose rejections are bursting now."""
        out = []
        horizon = now_ms / 1000 - self.config.burst_window_s
        for key, st in self._states.items():
            times = st.rejected_at
            while times and times[0] < horizon:
                times.popleft()
            if len(times) >= self.config.burst_rejects:
                out.append(f"quality: {len(times)} items of {key} rejected in the last {self.config.burst_window_s:g}s")
        return out
