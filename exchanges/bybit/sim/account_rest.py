"""Account and position endpoints (reference §5).

``/v5/account/wallet-balance`` (``accountType=UNIFIED`` only: this venue is a unified trading
account), ``/v5/account/info``, ``/v5/account/fee-rate``, ``/v5/account/transaction-log``
(funding settlements, ``type=SETTLEMENT``), ``/v5/user/query-api``, ``/v5/position/list``,
``/v5/position/set-leverage`` (buy = sell in one-way mode; the same value again is 110043) and
``/v5/position/switch-mode`` (one-way only).
"""

from __future__ import annotations

import builtins
from decimal import Decimal

import msgspec

from exchanges.sim.engine import IncomeType, SimReject

from .api_errors import BybitApiError, bad_symbol, param_error
from .core import BybitCore, parse_category
from .numbers import money
from .params import Params
from .payloads_account import flat_position, position_rest, wallet
from .payloads_market import ListResult, WalletResult
from .rest import Call, Endpoint
from .trade_rest import page

__all__ = ["AccountRest", "AccountInfo", "ApiKeyInfo", "FeeRate", "TransactionLogItem"]

ZERO = Decimal(0)


class AccountInfo(msgspec.Struct, kw_only=True):
    unifiedMarginStatus: int
    marginMode: str
    isMasterTrader: bool
    spotHedgingStatus: str
    updatedTime: str
    dcpStatus: str
    timeWindow: int
    smpGroup: int


class ApiKeyInfo(msgspec.Struct, kw_only=True):
    id: str
    note: str
    apiKey: str
    readOnly: int
    secret: str
    permissions: dict[str, list[str]]
    ips: list[str]
    type: int
    deadlineDay: int
    expiredAt: str
    createdAt: str
    unified: int
    uta: int
    userID: int
    inviterID: int
    vipLevel: str
    mktMakerLevel: str
    affiliateID: int
    rsaPublicKey: str
    isMaster: bool
    parentUid: str
    kycLevel: str
    kycRegion: str


class FeeRate(msgspec.Struct, kw_only=True):
    symbol: str
    baseCoin: str
    takerFeeRate: str
    makerFeeRate: str


class FeeRates(msgspec.Struct, kw_only=True):
    list: builtins.list[FeeRate]


class TransactionLogItem(msgspec.Struct, kw_only=True):
    id: str
    symbol: str
    category: str
    side: str
    transactionTime: str
    type: str
    qty: str
    size: str
    currency: str
    tradePrice: str
    funding: str
    fee: str
    cashFlow: str
    change: str
    cashBalance: str
    feeRate: str
    bonusChange: str
    tradeId: str
    orderId: str
    orderLinkId: str


class CoinChain(msgspec.Struct, kw_only=True):
    chainType: str
    confirmation: str
    withdrawFee: str
    depositMin: str
    withdrawMin: str
    chain: str
    chainDeposit: str
    chainWithdraw: str
    minAccuracy: str
    withdrawPercentageFee: str


class CoinInfo(msgspec.Struct, kw_only=True):
    name: str
    coin: str
    remainAmount: str
    chains: builtins.list[CoinChain]


class CoinInfoResult(msgspec.Struct, kw_only=True):
    rows: builtins.list[CoinInfo]


# Each coin's home chain, as Bybit names it (deposits and withdrawals are not served).
_CHAINS = {"BTC": ("BTC", "BTC"), "ETH": ("ETH", "ETH"), "USDT": ("ETH", "ERC20")}


class TransactionLog(msgspec.Struct, kw_only=True):
    list: builtins.list[TransactionLogItem]
    nextPageCursor: str


