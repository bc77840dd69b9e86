"""tradebus strategy client: the library strategies and research code import.

Notebook / script (blocking)::

    import strategy_client
    client = strategy_client.connect()            # runners found in Redis ($REDIS_URL)
    client.get_reference_price("binance:perp:BTCUSDT")

asyncio::

    from strategy_client import ZmqRouter
    async with ZmqRouter() as api:
        await api.get_reference_price("binance:perp:BTCUSDT")
        async with await api.subscribe(kinds="exec") as events:
            async for item in events: ...

The names below are imported on first use, so ``import strategy_client.model`` (which the
runner and the simulators do) stays cheap. This package imports nothing from
``exchange_runner`` or ``exchanges``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .command_client import ZmqCommandClient
    from .core_api import CoreApi
    from .discovery import DEFAULT_REDIS_URL, discover_all, discover_service
    from .errors import (
        AmbiguousRoute,
        BadReply,
        CoreApiError,
        DiscoveryError,
        InvalidRequest,
        NotFound,
        OutcomeUnknown,
        ProtocolMismatch,
        RequestTimeout,
        RunnerInternalError,
        RunnerUnavailable,
        VenueRejected,
        VenueUnavailable,
    )
    from .events import EventFilter, EventItem, EventQueue, Gap, Received, Snapshot
    from .records import EventList, to_record, to_records
    from .router import RunnerApi, ZmqRouter
    from .subscriber import ZmqEventSubscriber
    from .subscription import Subscription
    from .sync_client import Client, SyncApi, SyncSubscription, connect

_EXPORTS: dict[str, str] = {
    "ZmqCommandClient": ".command_client",
    "CoreApi": ".core_api",
    "DEFAULT_REDIS_URL": ".discovery",
    "discover_all": ".discovery",
    "discover_service": ".discovery",
    "AmbiguousRoute": ".errors",
    "BadReply": ".errors",
    "CoreApiError": ".errors",
    "DiscoveryError": ".errors",
    "InvalidRequest": ".errors",
    "NotFound": ".errors",
    "OutcomeUnknown": ".errors",
    "ProtocolMismatch": ".errors",
    "RequestTimeout": ".errors",
    "RunnerInternalError": ".errors",
    "RunnerUnavailable": ".errors",
    "VenueRejected": ".errors",
    "VenueUnavailable": ".errors",
    "EventFilter": ".events",
    "EventItem": ".events",
    "EventQueue": ".events",
    "Gap": ".events",
    "Received": ".events",
    "Snapshot": ".events",
    "EventList": ".records",
    "to_record": ".records",
    "to_records": ".records",
    "RunnerApi": ".router",
    "ZmqRouter": ".router",
    "ZmqEventSubscriber": ".subscriber",
    "Subscription": ".subscription",
    "Client": ".sync_client",
    "SyncApi": ".sync_client",
    "SyncSubscription": ".sync_client",
    "connect": ".sync_client",
}

__all__ = [
    "__version__",
    "ZmqCommandClient",
    "CoreApi",
    "DEFAULT_REDIS_URL",
    "discover_all",
    "discover_service",
    "AmbiguousRoute",
    "BadReply",
    "CoreApiError",
    "DiscoveryError",
    "InvalidRequest",
    "NotFound",
    "OutcomeUnknown",
    "ProtocolMismatch",
    "RequestTimeout",
    "RunnerInternalError",
    "RunnerUnavailable",
    "VenueRejected",
    "VenueUnavailable",
    "EventFilter",
    "EventItem",
    "EventQueue",
    "Gap",
    "Received",
    "Snapshot",
    "EventList",
    "to_record",
    "to_records",
    "RunnerApi",
    "ZmqRouter",
    "ZmqEventSubscriber",
    "Subscription",
    "Client",
    "SyncApi",
    "SyncSubscription",
    "connect",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'strategy_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
