"""USD-M futures REST endpoints (``/fapi``) with Binance's weights (reference §3.2, §4)."""

from __future__ import annotations

from decimal import Decimal

from exchanges.sim.engine import IncomeType, PositionView, SimReject
from strategy_client.model import MarketKind

from .api_errors import BinanceApiError, from_reject
from .core import BinanceCore
from .exchange_info import futures_exchange_info
from .order_entry import (
    FUTURES_ORDER_PARAMS,
    ID_PARAMS,
    MODIFY_PARAMS,
    cancel_all,
    cancel_order,
    modify_futures,
    place_futures,
    query_order,
)
from .params import Params
from .payloads_futures import (
    MAX_NOTIONAL,
    Bracket,
    CodeMsg,
    DualSide,
    FundingInfoItem,
    LeverageBrackets,
    LeverageResult,
    ListenKeyReply,
    SymbolConfig,
    account_v2,
    account_v3,
    balances_v2,
    funding_item,
    income_item,
    order_object,
    order_query,
    position_v2,
    position_v3,
    premium_index,
    user_trade,
)
from .payloads_market import FuturesBookTicker, FuturesDepth, PriceTicker, ServerTime
from .rest import Call, Endpoint
from .tickers import futures_ticker
from .user_streams import UserStreams

__all__ = ["FuturesRest", "render_futures_place", "futures_depth_weight"]

_V1 = "/fapi/v1"
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_SEVEN_DAYS_MS = 7 * 86_400_000
_INCOME_TYPES = frozenset(
    {
        "TRANSFER",
        "WELCOME_BONUS",
        "REALIZED_PNL",
        "FUNDING_FEE",
        "COMMISSION",
        "INSURANCE_CLEAR",
        "REFERRAL_KICKBACK",
        "COMMISSION_REBATE",
        "API_REBATE",
        "CONTEST_REWARD",
        "CROSS_COLLATERAL_TRANSFER",
        "OPTIONS_PREMIUM_FEE",
        "OPTIONS_SETTLE_PROFIT",
        "INTERNAL_TRANSFER",
        "AUTO_EXCHANGE",
        "DELIVERED_SETTELMENT",
        "COIN_SWAP_DEPOSIT",
        "COIN_SWAP_WITHDRAW",
        "POSITION_LIMIT_INCREASE_FEE",
        "STRATEGY_UMFUTURES_TRANSFER",
        "FEE_RETURN",
        "BFUSD_REWARD",
    }
)


def _depth_limit(params: Params) -> int:
    limit = params.opt_int("limit")
    if limit is None:
        return 500
    if limit not in _DEPTH_LIMITS:
        raise BinanceApiError(-4021, f"'{limit}' is not valid depth limit.")
    return limit


def futures_depth_weight(params: Params) -> int:
    limit = _depth_limit(params)
    if limit <= 50:
        return 2
    return {100: 5, 500: 10, 1000: 20}[limit]


def render_futures_place(core: BinanceCore, params: Params) -> object:
    order, resp = place_futures(core, params)
    return order_object(order, core.fmt(order.symbol), as_new=resp == "ACK")


