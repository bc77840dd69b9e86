"""Spot REST endpoints (``/api/v3``) with Binance's weights (reference §3.1, §4)."""

from __future__ import annotations

from decimal import Decimal

from exchanges.sim.engine import SimOrder, SimReject
from strategy_client.model import MarketKind

from .api_errors import BinanceApiError, from_reject
from .core import BinanceCore
from .exchange_info import spot_exchange_info
from .numbers import spot
from .order_entry import ID_PARAMS, SPOT_ORDER_PARAMS, cancel_all, cancel_order, place_spot, query_order
from .params import Params
from .payloads_market import AvgPrice, Depth, PriceTicker, ServerTime, SpotBookTicker
from .payloads_spot import (
    CommissionRates,
    SpotAccount,
    SpotBalance,
    my_trade,
    order_ack,
    order_cancel,
    order_full,
    order_query,
    order_result,
)
from .rest import Call, Endpoint
from .tickers import spot_mini_ticker, spot_ticker

__all__ = ["CANCEL_REPLACE_PARAMS", "SpotRest", "depth_weight", "render_place"]

# cancelReplace: its cancel's parameters under their DELETE /order names
_CANCEL_FIELDS = {
    "cancelOrderId": "orderId",
    "cancelOrigClientOrderId": "origClientOrderId",
    "cancelNewClientOrderId": "newClientOrderId",
}
CANCEL_REPLACE_PARAMS = SPOT_ORDER_PARAMS | set(_CANCEL_FIELDS) | {"cancelReplaceMode", "cancelRestrictions"}

_P = "/api/v3"


def depth_weight(params: Params) -> int:
    limit = _depth_limit(params)
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _depth_limit(params: Params) -> int:
    limit = params.opt_int("limit")
    if limit is None:
        return 100
    if limit < 1:
        raise BinanceApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1 - 5000'.")
    return min(limit, 5000)


def _ticker_weight(params: Params) -> int:
    return 2 if params.raw("symbol") else 4


def _ticker_24hr_weight(params: Params) -> int:
    """2 for one symbol or up to 20 ``symbols``, 40 up to 100, 80 above or for all (§4)."""
    if params.raw("symbol"):
        return 2
    raw = params.raw("symbols")
    if not raw:
        return 80
    n = raw.count(",") + 1
    return 2 if n <= 20 else 40 if n <= 100 else 80


def render_place(core: BinanceCore, params: Params) -> object:
    """Place a spot order and render the reply of the requested ``newOrderRespType``."""
    order, resp = place_spot(core, params)
    now = order.created_ms or core.now_ms()
    if resp == "ACK":
        return order_ack(order, now)
    if resp == "RESULT":
        return order_result(order, now)
    return order_full(order, now)