class AccountRest:
    def __init__(self, core: BybitCore) -> None:
        self.core = core

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", "/v5/account/wallet-balance", True, self.wallet_balance),
            Endpoint("GET", "/v5/account/info", True, self.account_info),
            Endpoint("GET", "/v5/account/fee-rate", True, self.fee_rate),
            Endpoint("GET", "/v5/account/transaction-log", True, self.transaction_log),
            Endpoint("GET", "/v5/user/query-api", True, self.query_api),
            Endpoint("GET", "/v5/asset/coin/query-info", True, self.coin_info),
            Endpoint("GET", "/v5/position/list", True, self.positions),
            Endpoint("POST", "/v5/position/set-leverage", True, self.set_leverage),
            Endpoint("POST", "/v5/position/switch-mode", True, self.switch_mode),
        ]

    # -- account ----------------------------------------------------------------------------

    def _unified(self, call: Call) -> None:
        account_type = call.params.opt_str("accountType")
        if account_type is None:
            raise param_error("params error: accountType is required")
        if account_type != "UNIFIED":
            raise BybitApiError(10001, "accountType only support UNIFIED.")

    def wallet_balance(self, call: Call) -> WalletResult:
        self._unified(call)
        coins_text = call.params.opt_str("coin")
        coins = [c.strip().upper() for c in coins_text.split(",") if c.strip()] if coins_text else None
        return WalletResult(list=[wallet(self.core, coins)])

    def account_info(self, call: Call) -> AccountInfo:
        return AccountInfo(
            unifiedMarginStatus=6,
            marginMode="REGULAR_MARGIN",
            isMasterTrader=False,
            spotHedgingStatus="OFF",
            updatedTime=str(self.core.started_ms),
            dcpStatus="OFF",
            timeWindow=10,
            smpGroup=0,
        )

    def query_api(self, call: Call) -> ApiKeyInfo:
        return ApiKeyInfo(
            id="1",
            note="tradebus offline venue",
            apiKey=self.core.options.api_key,
            readOnly=0,
            secret="",
            permissions={
                "ContractTrade": ["Order", "Position"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer"],
                "Options": [],
                "Derivatives": [],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": [],
                "NFT": [],
            },
            ips=["*"],
            type=1,
            deadlineDay=-1,
            expiredAt="",
            createdAt="2024-01-01T00:00:00Z",
            unified=0,
            uta=1,
            userID=100000001,
            inviterID=0,
            vipLevel="No VIP",
            mktMakerLevel="0",
            affiliateID=0,
            rsaPublicKey="",
            isMaster=True,
            parentUid="0",
            kycLevel="LEVEL_DEFAULT",
            kycRegion="",
        )

    def coin_info(self, call: Call) -> CoinInfoResult:
        """The coins of the listed instruments (``ccxt`` loads them as its currencies)."""
        wanted = call.params.opt_str("coin")
        coins = sorted({s.base for c in self.core.specs.values() for s in c.values()} | {"USDT"})
        if wanted is not None:
            coins = [c for c in coins if c == wanted.upper()]
        rows = []
        for coin in coins:
            chain_type, chain = _CHAINS.get(coin, (coin, coin))
            rows.append(
                CoinInfo(
                    name=coin,
                    coin=coin,
                    remainAmount="1000000",
                    chains=[
                        CoinChain(
                            chainType=chain_type,
                            confirmation="6",
                            withdrawFee="0",
                            depositMin="0",
                            withdrawMin="0",
                            chain=chain,
                            chainDeposit="0",
                            chainWithdraw="0",
                            minAccuracy="8",
                            withdrawPercentageFee="0",
                        )
                    ],
                )
            )
        return CoinInfoResult(rows=rows)

    def fee_rate(self, call: Call) -> FeeRates:
        category = parse_category(call.params.opt_str("category") or "spot")
        cfg = self.core.venue.config
        maker, taker = (
            (cfg.maker_fee_spot, cfg.taker_fee_spot) if category == "spot" else (cfg.maker_fee_perp, cfg.taker_fee_perp)
        )
        symbol = call.params.opt_str("symbol")
        specs = self.core.specs[category]
        symbols = [symbol] if symbol is not None else sorted(specs)
        if symbol is not None:
            self.core.spec(category, symbol)
        return FeeRates(
            list=[
                FeeRate(
                    symbol=s,
                    baseCoin="" if category == "spot" else specs[s].base,
                    takerFeeRate=money(taker),
                    makerFeeRate=money(maker),
                )
                for s in symbols
            ]
        )

    def transaction_log(self, call: Call) -> TransactionLog:
        params = call.params
        account_type = params.opt_str("accountType")
        if account_type not in (None, "UNIFIED"):
            raise BybitApiError(10001, "accountType only support UNIFIED.")
        kind = params.opt_str("type")
        if kind not in (None, "SETTLEMENT"):
            return TransactionLog(list=[], nextPageCursor="")
        category = params.opt_str("category")
        if category not in (None, "linear"):
            return TransactionLog(list=[], nextPageCursor="")
        currency = params.opt_str("currency")
        records = self.core.venue.income(
            self.core.account,
            income_type=IncomeType.FUNDING_FEE,
            start_ms=params.opt_int("startTime"),
            end_ms=params.opt_int("endTime"),
            limit=1_000_000,
        )
        records = [r for r in records if currency is None or r.asset == currency]
        records.sort(key=lambda r: (r.time_ms, r.tran_id), reverse=True)
        chunk, nxt = page(records, params, 20, 50)
        return TransactionLog(
            list=[
                TransactionLogItem(
                    id=str(r.tran_id),
                    symbol=r.symbol,
                    category="linear",
                    side="None",
                    transactionTime=str(r.time_ms),
                    type="SETTLEMENT",
                    qty="0",
                    size="",
                    currency=r.asset,
                    tradePrice="",
                    funding=money(r.income),
                    fee="0",
                    cashFlow="0",
                    change=money(r.income),
                    cashBalance="",
                    feeRate="",
                    bonusChange="",
                    tradeId="",
                    orderId="",
                    orderLinkId="",
                )
                for r in chunk
            ],
            nextPageCursor=nxt,
        )

    # -- positions --------------------------------------------------------------------------

    def positions(self, call: Call) -> ListResult:
        params = call.params
        if params.opt_str("category") == "inverse":
            return self._inverse_positions(params)
        category = parse_category(params.opt_str("category"), allow=("linear",))
        symbol = params.opt_str("symbol")
        settle = params.opt_str("settleCoin")
        base = params.opt_str("baseCoin")
        if symbol is None and settle is None and base is None:
            raise param_error("params error: symbol, baseCoin or settleCoin is required")
        views = {p.symbol: p for p in self.core.venue.positions(self.core.account)}
        if symbol is not None:
            self.core.spec(category, symbol)
            chosen = [views.get(symbol) or flat_position(self.core, symbol)]
        else:
            chosen = [
                v
                for s, v in sorted(views.items())
                if (settle is None or self.core.spec(category, s).settle == settle)
                and (base is None or self.core.spec(category, s).base == base)
            ]
        chunk, nxt = page(chosen, params, 20, 200)
        return ListResult(category="linear", list=[position_rest(self.core, p) for p in chunk], nextPageCursor=nxt)

    def _inverse_positions(self, params: Params) -> ListResult:
        """No inverse contract is listed (instruments-info answers an empty list), so the
        account holds none: an empty list, or the unknown-symbol error when one is named."""
        symbol = params.opt_str("symbol")
        if symbol is not None:
            raise bad_symbol(symbol)
        return ListResult(category="inverse", list=[], nextPageCursor="")

    def set_leverage(self, call: Call) -> dict[str, object]:
        params = call.params
        parse_category(params.opt_str("category"), allow=("linear",))
        symbol = params.req_str("symbol")
        self.core.spec("linear", symbol)
        buy = params.opt_decimal("buyLeverage")
        sell = params.opt_decimal("sellLeverage")
        if buy is None or sell is None:
            raise param_error("params error: buyLeverage and sellLeverage are required")
        if buy != sell:
            raise BybitApiError(10001, "buy leverage must be equal to sell leverage in one-way mode")
        cap = self.core.venue.config.max_leverage
        if buy != buy.to_integral_value() or not 1 <= buy <= cap:
            raise BybitApiError(10001, f"leverage invalid: must be a whole number in [1, {cap}]")
        leverage = int(buy)
        if leverage == self.core.venue.leverage(self.core.account, symbol):
            raise BybitApiError(110043, "leverage not modified")
        try:
            self.core.venue.set_leverage(self.core.account, symbol, leverage)
        except SimReject as exc:
            raise BybitApiError(110012, f"Insufficient available balance: {exc.detail}") from None
        return {}

    def switch_mode(self, call: Call) -> dict[str, object]:
        params = call.params
        parse_category(params.opt_str("category"), allow=("linear",))
        mode = params.opt_int("mode")
        if mode is None:
            raise param_error("params error: mode is required")
        if mode == 3:
            raise BybitApiError(10001, "hedge mode (mode=3) is not supported by this venue")
        if mode != 0:
            raise param_error(f"params error: mode invalid: {mode}")
        raise BybitApiError(110025, "Position mode is not modified")