class FuturesRest:
    def __init__(self, core: BinanceCore, users: UserStreams) -> None:
        self.core = core
        self.users = users

    def endpoints(self) -> list[Endpoint]:
        sym = frozenset({"symbol"})
        return [
            Endpoint("GET", f"{_V1}/ping", "NONE", 1, lambda c: {}),
            Endpoint("GET", f"{_V1}/time", "NONE", 1, lambda c: ServerTime(serverTime=c.now_ms)),
            Endpoint("GET", f"{_V1}/exchangeInfo", "NONE", 1, self.exchange_info),
            Endpoint(
                "GET",
                f"{_V1}/depth",
                "NONE",
                futures_depth_weight,
                self.depth,
                frozenset({"symbol", "limit"}),
            ),
            Endpoint(
                "GET",
                f"{_V1}/premiumIndex",
                "NONE",
                lambda p: 1 if p.raw("symbol") else 10,
                self.premium_index,
                sym,
            ),
            Endpoint(
                "GET",
                f"{_V1}/fundingRate",
                "NONE",
                0,
                self.funding_rate,
                frozenset({"symbol", "startTime", "endTime", "limit"}),
                funding_limited=True,
            ),
            Endpoint("GET", f"{_V1}/fundingInfo", "NONE", 0, self.funding_info, funding_limited=True),
            Endpoint(
                "GET",
                f"{_V1}/ticker/bookTicker",
                "NONE",
                lambda p: 2 if p.raw("symbol") else 5,
                self.book_ticker,
                sym,
            ),
            Endpoint(
                "GET",
                f"{_V1}/ticker/price",
                "NONE",
                lambda p: 1 if p.raw("symbol") else 2,
                self.price_ticker,
                sym,
            ),
            Endpoint(
                "GET",
                f"{_V1}/ticker/24hr",
                "NONE",
                lambda p: 1 if p.raw("symbol") else 40,
                self.ticker_24hr,
                sym,
            ),
            Endpoint(
                "GET",
                "/fapi/v2/ticker/price",
                "NONE",
                lambda p: 1 if p.raw("symbol") else 2,
                self.price_ticker,
                sym,
            ),
            Endpoint("POST", f"{_V1}/order", "SIGNED", 0, self.place, FUTURES_ORDER_PARAMS, order=True),
            Endpoint("PUT", f"{_V1}/order", "SIGNED", 1, self.modify, MODIFY_PARAMS),
            Endpoint("DELETE", f"{_V1}/order", "SIGNED", 1, self.cancel, ID_PARAMS),
            Endpoint("GET", f"{_V1}/order", "SIGNED", 1, self.query, ID_PARAMS),
            Endpoint(
                "GET",
                f"{_V1}/openOrders",
                "SIGNED",
                lambda p: 1 if p.raw("symbol") else 40,
                self.open_orders,
                sym,
            ),
            Endpoint("DELETE", f"{_V1}/allOpenOrders", "SIGNED", 1, self.cancel_all, sym),
            Endpoint(
                "GET",
                f"{_V1}/allOrders",
                "SIGNED",
                5,
                self.all_orders,
                frozenset({"symbol", "orderId", "startTime", "endTime", "limit"}),
            ),
            Endpoint("POST", f"{_V1}/leverage", "SIGNED", 1, self.leverage, frozenset({"symbol", "leverage"})),
            Endpoint(
                "POST",
                f"{_V1}/marginType",
                "SIGNED",
                1,
                self.margin_type,
                frozenset({"symbol", "marginType"}),
            ),
            Endpoint(
                "POST",
                f"{_V1}/positionSide/dual",
                "SIGNED",
                1,
                self.set_dual,
                frozenset({"dualSidePosition"}),
            ),
            Endpoint("GET", f"{_V1}/positionSide/dual", "SIGNED", 30, lambda c: DualSide(dualSidePosition=False)),
            Endpoint("GET", f"{_V1}/symbolConfig", "SIGNED", 5, self.symbol_config, sym),
            Endpoint("GET", f"{_V1}/leverageBracket", "SIGNED", 1, self.leverage_bracket, sym),
            Endpoint(
                "GET",
                f"{_V1}/income",
                "SIGNED",
                30,
                self.income,
                frozenset({"symbol", "incomeType", "startTime", "endTime", "page", "limit"}),
            ),
            Endpoint(
                "GET",
                f"{_V1}/userTrades",
                "SIGNED",
                5,
                self.user_trades,
                frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit"}),
            ),
            Endpoint("POST", f"{_V1}/listenKey", "USER_STREAM", 1, self.listen_key_new),
            Endpoint(
                "PUT",
                f"{_V1}/listenKey",
                "USER_STREAM",
                1,
                self.listen_key_keepalive,
                frozenset({"listenKey"}),
            ),
            Endpoint(
                "DELETE",
                f"{_V1}/listenKey",
                "USER_STREAM",
                1,
                self.listen_key_close,
                frozenset({"listenKey"}),
            ),
            Endpoint("GET", "/fapi/v2/positionRisk", "SIGNED", 5, self.position_risk_v2, sym),
            Endpoint("GET", "/fapi/v3/positionRisk", "SIGNED", 5, self.position_risk_v3, sym),
            Endpoint("GET", "/fapi/v2/account", "SIGNED", 5, self.account_v2),
            Endpoint("GET", "/fapi/v3/account", "SIGNED", 5, self.account_v3),
            Endpoint("GET", "/fapi/v2/balance", "SIGNED", 5, self.balance),
            Endpoint("GET", "/fapi/v3/balance", "SIGNED", 5, self.balance),
        ]

    # -- market data ------------------------------------------------------------------------

    def _symbol(self, params: Params) -> str:
        symbol = params.req_str("symbol")
        self.core.spec("futures", symbol)
        return symbol

    def _symbols(self, params: Params) -> list[str]:
        symbol = params.opt_str("symbol")
        if symbol is not None:
            self.core.spec("futures", symbol)
            return [symbol]
        return sorted(self.core.specs["futures"])

    def exchange_info(self, call: Call) -> object:
        specs = [self.core.specs["futures"][s] for s in sorted(self.core.specs["futures"])]
        return futures_exchange_info(
            specs, self.core.limits["futures"], call.now_ms, self.core.venue.config.maint_margin_rate
        )

    def depth(self, call: Call) -> object:
        symbol = self._symbol(call.params)
        limit = _depth_limit(call.params)
        book = self.core.venue.book(MarketKind.PERP, symbol, limit)
        fmt = self.core.fmt(symbol)
        return FuturesDepth(
            lastUpdateId=book.update_id,
            E=call.now_ms,
            T=book.ts_ms,
            bids=[(fmt.price(p), fmt.qty(q)) for p, q in book.bids],
            asks=[(fmt.price(p), fmt.qty(q)) for p, q in book.asks],
        )

    def premium_index(self, call: Call) -> object:
        items = [premium_index(self.core.venue.mark(s), self.core.fmt(s)) for s in self._symbols(call.params)]
        return items[0] if call.params.raw("symbol") else items

    def funding_rate(self, call: Call) -> object:
        """Ascending; without times the latest 200 (or ``limit``), with times the first ``limit``."""
        params = call.params
        start, end = params.opt_int("startTime"), params.opt_int("endTime")
        limit = params.opt_int("limit") or (100 if start is not None or end is not None else 200)
        limit = max(1, min(limit, 1000))
        records = []
        for symbol in self._symbols(params):
            records.extend(self.core.venue.funding_history(symbol, start, end, 1000))
        records.sort(key=lambda r: (r.funding_ms, r.symbol))
        return [funding_item(r) for r in (records[:limit] if start is not None else records[-limit:])]

    def funding_info(self, call: Call) -> object:
        cfg = self.core.venue.config
        interval = cfg.funding_interval_ms
        if interval == 8 * 3_600_000:
            return []
        hours = max(1, interval // 3_600_000)
        cap = f"{cfg.funding_rate_cap:f}"
        return [
            FundingInfoItem(
                symbol=s,
                adjustedFundingRateCap=cap,
                adjustedFundingRateFloor=f"-{cap}",
                fundingIntervalHours=hours,
                disclaimer=False,
            )
            for s in sorted(self.core.specs["futures"])
        ]

    def book_ticker(self, call: Call) -> object:
        out = []
        for symbol in self._symbols(call.params):
            book = self.core.venue.book(MarketKind.PERP, symbol, 1)
            fmt = self.core.fmt(symbol)
            zero = (Decimal(0), Decimal(0))
            bp, bq = book.bids[0] if book.bids else zero
            ap, aq = book.asks[0] if book.asks else zero
            out.append(
                FuturesBookTicker(
                    symbol=symbol,
                    bidPrice=fmt.price(bp),
                    bidQty=fmt.qty(bq),
                    askPrice=fmt.price(ap),
                    askQty=fmt.qty(aq),
                    time=book.ts_ms,
                    lastUpdateId=book.update_id,
                )
            )
        return out[0] if call.params.raw("symbol") else out

    def ticker_24hr(self, call: Call) -> object:
        out = [futures_ticker(self.core, s) for s in self._symbols(call.params)]
        return out[0] if call.params.raw("symbol") else out

    def price_ticker(self, call: Call) -> object:
        out = []
        for symbol in self._symbols(call.params):
            trades = self.core.venue.recent_trades(MarketKind.PERP, symbol, 1)
            price = trades[-1].price if trades else self.core.venue.reference_price(MarketKind.PERP, symbol)
            out.append(PriceTicker(symbol=symbol, price=self.core.fmt(symbol).price(price)))
        return out[0] if call.params.raw("symbol") else out

    # -- trading ----------------------------------------------------------------------------

    def place(self, call: Call) -> object:
        return render_futures_place(self.core, call.params)

    def cancel(self, call: Call) -> object:
        order, _ = cancel_order(self.core, "futures", call.params)
        return order_object(order, self.core.fmt(order.symbol))

    def modify(self, call: Call) -> object:
        order = modify_futures(self.core, call.params)
        return order_object(order, self.core.fmt(order.symbol))

    def query(self, call: Call) -> object:
        order = query_order(self.core, "futures", call.params)
        return order_query(order, self.core.fmt(order.symbol))

    def open_orders(self, call: Call) -> object:
        symbol = call.params.opt_str("symbol")
        if symbol is not None:
            self.core.spec("futures", symbol)
        orders = self.core.venue.open_orders(self.core.account, MarketKind.PERP, symbol)
        return [order_query(o, self.core.fmt(o.symbol)) for o in sorted(orders, key=lambda o: o.order_id)]

    def cancel_all(self, call: Call) -> object:
        cancel_all(self.core, "futures", self._symbol(call.params))
        return CodeMsg(code=200, msg="The operation of cancel all open order is done.")

    def all_orders(self, call: Call) -> object:
        params = call.params
        symbol = self._symbol(params)
        from_id = params.opt_int("orderId")
        start, end = params.opt_int("startTime"), params.opt_int("endTime")
        limit = min(params.opt_int("limit") or 500, 1000)
        fmt = self.core.fmt(symbol)
        out = []
        for order_id in self.core.order_ids.get((MarketKind.PERP, symbol), []):
            if from_id is not None and order_id < from_id:
                continue
            try:
                order = self.core.venue.get_order(self.core.account, MarketKind.PERP, symbol, order_id)
            except SimReject as exc:
                raise from_reject("futures", exc) from None
            if (start is not None and order.created_ms < start) or (end is not None and order.created_ms > end):
                continue
            out.append(order_query(order, fmt))
        return out[:limit] if from_id is not None else out[-limit:]

    def leverage(self, call: Call) -> object:
        symbol = self._symbol(call.params)
        leverage = call.params.req_int("leverage")
        if not 1 <= leverage <= self.core.venue.config.max_leverage:
            raise BinanceApiError(-4028, f"Leverage {leverage} is not valid")
        try:
            applied = self.core.venue.set_leverage(self.core.account, symbol, leverage)
        except SimReject as exc:
            raise from_reject("futures", exc) from None
        return LeverageResult(leverage=applied, maxNotionalValue=MAX_NOTIONAL, symbol=symbol)

    def margin_type(self, call: Call) -> object:
        self._symbol(call.params)
        margin = call.params.req_enum(
            "marginType",
            ("ISOLATED", "CROSSED"),
            BinanceApiError(-1130, "Data sent for parameter 'marginType' is not valid."),
        )
        if margin == "CROSSED":
            raise BinanceApiError(-4046, "No need to change margin type.")
        raise BinanceApiError(-1020, "This operation is not supported.")

    def set_dual(self, call: Call) -> object:
        dual = call.params.opt_bool("dualSidePosition")
        if dual is None:
            raise BinanceApiError(
                -1102, "Mandatory parameter 'dualSidePosition' was not sent, was empty/null, or malformed."
            )
        if not dual:
            raise BinanceApiError(-4059, "No need to change position side.")
        raise BinanceApiError(-1020, "This operation is not supported.")

    def symbol_config(self, call: Call) -> object:
        return [
            SymbolConfig(
                symbol=s,
                marginType="CROSSED",
                isAutoAddMargin=False,
                leverage=self.core.venue.leverage(self.core.account, s),
                maxNotionalValue=MAX_NOTIONAL,
            )
            for s in self._symbols(call.params)
        ]

    def leverage_bracket(self, call: Call) -> object:
        """One bracket per symbol: the engine has one maintenance rate and no notional tiers."""
        cfg = self.core.venue.config
        items = [
            LeverageBrackets(
                symbol=s,
                notionalCoef=1.0,
                brackets=[
                    Bracket(
                        bracket=1,
                        initialLeverage=cfg.max_leverage,
                        notionalCap=int(MAX_NOTIONAL),
                        notionalFloor=0,
                        maintMarginRatio=float(cfg.maint_margin_rate),
                        cum=0.0,
                    )
                ],
            )
            for s in self._symbols(call.params)
        ]
        return items[0] if call.params.raw("symbol") else items

    def income(self, call: Call) -> object:
        params = call.params
        symbol = params.opt_str("symbol")
        if symbol is not None:
            self.core.spec("futures", symbol)
        income_type = params.opt_str("incomeType")
        if income_type is not None and income_type not in _INCOME_TYPES:
            raise BinanceApiError(-1130, "Data sent for parameter 'incomeType' is not valid.")
        start, end = params.opt_int("startTime"), params.opt_int("endTime")
        if start is None and end is None:
            start = call.now_ms - _SEVEN_DAYS_MS
        limit = min(params.opt_int("limit") or 100, 1000)
        page = params.opt_int("page") or 1
        engine_type: IncomeType | None = None
        if income_type is not None:
            if income_type not in IncomeType.__members__:
                return []
            engine_type = IncomeType(income_type)
        records = self.core.venue.income(self.core.account, symbol, engine_type, start, end, limit * page)
        return [income_item(r) for r in records[(page - 1) * limit : page * limit]]

    def user_trades(self, call: Call) -> object:
        params = call.params
        symbol = self._symbol(params)
        order_id = params.opt_int("orderId")
        limit = min(params.opt_int("limit") or 500, 1000)
        fills = self.core.venue.trades(
            self.core.account,
            MarketKind.PERP,
            symbol,
            start_ms=params.opt_int("startTime"),
            end_ms=params.opt_int("endTime"),
            from_id=params.opt_int("fromId"),
            limit=None,
        )
        fmt = self.core.fmt(symbol)
        out = [user_trade(f, fmt) for f in fills if order_id is None or f.order_id == order_id]
        return out[:limit] if params.raw("fromId") else out[-limit:]

    # -- user stream keys -------------------------------------------------------------------

    def listen_key_new(self, call: Call) -> object:
        return ListenKeyReply(listenKey=self.users.keys.create(self.core.account))

    def listen_key_keepalive(self, call: Call) -> object:
        return ListenKeyReply(listenKey=self.users.keys.keepalive(self.core.account))

    def listen_key_close(self, call: Call) -> object:
        key = self.users.keys.close(self.core.account)
        if key is not None:
            self.users.close_key(key)
        return {}

    # -- account ----------------------------------------------------------------------------

    def _positions(self, params: Params, include_flat: bool) -> list[PositionView]:
        symbol = params.opt_str("symbol")
        if symbol is not None:
            self.core.spec("futures", symbol)
        positions = self.core.venue.positions(self.core.account, include_flat=include_flat)
        return [p for p in positions if symbol is None or p.symbol == symbol]

    def _open_symbols(self) -> set[str]:
        return {o.symbol for o in self.core.venue.open_orders(self.core.account, MarketKind.PERP)}

    def position_risk_v2(self, call: Call) -> object:
        return [position_v2(p, self.core.fmt(p.symbol)) for p in self._positions(call.params, True)]

    def position_risk_v3(self, call: Call) -> object:
        open_symbols = self._open_symbols()
        out = []
        for p in self._positions(call.params, True):
            if p.size == 0 and p.symbol not in open_symbols:
                continue
            bid, ask = self.users.open_notional(self.core.account, p.symbol)
            leverage = Decimal(max(1, p.leverage))
            out.append(position_v3(p, self.core.fmt(p.symbol), bid, ask, (bid + ask) / leverage))
        return out

    def account_v3(self, call: Call) -> object:
        acct = self.core.venue.futures_account(self.core.account)
        return account_v3(acct, self.core.fmts, self._open_symbols())

    def account_v2(self, call: Call) -> object:
        acct = self.core.venue.futures_account(self.core.account)
        positions = self.core.venue.positions(self.core.account, include_flat=True)
        notionals = {p.symbol: self.users.open_notional(self.core.account, p.symbol) for p in positions}
        return account_v2(acct, self.core.fmts, positions, notionals)

    def balance(self, call: Call) -> object:
        acct = self.core.venue.futures_account(self.core.account)
        return balances_v2(acct, "SimAccount")
