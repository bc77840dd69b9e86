"""The ``/sapi`` and ``/dapi`` calls ccxt makes at start-up, answered for an account that has
spot and USD-M futures only (no deposits/withdrawals, no margin, no COIN-M).

- ``GET /sapi/v1/capital/config/getall`` (SIGNED, weight 10): one entry per asset the venue
  lists or the account holds, with its balance; deposits and withdrawals are disabled and the
  ``networkList`` is empty (the venue has no chains).
- ``GET /sapi/v1/margin/allPairs`` (API key, weight 1) and ``GET /sapi/v1/margin/isolated/allPairs``
  (SIGNED, weight 10): ``[]`` — no margin pairs are offered.
- ``GET /dapi/v1/exchangeInfo`` (on the futures host, weight 1): Binance's layout with no
  symbols, as COIN-M is not simulated.
- ``GET /fapi/v1/openAlgoOrders`` (SIGNED, 1 with ``symbol``, else 40): ``[]`` — the venue has
  no algo (conditional) orders, so none is ever open.

The sapi weights count against the spot host's request-weight limit (Binance keeps separate
IP/UID sapi limits; the simulator does not).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .core import BinanceCore
from .numbers import spot
from .rest import SIGNED_PARAMS, Call, Endpoint

__all__ = ["SapiRest", "DapiRest"]

_PAIRS_PARAMS = frozenset({"symbol"}) | SIGNED_PARAMS


class CoinInfo(msgspec.Struct, kw_only=True):
    coin: str
    depositAllEnable: bool
    withdrawAllEnable: bool
    name: str
    free: str
    locked: str
    freeze: str
    withdrawing: str
    ipoing: str
    ipoable: str
    storage: str
    isLegalMoney: bool
    trading: bool
    networkList: list[object]


class DapiExchangeInfo(msgspec.Struct, kw_only=True):
    timezone: str
    serverTime: int
    rateLimits: list[object]
    exchangeFilters: list[object]
    symbols: list[object]


class SapiRest:
    """``/sapi`` on the spot host."""

    def __init__(self, core: BinanceCore) -> None:
        self.core = core

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", "/sapi/v1/capital/config/getall", "SIGNED", 10, self.coins),
            # MARKET_DATA (API key); ccxt signs it anyway, and the signature fields are then read.
            Endpoint("GET", "/sapi/v1/margin/allPairs", "USER_STREAM", 1, lambda c: [], _PAIRS_PARAMS),
            Endpoint("GET", "/sapi/v1/margin/isolated/allPairs", "SIGNED", 10, lambda c: [], frozenset({"symbol"})),
        ]

    def coins(self, call: Call) -> object:
        balances = self.core.venue.spot_balances(self.core.account)
        assets: set[str] = set(balances)
        for spec in self.core.specs["spot"].values():
            assets.update((spec.base, spec.quote))
        zero = spot(Decimal(0))
        out = []
        for asset in sorted(assets):
            free, locked = balances.get(asset, (None, None))
            out.append(
                CoinInfo(
                    coin=asset,
                    depositAllEnable=False,
                    withdrawAllEnable=False,
                    name=asset,
                    free=spot(free) if free is not None else zero,
                    locked=spot(locked) if locked is not None else zero,
                    freeze=zero,
                    withdrawing=zero,
                    ipoing=zero,
                    ipoable=zero,
                    storage=zero,
                    isLegalMoney=False,
                    trading=True,
                    networkList=[],
                )
            )
        return out


class DapiRest:
    """``/dapi/v1/exchangeInfo`` and ``/fapi/v1/openAlgoOrders`` on the futures host."""

    def __init__(self, core: BinanceCore) -> None:
        self.core = core

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", "/dapi/v1/exchangeInfo", "NONE", 1, self.dapi_exchange_info),
            Endpoint(
                "GET",
                "/fapi/v1/openAlgoOrders",
                "SIGNED",
                lambda p: 1 if p.raw("symbol") else 40,
                self.open_algo_orders,
                frozenset({"symbol", "algoType", "algoId"}),
            ),
        ]

    def dapi_exchange_info(self, call: Call) -> object:
        return DapiExchangeInfo(timezone="UTC", serverTime=call.now_ms, rateLimits=[], exchangeFilters=[], symbols=[])

    def open_algo_orders(self, call: Call) -> object:
        symbol = call.params.opt_str("symbol")
        if symbol is not None:
            self.core.spec("futures", symbol)
        return []
