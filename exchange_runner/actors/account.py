"""AccountManager: the account snapshot (balances, margin) of this runner's venue.

A background fetch fills the cache at start; balance patches from the user stream update it;
a reconcile every ``interval`` merges the venue's REST view into it. Every change is broadcast.

The account never moves backwards (docs/runner.md): for each asset (spot balance, margin asset)
the actor keeps the venue time of the value it holds. A stream patch older than it is ignored;
a REST snapshot replaces an asset only when its venue time (:class:`AccountAsOf`, from an adapter
that is a :class:`TimedAccountSource`) is not older than the held one. A REST snapshot without
venue times (paper, Bybit, OKX adapters) does not replace an asset a stream patch changed after
the fetch was sent: the patch may be newer than the read. Ignored values are counted
(``stale_ignored``). A margin patch that carries the wallet balance only (Binance's
ACCOUNT_UPDATE: no margin balance, available, initial or maintenance margin) is followed by a
REST read ``PATCH_REFRESH_S`` later (one pending at a time), so those figures follow a fill within
a second instead of waiting for the next reconcile.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from loguru import logger

from exchanges.account_times import AccountAsOf, TimedAccountSource
from exchanges.base import AccountUpdate, ExchangeAdapter
from strategy_client.model import AccountSnapshot, Balance, MarginBalance
from strategy_client.wire import AccountEvent, AccountReply, GetAccountSnapshot, Query, TopicKind

from ..publisher import Publisher
from .base import Actor, mapped

__all__ = ["AccountManager", "RefreshAccount", "AccountPatch", "PATCH_REFRESH_S"]

PATCH_REFRESH_S = 0.5


class RefreshAccount(Query[AccountSnapshot], frozen=True):
    """Fetch the venue's account now and merge it: answers the snapshot held after the merge."""

    reason: str = "periodic"


class AccountPatch(msgspec.Struct, frozen=True):
    update: AccountUpdate


class _Fetched(msgspec.Struct):
    snapshot: AccountSnapshot
    asof: AccountAsOf | None  # None: the venue's REST account has no times
    sent_after: int  # the patch counter when the fetch was sent


_Key = tuple[str, str]  # ("balance" | "margin", asset)


Msg = GetAccountSnapshot | RefreshAccount | AccountPatch | _Fetched


def _account_reply(snapshot: AccountSnapshot) -> AccountReply:
    return AccountReply(account=snapshot)


