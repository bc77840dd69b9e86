"""The command processor: runs what the outbox holds, exactly once across gateway restarts.

Pushed and polled: the API pushes a new command's id onto a bounded queue (full: the push is
dropped and counted — the poll finds the command anyway), and the processor reads the outbox at
start and every ``poll_s``. A command is claimed by an atomic ``accepted → running`` update;
one found ``running`` at start was interrupted (a crash) and is re-run the safe way:

* an order: its client id is derived from the command id, so the processor first asks the
  runner for that client id — found: the order exists, the command succeeded; not found: it is
  submitted (and should the first attempt have reached the runner meanwhile, the runner refuses
  the duplicate client id, which the processor answers by looking the order up);
* an order whose answer was lost is ``unknown`` (never resent); the poll looks it up by client
  id and settles the command when the runner knows the order's fate;
* cancels, leverage, trading states and the kill switch give the same result run twice.

``TRADEBUS_GATEWAY_TEST_HOLD`` (tests only): ``accepted`` — run nothing; ``sent`` — stop after
the runner answered, before the outbox is updated (a kill -9 there is the worst moment).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from strategy_client import ZmqRouter
from strategy_client.errors import CoreApiError, ErrorCode, NotFound, OutcomeUnknown
from strategy_client.model import FINAL_STATUSES, Exchange, InstrumentKey, Order, OrderRequest, OrderStatus, RejectCode
from strategy_client.wire import ReconcileNow

from .db import Db
from .models import (
    CancelAllTicket,
    CancelTicket,
    CommandStatus,
    CommandView,
    KillSwitchTicket,
    LeverageTicket,
    OrderTicket,
    Problem,
    SyncTicket,
    TradingStateTicket,
)
from .problems import ApiError, from_core
from .routing import runner_for, runners_matching
from .store import GatewayStore, StoreError

__all__ = ["Processor", "HOLD_ENV", "order_request"]

log = logging.getLogger("gateway.processor")

HOLD_ENV = "TRADEBUS_GATEWAY_TEST_HOLD"
PUSH_CAPACITY = 1024
MAX_WATCHED = 4096  # commands a ?wait= may be waiting on at once


class _Unknown(Exception):
    """The command's outcome is not known (an order's answer was lost)."""

    def __init__(self, result: Any, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.result = result
        self.problem = problem


def order_request(ticket: OrderTicket, client_id: str = "") -> OrderRequest:
    return OrderRequest(
        key=InstrumentKey.parse(ticket.key),
        side=ticket.side,
        type=ticket.type,
        qty=ticket.qty,
        price=ticket.price,
        tif=ticket.tif,
        reduce_only=ticket.reduce_only,
        client_id=client_id,
    )


class Processor:
    def __init__(
        self, router: ZmqRouter, store: GatewayStore, db: Db, *, poll_s: float = 1.0, timeout_s: float = 10.0
    ) -> None:
        self.router = router
        self.store = store
        self.db = db
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.hold = os.environ.get(HOLD_ENV, "")
        self._push: asyncio.Queue[str] = asyncio.Queue(PUSH_CAPACITY)
        self._done: dict[str, asyncio.Event] = {}
        self.pushes_dropped = 0
        self.executed = 0
        self.recovered = 0
        self.store_errors = 0
        self._executors: dict[str, Callable[[CommandView], Awaitable[Any]]] = {
            "submit_order": self._submit,
            "cancel_order": self._cancel,
            "cancel_all": self._cancel_all,
            "set_leverage": self._leverage,
            "set_trading_state": self._trading_state,
            "kill_switch": self._kill_switch,
            "sync": self._sync,
        }

    def kinds(self) -> frozenset[str]:
        return frozenset(self._executors)

    def push(self, command_id: str) -> None:
        try:
            self._push.put_nowait(command_id)
        except asyncio.QueueFull:
            self.pushes_dropped += 1  # the poll runs it

    def watch(self, command_id: str) -> asyncio.Event:
        """An event set when the processor finishes ``command_id`` (``?wait=``). Watch first,
        then read the command's status: a command that finished in between is not missed.
        Bounded: past ``MAX_WATCHED`` the oldest watches are forgotten (their waiters time out)."""
        if len(self._done) >= MAX_WATCHED and command_id not in self._done:
            for stale in list(self._done)[: MAX_WATCHED // 2]:
                del self._done[stale]
        return self._done.setdefault(command_id, asyncio.Event())

    async def run(self) -> None:
        if self.hold == "accepted":
            log.warning("gateway: %s=accepted: the command processor runs nothing (tests only)", HOLD_ENV)
            await asyncio.Event().wait()
        due = True  # at start: what a previous run accepted or was running
        while True:
            try:
                if due:
                    await self._poll()
                due = False
                async with asyncio.timeout(self.poll_s):
                    command_id = await self._push.get()
                await self._run_one(command_id, CommandStatus.ACCEPTED)
            except TimeoutError:
                due = True
            except StoreError as exc:  # the database is down: the outbox keeps the commands
                self.store_errors += 1
                log.error("gateway: command processor: %s; polling again in %.0f s", exc, self.poll_s)
                await asyncio.sleep(self.poll_s)
                due = True

    async def _poll(self) -> None:
        for cmd in await self.db.call(self.store.open_commands):
            if cmd.status is CommandStatus.RUNNING:
                self.recovered += 1
                log.warning(
                    "gateway: command %s (%s) was running when the gateway stopped: re-run safely", cmd.id, cmd.kind
                )
            await self._run_one(cmd.id, cmd.status)
        for cmd in await self.db.call(self.store.unknown_commands):
            await self._settle_unknown(cmd)

    async def _run_one(self, command_id: str, expect: CommandStatus) -> None:
        if not await self.db.call(self.store.claim, command_id, expect):
            return  # already taken (a push and a poll of the same command)
        cmd = await self.db.call(self.store.get, command_id)
        if cmd is None:
            return
        status, result, problem = CommandStatus.SUCCEEDED, None, None
        try:
            result = await self._executors[cmd.kind](cmd)
        except _Unknown as unk:
            status, result, problem = CommandStatus.UNKNOWN, unk.result, unk.problem
        except ApiError as err:
            status, problem = CommandStatus.FAILED, err.problem
        except CoreApiError as exc:
            status, problem = CommandStatus.FAILED, from_core(exc).problem
        except (KeyError, msgspec.ValidationError) as exc:  # an outbox row this code cannot read
            status, problem = CommandStatus.FAILED, ApiError("internal", f"command {cmd.kind!r}: {exc}").problem
        if self.hold == "sent":
            log.warning("gateway: %s=sent: command %s answered, outbox not updated (tests only)", HOLD_ENV, cmd.id)
            await asyncio.Event().wait()
        await self.db.call(self.store.finish, cmd.id, status, _plain(result), problem)
        self.executed += 1
        ev = self._done.pop(cmd.id, None)
        if ev is not None:
            ev.set()

    # -- executors ------------------------------------------------------------------------
    def _exchange_of(self, name: str) -> Exchange:
        rec = self.router.runners().get(name)
        if rec is None:
            raise ApiError("not_found", f"no runner named {name!r} is registered")
        return rec.exchange

    async def _submit(self, cmd: CommandView) -> Any:
        ticket = msgspec.convert(cmd.request, OrderTicket)
        req = order_request(ticket, cmd.client_id)
        api = self.router.runner(runner_for(self.router, req.key.exchange, ticket.runner))
        if cmd.attempts > 1:  # interrupted before: did the order reach the runner?
            try:
                return await api.get_order(req.key, client_id=cmd.client_id, timeout_s=self.timeout_s)
            except NotFound:
                pass
        try:
            return await api.submit_order(req, timeout_s=self.timeout_s)
        except OutcomeUnknown as exc:
            raise _Unknown({"client_id": cmd.client_id, "key": ticket.key}, from_core(exc).problem) from exc
        except CoreApiError as exc:
            if exc.reject_code is RejectCode.DUPLICATE_CLIENT_ID or "duplicate_client_id" in str(exc):
                return await api.get_order(req.key, client_id=cmd.client_id, timeout_s=self.timeout_s)
            raise

    async def _settle_unknown(self, cmd: CommandView) -> None:
        """An ``unknown`` order command: settled once the runner knows the order's fate — a
        submit when the order is no longer PENDING/UNKNOWN, a cancel when the order is final."""
        if cmd.kind == "submit_order":
            t: OrderTicket | CancelTicket = msgspec.convert(cmd.request, OrderTicket)
            client_id, venue_id = cmd.client_id, ""
        elif cmd.kind == "cancel_order":
            t = msgspec.convert(cmd.request, CancelTicket)
            client_id, venue_id = t.client_id, t.venue_id
        else:
            return
        key = InstrumentKey.parse(t.key)
        try:
            api = self.router.runner(runner_for(self.router, key.exchange, t.runner))
            order = await api.get_order(key, client_id=client_id, venue_id=venue_id, timeout_s=self.timeout_s)
        except (CoreApiError, ApiError):
            return  # not known (yet), or the runner is away: it stays unknown, asked again at the next poll
        if order.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING):
            return
        if cmd.kind == "cancel_order" and order.status not in FINAL_STATUSES:
            return
        await self.db.call(self.store.finish, cmd.id, CommandStatus.SUCCEEDED, _plain(order), None)

    async def _cancel(self, cmd: CommandView) -> Any:
        t = msgspec.convert(cmd.request, CancelTicket)
        key = InstrumentKey.parse(t.key)
        api = self.router.runner(runner_for(self.router, key.exchange, t.runner))
        try:
            return await api.cancel_order(key, client_id=t.client_id, venue_id=t.venue_id, timeout_s=self.timeout_s)
        except OutcomeUnknown as exc:
            raise _Unknown({"client_id": t.client_id, "venue_id": t.venue_id}, from_core(exc).problem) from exc

    async def _cancel_all(self, cmd: CommandView) -> Any:
        t = msgspec.convert(cmd.request, CancelAllTicket)
        key = InstrumentKey.parse(t.key) if t.key else None
        canceled: list[Order] = []
        errors: dict[str, str] = {}
        for name in runners_matching(self.router, runner=t.runner, exchange=t.exchange, key=key):
            api = self.router.runner(name)
            exchange = self._exchange_of(name)
            try:
                orders = await api.get_open_orders(key or exchange, timeout_s=self.timeout_s)
            except CoreApiError as exc:
                errors[name] = str(exc)
                continue
            for o in orders:
                if o.status in FINAL_STATUSES:
                    continue
                try:
                    canceled.append(await api.cancel_order(o, timeout_s=self.timeout_s))
                except CoreApiError as exc:
                    errors[f"{name}:{o.client_id}"] = str(exc)
        return {"canceled": canceled, "errors": errors}

    async def _leverage(self, cmd: CommandView) -> Any:
        t = msgspec.convert(cmd.request, LeverageTicket)
        key = InstrumentKey.parse(t.key)
        api = self.router.runner(runner_for(self.router, key.exchange, t.runner))
        return {"key": t.key, "leverage": await api.set_leverage(key, t.leverage, timeout_s=self.timeout_s)}

    async def _trading_state(self, cmd: CommandView) -> Any:
        t = msgspec.convert(cmd.request, TradingStateTicket)
        out: dict[str, Any] = {}
        names = [t.runner] if t.runner else sorted(self.router.runners())
        if not names:
            raise ApiError("no_runner", "no runner is registered")
        for name in names:
            api = self.router.runner(name)
            exchange = self._exchange_of(name)
            try:
                reply = await api.set_trading_state(
                    exchange, t.state, reason=t.reason, force=t.force, timeout_s=self.timeout_s
                )
                out[name] = reply
            except CoreApiError as exc:
                if t.runner:
                    raise
                out[name] = {"error": from_core(exc).problem}
        return out

    async def _kill_switch(self, cmd: CommandView) -> Any:
        t = msgspec.convert(cmd.request, KillSwitchTicket)
        results = await self.router.kill_switch(t.reason, timeout_s=self.timeout_s)
        return {
            name: (r if not isinstance(r, CoreApiError) else {"error": from_core(r).problem})
            for name, r in results.items()
        }

    async def _sync(self, cmd: CommandView) -> Any:
        t = msgspec.convert(cmd.request, SyncTicket)
        api = self.router.runner(t.runner)
        try:
            return await api.request(ReconcileNow(exchange=self._exchange_of(t.runner)), timeout_s=self.timeout_s)
        except CoreApiError as exc:
            if exc.code is ErrorCode.UNKNOWN_METHOD:
                raise ApiError(
                    "not_implemented", f"runner {t.runner} predates the reconcile command: upgrade it", status=501
                ) from exc
            raise


def _plain(value: Any) -> Any:
    """A JSON-able copy (decimals as strings) of an executor's result."""
    return None if value is None else msgspec.json.decode(msgspec.json.encode(value))
