"""AccountManager: the account snapshot (balances, margin) of this runner's venue.

A background fetch fills the cache at start; balance patches from the user stream update it;
a reconcile every ``interval`` replaces it with the venue's view. Every change is broadcast.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from loguru import logger

from exchanges.base import AccountUpdate, ExchangeAdapter
from strategy_client.model import AccountSnapshot, MarginBalance
from strategy_client.wire import AccountEvent, TopicKind

from ..publisher import Publisher
from .base import Actor

__all__ = ["AccountManager", "GetAccount", "RefreshAccount", "AccountPatch"]


class GetAccount(msgspec.Struct, frozen=True):
    pass


class RefreshAccount(msgspec.Struct, frozen=True):
    reason: str = "periodic"


class AccountPatch(msgspec.Struct, frozen=True):
    update: AccountUpdate


class _Fetched(msgspec.Struct):
    snapshot: AccountSnapshot


Msg = GetAccount | RefreshAccount | AccountPatch | _Fetched


class AccountManager(Actor[Msg]):
    def __init__(self, adapter: ExchangeAdapter, publisher: Publisher, *, paper: bool = False) -> None:
        super().__init__("account")
        self.adapter = adapter
        self.publisher = publisher
        self.paper = paper
        self.snapshot: AccountSnapshot | None = None
        self._pending: list[asyncio.Future[AccountSnapshot]] = []
        self.fetches = 0

    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, GetAccount):
            if self.snapshot is not None:
                return self.snapshot
            return self._refresh("first use")
        if isinstance(msg, RefreshAccount):
            return self._refresh(msg.reason)
        if isinstance(msg, AccountPatch):
            self._patch(msg.update)
            return None
        if isinstance(msg, _Fetched):
            self.snapshot = msg.snapshot
            self._broadcast("reconcile")
            for fut in self._pending:
                if not fut.done():
                    fut.set_result(msg.snapshot)
            self._pending.clear()
            return None
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _refresh(self, reason: str) -> asyncio.Future[AccountSnapshot]:
        fut: asyncio.Future[AccountSnapshot] = asyncio.get_running_loop().create_future()
        self._pending.append(fut)
        if len(self._pending) == 1:
            self.spawn(self._fetch(), f"fetch:{reason}")
        return fut

    async def _fetch(self) -> None:
        try:
            snap = await self.adapter.fetch_account()
        except Exception as exc:  # noqa: BLE001 - given to every waiting caller
            logger.warning("account fetch failed: {}", exc)
            pending, self._pending = self._pending, []
            for fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.fetches += 1
        await self.tell(_Fetched(snap))

    def _patch(self, upd: AccountUpdate) -> None:
        snap = self.snapshot or AccountSnapshot(exchange=upd.exchange)
        balances = {b.asset: b for b in snap.balances}
        for b in upd.balances:
            balances[b.asset] = b
        margin = {m.asset: m for m in snap.margin}
        for m in upd.margin:
            old = margin.get(m.asset)
            margin[m.asset] = _merge_margin(old, m) if old else m
        self.snapshot = msgspec.structs.replace(
            snap,
            balances=tuple(sorted(balances.values(), key=lambda b: b.asset)),
            margin=tuple(sorted(margin.values(), key=lambda m: m.asset)),
            ts_ms=upd.venue_ts_ms or time.time_ns() // 1_000_000,
        )
        self._broadcast(upd.reason)

    def _broadcast(self, reason: str) -> None:
        if self.snapshot is None:
            return
        self.publisher.publish(TopicKind.ACCOUNT, AccountEvent(account=self.snapshot, reason=reason, paper=self.paper))


def _merge_margin(old: MarginBalance, new: MarginBalance) -> MarginBalance:
    """A stream patch carries the wallet balance only; keep the REST-known margin figures."""
    return msgspec.structs.replace(old, wallet_balance=new.wallet_balance) if new.margin_balance == 0 else new