class AccountManager(Actor[Msg]):
    ANSWERS = (GetAccountSnapshot,)

    def __init__(self, adapter: ExchangeAdapter, publisher: Publisher, *, paper: bool = False) -> None:
        super().__init__("account")
        self.adapter = adapter
        self.publisher = publisher
        self.paper = paper
        self.snapshot: AccountSnapshot | None = None
        self._pending: list[asyncio.Future[AccountSnapshot]] = []
        self.fetches = 0
        self.stale_ignored = 0  # asset values dropped as older than the one held
        self._asof: dict[_Key, int] = {}  # venue time (ms) of the value held, per asset
        self._patched: dict[_Key, int] = {}  # patch counter when a stream patch last set the asset
        self._patches = 0
        self._refresh_pending = False

    def _handle(self, msg: Msg) -> Any:
        if isinstance(msg, GetAccountSnapshot):
            if self.snapshot is not None:
                return AccountReply(account=self.snapshot)
            return mapped(self._refresh("first use"), _account_reply)
        if isinstance(msg, RefreshAccount):
            return self._refresh(msg.reason)
        if isinstance(msg, AccountPatch):
            self._patch(msg.update)
            if any(m.margin_balance == 0 for m in msg.update.margin):
                self._refresh_soon()  # wallet only: the margin figures come from REST
            return None
        if isinstance(msg, _Fetched):
            snap = self._merge_fetched(msg)
            self._broadcast("reconcile")
            for fut in self._pending:
                if not fut.done():
                    fut.set_result(snap)
            self._pending.clear()
            return None
        raise TypeError(f"unexpected message {type(msg).__name__}")

    def _refresh_soon(self) -> None:
        if self._refresh_pending:
            return
        self._refresh_pending = True

        async def run() -> None:
            await asyncio.sleep(PATCH_REFRESH_S)
            self._refresh_pending = False
            await self.tell(RefreshAccount("a margin patch without margin figures"))

        self.spawn(run(), "refresh-soon")

    def _refresh(self, reason: str) -> asyncio.Future[AccountSnapshot]:
        fut: asyncio.Future[AccountSnapshot] = asyncio.get_running_loop().create_future()
        self._pending.append(fut)
        if len(self._pending) == 1:
            self.spawn(self._fetch(), f"fetch:{reason}")
        return fut

    async def _fetch(self) -> None:
        sent_after = self._patches
        asof: AccountAsOf | None = None
        try:
            if isinstance(self.adapter, TimedAccountSource):
                snap, asof = await self.adapter.fetch_account_asof()
            else:
                snap = await self.adapter.fetch_account()
        except Exception as exc:  # noqa: BLE001 - given to every waiting caller
            logger.warning("account fetch failed: {}", exc)
            pending, self._pending = self._pending, []
            for fut in pending:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.fetches += 1
        await self.tell(_Fetched(snap, asof, sent_after))

    def _newer(self, key: _Key, venue_ms: int) -> bool:
        """A stream value at ``venue_ms`` (0: no time) may replace the held one."""
        if venue_ms and venue_ms < self._asof.get(key, 0):
            self.stale_ignored += 1
            logger.info("account: stream {} {} at {} is older than the held value ({}); ignored",
                        key[0], key[1], venue_ms, self._asof[key])  # fmt: skip
            return False
        self._patches += 1
        self._patched[key] = self._patches
        if venue_ms:
            self._asof[key] = venue_ms
        return True

    def _patch(self, upd: AccountUpdate) -> None:
        snap = self.snapshot or AccountSnapshot(exchange=upd.exchange)
        balances = {b.asset: b for b in snap.balances}
        changed = False
        for b in upd.balances:
            if self._newer(("balance", b.asset), upd.venue_ts_ms):
                balances[b.asset] = b
                changed = True
        margin = {m.asset: m for m in snap.margin}
        for m in upd.margin:
            if self._newer(("margin", m.asset), upd.venue_ts_ms):
                old = margin.get(m.asset)
                margin[m.asset] = _merge_margin(old, m) if old else m
                changed = True
        if not changed:
            return
        self.snapshot = msgspec.structs.replace(
            snap,
            balances=tuple(sorted(balances.values(), key=lambda b: b.asset)),
            margin=tuple(sorted(margin.values(), key=lambda m: m.asset)),
            ts_ms=upd.venue_ts_ms or time.time_ns() // 1_000_000,
        )
        self._broadcast(upd.reason)

    def _keep_held(self, key: _Key, rest_ms: int, sent_after: int) -> bool:
        """Whether the held value of ``key`` is newer than the REST snapshot's."""
        # no venue time: a patch that came in after the fetch was sent may be newer than the read
        keep = rest_ms < self._asof.get(key, 0) if rest_ms else self._patched.get(key, 0) > sent_after
        if keep:
            self.stale_ignored += 1
            logger.info("account: REST {} {} is older than the stream's value; kept the stream's", key[0], key[1])
        elif rest_ms:
            self._asof[key] = rest_ms
        return keep

    def _merge_fetched(self, msg: _Fetched) -> AccountSnapshot:
        rest, held = msg.snapshot, self.snapshot
        asof = msg.asof or AccountAsOf()
        if held is None:
            for b in rest.balances:
                self._keep_held(("balance", b.asset), asof.balances_ms, msg.sent_after)
            for m in rest.margin:
                self._keep_held(("margin", m.asset), asof.margin_ms.get(m.asset, 0), msg.sent_after)
            self.snapshot = rest
            return rest
        held_b = {b.asset: b for b in held.balances}
        rest_b = {b.asset: b for b in rest.balances}
        balances: dict[str, Balance] = {}
        for asset in held_b.keys() | rest_b.keys():
            src = held_b if self._keep_held(("balance", asset), asof.balances_ms, msg.sent_after) else rest_b
            if asset in src:
                balances[asset] = src[asset]
        held_m = {m.asset: m for m in held.margin}
        rest_m = {m.asset: m for m in rest.margin}
        margin: dict[str, MarginBalance] = {}
        for asset in held_m.keys() | rest_m.keys():
            keep = self._keep_held(("margin", asset), asof.margin_ms.get(asset, 0), msg.sent_after)
            src_m = held_m if keep else rest_m
            if asset in src_m:
                margin[asset] = src_m[asset]
        self.snapshot = msgspec.structs.replace(
            rest,
            balances=tuple(sorted(balances.values(), key=lambda b: b.asset)),
            margin=tuple(sorted(margin.values(), key=lambda m: m.asset)),
        )
        return self.snapshot

    def _broadcast(self, reason: str) -> None:
        if self.snapshot is None:
            return
        self.publisher.publish(TopicKind.ACCOUNT, AccountEvent(account=self.snapshot, reason=reason, paper=self.paper))


def _merge_margin(old: MarginBalance, new: MarginBalance) -> MarginBalance:
    """A stream patch carries the wallet balance only; keep the REST-known margin figures."""
    return msgspec.structs.replace(old, wallet_balance=new.wallet_balance) if new.margin_balance == 0 else new
