"""Binance error replies the offline venue sends: ``{"code": .., "msg": ..}`` plus HTTP status.

Codes and messages follow the reference (§5) per product; :func:`from_reject` maps the
engine's venue-neutral :class:`~exchanges.sim.engine.errors.RejectReason` to them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from exchanges.sim.engine.errors import RejectReason, SimReject

from .numbers import plain

__all__ = [
    "Product",
    "BinanceApiError",
    "mandatory",
    "illegal_chars",
    "bad_symbol",
    "unknown_order_cancel",
    "no_such_order",
    "from_reject",
    "DECIMAL_RANGE",
    "INT_RANGE",
]

Product = Literal["spot", "futures"]

DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
INT_RANGE = "^[0-9]{1,20}$"


class BinanceApiError(Exception):
    """A request the venue refuses; rendered as ``{"code","msg"}`` with ``http_status``.

    ``retry_after_s`` adds a ``Retry-After`` header (429/418); ``retry_after_ms`` is the epoch
    ms a WS-API error carries in ``error.data.retryAfter``.
    """

    def __init__(
        self,
        code: int,
        msg: str,
        http_status: int = 400,
        *,
        retry_after_s: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.retry_after_ms = retry_after_ms


def mandatory(name: str) -> BinanceApiError:
    return BinanceApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal_chars(name: str, legal: str) -> BinanceApiError:
    return BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def bad_symbol() -> BinanceApiError:
    return BinanceApiError(-1121, "Invalid symbol.")


def unknown_order_cancel() -> BinanceApiError:
    return BinanceApiError(-2011, "Unknown order sent.")


def no_such_order() -> BinanceApiError:
    return BinanceApiError(-2013, "Order does not exist.")


def _spot_filter(name: str) -> BinanceApiError:
    return BinanceApiError(-1013, f"Filter failure: {name}")


def from_reject(
    product: Product,
    reject: SimReject,
    *,
    is_market: bool = False,
    is_buy: bool = True,
    min_notional: Decimal | None = None,
    for_cancel: bool = False,
) -> BinanceApiError:
    """The Binance error for an engine refusal, per product.

    Futures filter refusals that the dialect did not already classify more precisely (see
    ``order_entry``) fall back to the nearest documented -4xxx code.
    """
    reason = reject.reason
    if reason is RejectReason.UNKNOWN_SYMBOL:
        return bad_symbol()
    if reason is RejectReason.UNKNOWN_ORDER:
        return unknown_order_cancel() if for_cancel else no_such_order()
    if product == "spot":
        return _spot_reject(reason, is_market=is_market)
    return _futures_reject(reason, is_market=is_market, is_buy=is_buy, min_notional=min_notional)


def _spot_reject(reason: RejectReason, *, is_market: bool) -> BinanceApiError:
    lot = "MARKET_LOT_SIZE" if is_market else "LOT_SIZE"
    match reason:
        case RejectReason.INVALID_QTY:
            return BinanceApiError(-1013, "Invalid quantity.")
        case RejectReason.INVALID_PRICE:
            return BinanceApiError(-1013, "Invalid price.")
        case RejectReason.LOT_SIZE | RejectReason.MAX_QTY:
            return _spot_filter(lot)
        case RejectReason.PRICE_FILTER:
            return _spot_filter("PRICE_FILTER")
        case RejectReason.MIN_NOTIONAL:
            return _spot_filter("NOTIONAL")
        case RejectReason.PERCENT_PRICE:
            return _spot_filter("PERCENT_PRICE_BY_SIDE")
        case RejectReason.MAX_OPEN_ORDERS:
            return _spot_filter("MAX_NUM_ORDERS")
        case RejectReason.INSUFFICIENT_BALANCE | RejectReason.INSUFFICIENT_MARGIN:
            return BinanceApiError(-2010, "Account has insufficient balance for requested action.")
        case RejectReason.POST_ONLY_WOULD_TAKE:
            return BinanceApiError(-2010, "Order would immediately match and take.")
        case RejectReason.DUPLICATE_CLIENT_ID:
            return BinanceApiError(-2010, "Duplicate order sent.")
        case RejectReason.FOK_NOT_FILLABLE:
            return BinanceApiError(-2010, "Order could not be filled in full.")
        case _:
            return BinanceApiError(-2010, "Unsupported order combination")


def _futures_reject(
    reason: RejectReason, *, is_market: bool, is_buy: bool, min_notional: Decimal | None
) -> BinanceApiError:
    match reason:
        case RejectReason.INVALID_QTY:
            return BinanceApiError(-4003, "Quantity less than or equal to zero.")
        case RejectReason.INVALID_PRICE:
            return BinanceApiError(-4001, "Price less than 0.")
        case RejectReason.LOT_SIZE:
            return BinanceApiError(-4023, "Qty not increased by step size.")
        case RejectReason.MAX_QTY:
            return BinanceApiError(-4005, "Quantity greater than max quantity.")
        case RejectReason.PRICE_FILTER:
            return BinanceApiError(-4014, "Price not increased by tick size.")
        case RejectReason.MIN_NOTIONAL:
            floor = plain(min_notional) if min_notional is not None else "5"
            return BinanceApiError(
                -4164, f"Order's notional must be no smaller than {floor} (unless you choose reduce only)."
            )
        case RejectReason.PERCENT_PRICE:
            if is_market:
                return BinanceApiError(
                    -4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit."
                )
            if is_buy:
                return BinanceApiError(-4016, "Price is higher than mark price multiplier cap.")
            return BinanceApiError(-4024, "Price is lower than mark price multiplier floor.")
        case RejectReason.MAX_OPEN_ORDERS:
            return BinanceApiError(-2025, "Reach max open order limit.")
        case RejectReason.INSUFFICIENT_BALANCE | RejectReason.INSUFFICIENT_MARGIN:
            return BinanceApiError(-2019, "Margin is insufficient.")
        case RejectReason.POST_ONLY_WOULD_TAKE:
            return BinanceApiError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                "The order will not be recorded in the order history",
            )
        case RejectReason.FOK_NOT_FILLABLE:
            return BinanceApiError(
                -5021,
                "Due to the order could not be filled immediately, the FOK order has been rejected. "
                "The order will not be recorded in the order history",
            )
        case RejectReason.REDUCE_ONLY_REJECTED:
            return BinanceApiError(-2022, "ReduceOnly Order is rejected.")
        case RejectReason.DUPLICATE_CLIENT_ID:
            return BinanceApiError(-4116, "ClientOrderId is duplicated.")
        case RejectReason.INVALID_LEVERAGE:
            return BinanceApiError(-4028, "Leverage is not valid")
        case _:
            return BinanceApiError(-1014, "Unsupported order combination.")
