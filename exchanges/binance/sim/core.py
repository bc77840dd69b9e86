"""State both Binance hosts share: the engine, the test account, security, limits, counters."""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Callable

from exchanges.sim.badinput import BadInput
from exchanges.sim.engine import ExecType, OrderChanged, SimEvent, SimVenue, SymbolSpec, TradeExecuted
from exchanges.sim.faults import Faults
from strategy_client.model import MarketKind

from .api_errors import Product, bad_symbol
from .auth import Authenticator
from .options import ACCOUNT_ID, BinanceSimOptions
from .ratelimit import RateLimiter
from .ticker24h import Tape24h
from .vocab import PerpFormat

__all__ = ["BinanceCore", "KIND_OF"]

KIND_OF: dict[Product, MarketKind] = {"spot": MarketKind.SPOT, "futures": MarketKind.PERP}
_ID_ALPHABET = string.ascii_letters + string.digits


class BinanceCore:
    """One account (``ACCOUNT_ID``) keyed by ``options.api_key``; everything runs on one loop."""

    def __init__(self, venue: SimVenue, options: BinanceSimOptions, faults: Faults, bad: BadInput, seed: int) -> None:
        self.venue = venue
        self.options = options
        self.faults = faults
        self.bad = bad
        self.account = ACCOUNT_ID
        venue.add_account(ACCOUNT_ID)
        now = self.now_ms
        self.auth: dict[Product, Authenticator] = {
            p: Authenticator(p, options.api_key, options.api_secret, now) for p in ("spot", "futures")
        }
        self.limits: dict[Product, RateLimiter] = {p: RateLimiter(p, options, now) for p in ("spot", "futures")}
        self.specs: dict[Product, dict[str, SymbolSpec]] = {
            p: {s.symbol: s for s in venue.instruments(KIND_OF[p])} for p in ("spot", "futures")
        }
        self.fmts: dict[str, PerpFormat] = {s: PerpFormat(spec) for s, spec in self.specs["futures"].items()}
        self._rng = random.Random(seed)
        self._exec_ids = itertools.count(1)
        self._cancel_ids: dict[int, str] = {}
        self.order_ids: dict[tuple[MarketKind, str], list[int]] = {}
        self.started_ms = now()
        self.tape = Tape24h(self.started_ms)
        self._unlisten = venue.listen(self._index_orders)

    def now_ms(self) -> int:
        return self.venue.clock.now_ms()

    def close(self) -> None:
        self._unlisten()

    # -- lookups ----------------------------------------------------------------------------

    def spec(self, product: Product, symbol: str) -> SymbolSpec:
        spec = self.specs[product].get(symbol)
        if spec is None:
            raise bad_symbol()
        return spec

    def fmt(self, symbol: str) -> PerpFormat:
        fmt = self.fmts.get(symbol)
        if fmt is None:
            raise bad_symbol()
        return fmt

    # -- ids --------------------------------------------------------------------------------

    def new_client_id(self, product: Product) -> str:
        """An id like Binance generates when the client sends none."""
        body = "".join(self._rng.choice(_ID_ALPHABET) for _ in range(22))
        return body if product == "spot" else "sim_" + body[:18]

    def next_exec_id(self) -> int:
        return next(self._exec_ids)

    def remember_cancel_id(self, order_id: int, cancel_client_id: str) -> None:
        """The cancel request's own id, shown as ``c`` in the spot executionReport (``C`` = original)."""
        self._cancel_ids[order_id] = cancel_client_id

    def cancel_id(self, order_id: int) -> str | None:
        return self._cancel_ids.get(order_id)

    def pop_cancel_id(self, order_id: int) -> str | None:
        return self._cancel_ids.pop(order_id, None)

    # -- order index (the engine lists open orders only; allOrders needs every id) -------------

    def _index_orders(self, event: SimEvent) -> None:
        if isinstance(event, TradeExecuted):
            self.tape.record("spot" if event.kind is MarketKind.SPOT else "futures", event.symbol, event.trade)
            return
        if isinstance(event, OrderChanged) and event.exec_type is ExecType.NEW and event.account == self.account:
            key = (event.order.kind, event.order.symbol)
            self.order_ids.setdefault(key, []).append(event.order.order_id)

    def listen(self, callback: Callable[[SimEvent], None]) -> Callable[[], None]:
        return self.venue.listen(callback)