class SpotRest:
    def __init__(self, core: BinanceCore) -> None:
        self.core = core

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", f"{_P}/ping", "NONE", 1, lambda c: {}),
            Endpoint("GET", f"{_P}/time", "NONE", 1, lambda c: ServerTime(serverTime=c.now_ms)),
            Endpoint(
                "GET",
                f"{_P}/exchangeInfo",
                "NONE",
                20,
                self.exchange_info,
                frozenset({"symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"}),
            ),
            Endpoint("GET", f"{_P}/depth", "NONE", depth_weight, self.depth, frozenset({"symbol", "limit"})),
            Endpoint(
                "GET",
                f"{_P}/ticker/bookTicker",
                "NONE",
                _ticker_weight,
                self.book_ticker,
                frozenset({"symbol", "symbols"}),
            ),
            Endpoint(
                "GET",
                f"{_P}/ticker/price",
                "NONE",
                _ticker_weight,
                self.price_ticker,
                frozenset({"symbol", "symbols"}),
            ),
            Endpoint(
                "GET",
                f"{_P}/ticker/24hr",
                "NONE",
                _ticker_24hr_weight,
                self.ticker_24hr,
                frozenset({"symbol", "symbols", "type"}),
            ),
            Endpoint("GET", f"{_P}/avgPrice", "NONE", 2, self.avg_price, frozenset({"symbol"})),
            Endpoint("POST", f"{_P}/order", "SIGNED", 1, self.place, SPOT_ORDER_PARAMS, order=True),
            Endpoint(
                "POST",
                f"{_P}/order/test",
                "SIGNED",
                1,
                self.test_order,
                SPOT_ORDER_PARAMS | {"computeCommissionRates"},
            ),
            Endpoint(
                "DELETE",
                f"{_P}/order",
                "SIGNED",
                1,
                self.cancel,
                ID_PARAMS | {"newClientOrderId", "cancelRestrictions"},
            ),
            Endpoint("GET", f"{_P}/order", "SIGNED", 4, self.query, ID_PARAMS),
            Endpoint(
                "POST", f"{_P}/order/cancelReplace", "SIGNED", 1, self.cancel_replace, CANCEL_REPLACE_PARAMS, order=True
            ),
            Endpoint(
                "GET",
                f"{_P}/openOrders",
                "SIGNED",
                lambda p: 6 if p.raw("symbol") else 80,
                self.open_orders,
                frozenset({"symbol"}),
            ),
            Endpoint("DELETE", f"{_P}/openOrders", "SIGNED", 1, self.cancel_open, frozenset({"symbol"})),
            Endpoint(
                "GET",
                f"{_P}/allOrders",
                "SIGNED",
                20,
                self.all_orders,
                frozenset({"symbol", "orderId", "startTime", "endTime", "limit"}),
            ),
            Endpoint(
                "GET",
                f"{_P}/myTrades",
                "SIGNED",
                20,
                self.my_trades,
                frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit"}),
            ),
            Endpoint("GET", f"{_P}/account", "SIGNED", 20, self.account, frozenset({"omitZeroBalances"})),
        ]

    # -- market data ------------------------------------------------------------------------

    def _symbols(self, params: Params) -> list[str]:
        """``symbol`` or ``symbols`` (each must exist), or every listed symbol."""
        single = params.opt_str("symbol")
        many = params.opt_symbols()
        if single is not None and many is not None:
            raise BinanceApiError(-1128, "Combination of optional parameters invalid.")
        if single is not None:
            self.core.spec("spot", single)
            return [single]
        if many is not None:
            for s in many:
                self.core.spec("spot", s)
            return many
        return sorted(self.core.specs["spot"])

    def exchange_info(self, call: Call) -> object:
        symbols = self._symbols(call.params)
        specs = [self.core.specs["spot"][s] for s in symbols]
        return spot_exchange_info(specs, self.core.limits["spot"], call.now_ms)

    def depth(self, call: Call) -> object:
        symbol = call.params.req_str("symbol")
        self.core.spec("spot", symbol)
        book = self.core.venue.book(MarketKind.SPOT, symbol, _depth_limit(call.params))
        return Depth(
            lastUpdateId=book.update_id,
            bids=[(spot(p), spot(q)) for p, q in book.bids],
            asks=[(spot(p), spot(q)) for p, q in book.asks],
        )

    def _top(self, symbol: str) -> SpotBookTicker:
        book = self.core.venue.book(MarketKind.SPOT, symbol, 1)
        zero = (Decimal(0), Decimal(0))
        bp, bq = book.bids[0] if book.bids else zero
        ap, aq = book.asks[0] if book.asks else zero
        return SpotBookTicker(symbol=symbol, bidPrice=spot(bp), bidQty=spot(bq), askPrice=spot(ap), askQty=spot(aq))

    def book_ticker(self, call: Call) -> object:
        tops = [self._top(s) for s in self._symbols(call.params)]
        return tops[0] if call.params.raw("symbol") else tops

    def _last_price(self, symbol: str) -> Decimal:
        trades = self.core.venue.recent_trades(MarketKind.SPOT, symbol, 1)
        if trades:
            return trades[-1].price
        return self.core.venue.reference_price(MarketKind.SPOT, symbol)

    def price_ticker(self, call: Call) -> object:
        tickers = [PriceTicker(symbol=s, price=spot(self._last_price(s))) for s in self._symbols(call.params)]
        return tickers[0] if call.params.raw("symbol") else tickers

    def ticker_24hr(self, call: Call) -> object:
        kind = call.params.opt_enum("type", ("FULL", "MINI"), BinanceApiError(-1139, "Invalid ticker type."))
        render = spot_mini_ticker if kind == "MINI" else spot_ticker
        tickers = [render(self.core, s) for s in self._symbols(call.params)]
        return tickers[0] if call.params.raw("symbol") else tickers

    def avg_price(self, call: Call) -> object:
        symbol = call.params.req_str("symbol")
        self.core.spec("spot", symbol)
        price = self.core.venue.reference_price(MarketKind.SPOT, symbol)
        return AvgPrice(mins=5, price=spot(price), closeTime=call.now_ms)

    # -- trading ----------------------------------------------------------------------------

    def place(self, call: Call) -> object:
        return render_place(self.core, call.params)

    def test_order(self, call: Call) -> object:
        """Validates like ``POST /order`` up to the engine, which is not called."""
        params = call.params
        symbol = params.req_str("symbol")
        self.core.spec("spot", symbol)
        params.req_enum("side", ("BUY", "SELL"), BinanceApiError(-1117, "Invalid side."))
        params.req_enum("type", ("LIMIT", "MARKET", "LIMIT_MAKER"), BinanceApiError(-1116, "Invalid orderType."))
        params.opt_decimal("quantity")
        params.opt_decimal("price")
        params.opt_decimal("quoteOrderQty")
        return {}

    def cancel(self, call: Call) -> object:
        order, cancel_cid = cancel_order(self.core, "spot", call.params)
        return order_cancel(order, cancel_cid, call.now_ms)

    def query(self, call: Call) -> object:
        return order_query(query_order(self.core, "spot", call.params))

    def cancel_replace(self, call: Call) -> object:
        """``POST /api/v3/order/cancelReplace``: cancel an order, then place a new one (a new
        ``orderId``). ``STOP_ON_FAILURE``: a failed cancel places nothing (-2022);
        ``ALLOW_FAILURE``: the new order is placed anyway. Failures answer the code alone (Binance
        adds a ``data`` object with both halves' results)."""
        params = call.params
        mode = params.req_enum(
            "cancelReplaceMode", ("STOP_ON_FAILURE", "ALLOW_FAILURE"), BinanceApiError(-1100, "Illegal mode.")
        )
        symbol = params.req_str("symbol")
        cancel_values = {"symbol": symbol}
        for name, as_name in _CANCEL_FIELDS.items():
            value = params.raw(name)
            if value is not None:
                cancel_values[as_name] = value
        new_values = {n: v for n in params.names() if n in SPOT_ORDER_PARAMS and (v := params.raw(n)) is not None}
        cancel_result: object
        try:
            order, cancel_cid = cancel_order(self.core, "spot", Params(cancel_values))
            cancel_result, canceled = order_cancel(order, cancel_cid, call.now_ms), "SUCCESS"
        except BinanceApiError as err:
            if mode == "STOP_ON_FAILURE":
                raise BinanceApiError(-2022, "Order cancel-replace failed.") from None
            cancel_result, canceled = {"code": err.code, "msg": err.msg}, "FAILURE"
        try:
            placed = render_place(self.core, Params(new_values))
        except BinanceApiError:
            code = -2021 if canceled == "SUCCESS" else -2022
            raise BinanceApiError(
                code, "Order cancel-replace partially failed." if code == -2021 else "Order cancel-replace failed."
            ) from None
        return {
            "cancelResult": canceled,
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancel_result,
            "newOrderResponse": placed,
        }

    def open_orders(self, call: Call) -> object:
        symbol = call.params.opt_str("symbol")
        if symbol is not None:
            self.core.spec("spot", symbol)
        orders = self.core.venue.open_orders(self.core.account, MarketKind.SPOT, symbol)
        return [order_query(o) for o in sorted(orders, key=lambda o: o.order_id)]

    def cancel_open(self, call: Call) -> object:
        symbol = call.params.req_str("symbol")
        canceled = cancel_all(self.core, "spot", symbol)
        if not canceled:
            raise BinanceApiError(-2011, "Unknown order sent.")
        return [order_cancel(o, cid, call.now_ms) for o, cid in canceled]

    def all_orders(self, call: Call) -> object:
        params = call.params
        symbol = params.req_str("symbol")
        self.core.spec("spot", symbol)
        from_id = params.opt_int("orderId")
        start = params.opt_int("startTime")
        end = params.opt_int("endTime")
        limit = min(params.opt_int("limit") or 500, 1000)
        out = []
        for order_id in self.core.order_ids.get((MarketKind.SPOT, symbol), []):
            if from_id is not None and order_id < from_id:
                continue
            try:
                order = self.core.venue.get_order(self.core.account, MarketKind.SPOT, symbol, order_id)
            except SimReject as exc:
                raise from_reject("spot", exc) from None
            if start is not None and order.created_ms < start:
                continue
            if end is not None and order.created_ms > end:
                continue
            out.append(order_query(order))
        return out[:limit] if from_id is not None else out[-limit:]

    def my_trades(self, call: Call) -> object:
        params = call.params
        symbol = params.req_str("symbol")
        self.core.spec("spot", symbol)
        order_id = params.opt_int("orderId")
        limit = min(params.opt_int("limit") or 500, 1000)
        fills = self.core.venue.trades(
            self.core.account,
            MarketKind.SPOT,
            symbol,
            start_ms=params.opt_int("startTime"),
            end_ms=params.opt_int("endTime"),
            from_id=params.opt_int("fromId"),
            limit=None,
        )
        out = []
        orders: dict[int, SimOrder] = {}
        for fill in fills:
            if order_id is not None and fill.order_id != order_id:
                continue
            order = orders.get(fill.order_id)
            if order is None:
                order = orders[fill.order_id] = self.core.venue.get_order(
                    self.core.account, MarketKind.SPOT, symbol, fill.order_id
                )
            out.append(my_trade(fill, order))
        return out[:limit] if params.raw("fromId") else out[-limit:]

    def account(self, call: Call) -> object:
        omit = bool(call.params.opt_bool("omitZeroBalances"))
        balances = [
            SpotBalance(asset=a, free=spot(free), locked=spot(locked))
            for a, (free, locked) in sorted(self.core.venue.spot_balances(self.core.account).items())
            if not (omit and free == 0 and locked == 0)
        ]
        cfg = self.core.venue.config
        maker, taker = cfg.maker_fee_spot, cfg.taker_fee_spot
        return SpotAccount(
            makerCommission=int(maker * 10000),
            takerCommission=int(taker * 10000),
            buyerCommission=0,
            sellerCommission=0,
            commissionRates=CommissionRates(
                maker=spot(maker), taker=spot(taker), buyer=spot(Decimal(0)), seller=spot(Decimal(0))
            ),
            canTrade=True,
            canWithdraw=True,
            canDeposit=True,
            brokered=False,
            requireSelfTradePrevention=False,
            preventSor=False,
            updateTime=call.now_ms,
            accountType="SPOT",
            balances=balances,
            permissions=["SPOT"],
            uid=1,
        )
