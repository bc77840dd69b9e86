"""CoreApi: the one contract strategies trade through.

Calls **routed by instrument key** (the key names the exchange): ``submit_order``,
``get_position``, ``get_instrument``, ``get_reference_price``, ``get_funding_rate``,
``set_leverage``, ``get_order``. Calls that name **the exchange explicitly**:
``get_all_positions``, ``get_account_snapshot``, ``get_all_instruments``, ``get_open_orders``
(an exchange, or a key to narrow it). ``cancel_order`` needs the order's key (the venue cancels
by symbol), which names the exchange; it also takes the :class:`Order` itself.

Implementations: :class:`~strategy_client.command_client.ZmqCommandClient` (one runner),
:class:`~strategy_client.router.ZmqRouter` (every discovered runner, routed by exchange) and
:class:`~strategy_client.router.RunnerApi` (one runner by name, following its restarts).
Results are domain objects; failures raise the :mod:`strategy_client.errors` tree.
``request`` sends any command of the wire registry (:mod:`strategy_client.wire.commands`) and
returns its declared reply, routed by what the request names (else ``route``): a command added
to the registry is callable at once, with no method of its own.
Every call takes ``timeout_s`` (``None``: the implementation's default).
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

from .model import (
    AccountSnapshot,
    Exchange,
    FundingRate,
    Instrument,
    InstrumentKey,
    MarketKind,
    Order,
    OrderRequest,
    Position,
)
from .wire import BookSnapshotReply, PriceSource, Query, ReferencePrice

__all__ = ["CoreApi"]

R = TypeVar("R")


@runtime_checkable
class CoreApi(Protocol):
    # -- any command of the wire registry (strategy_client/wire/commands.py) ------------------
    async def request(
        self, request: Query[R], route: Exchange | InstrumentKey | None = None, *, timeout_s: float | None = None
    ) -> R: ...

    # -- routed by key -------------------------------------------------------------------
    async def submit_order(self, order: OrderRequest, *, timeout_s: float | None = None) -> Order: ...

    async def get_position(self, key: InstrumentKey, *, timeout_s: float | None = None) -> Position | None: ...

    async def get_instrument(self, key: InstrumentKey, *, timeout_s: float | None = None) -> Instrument: ...

    async def get_reference_price(
        self, key: InstrumentKey, source: PriceSource = PriceSource.MID, *, timeout_s: float | None = None
    ) -> ReferencePrice: ...

    async def get_funding_rate(self, key: InstrumentKey, *, timeout_s: float | None = None) -> FundingRate: ...

    async def set_leverage(self, key: InstrumentKey, leverage: int, *, timeout_s: float | None = None) -> int: ...

    async def get_order(
        self, key: InstrumentKey, *, client_id: str = "", venue_id: str = "", timeout_s: float | None = None
    ) -> Order: ...

    async def cancel_order(
        self,
        key: InstrumentKey | Order,
        *,
        client_id: str = "",
        venue_id: str = "",
        timeout_s: float | None = None,
    ) -> Order: ...

    # -- explicit exchange ---------------------------------------------------------------
    async def get_open_orders(
        self,
        target: Exchange | InstrumentKey,
        *,
        kind: MarketKind | None = None,
        timeout_s: float | None = None,
    ) -> tuple[Order, ...]: ...

    async def get_all_positions(
        self, exchange: Exchange, *, timeout_s: float | None = None
    ) -> tuple[Position, ...]: ...

    async def get_account_snapshot(self, exchange: Exchange, *, timeout_s: float | None = None) -> AccountSnapshot: ...

    async def get_all_instruments(
        self, exchange: Exchange, *, kind: MarketKind | None = None, timeout_s: float | None = None
    ) -> tuple[Instrument, ...]: ...

    async def get_book_snapshot(
        self, target: Exchange | InstrumentKey | tuple[InstrumentKey, ...], *, timeout_s: float | None = None
    ) -> BookSnapshotReply: ...
