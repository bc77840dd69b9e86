"""The venue's own times for what a REST account snapshot says, so a reader can order it
against user-stream updates (see docs/runner.md, "The account never moves backwards").

An adapter whose venue stamps its REST account implements :class:`TimedAccountSource`; the
runner's account actor then compares, per asset, these times with the stream's (Binance:
``ACCOUNT_UPDATE.T``, ``outboundAccountPosition.u``) and keeps the newer information.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from strategy_client.model import AccountSnapshot

__all__ = ["AccountAsOf", "TimedAccountSource"]


class AccountAsOf(msgspec.Struct, frozen=True, kw_only=True):
    """Venue times (ms, venue clock) of a REST account snapshot; 0 = the venue gave none.

    ``balances_ms``: the spot balances, all assets (Binance ``GET /api/v3/account``
    ``updateTime``: the account's last update). ``margin_ms``: per margin asset (Binance
    ``GET /fapi/v3/account`` ``assets[].updateTime``)."""

    balances_ms: int = 0
    margin_ms: dict[str, int] = {}


@runtime_checkable
class TimedAccountSource(Protocol):
    async def fetch_account_asof(self) -> tuple[AccountSnapshot, AccountAsOf]: ...
