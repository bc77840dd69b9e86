"""The command registry: every request a runner serves, declared once.

A request is a wire message (:mod:`.messages`) that subclasses :class:`Query` parametrised with
its reply type, and carries a :func:`command` decorator saying how it is served::

    @command(route=Routing.INSTRUMENT, scope=Scope.MARKET)
    class GetFundingRate(_Req, Query[FundingReply], frozen=True, tag="get_funding_rate"):
        key: InstrumentKey

From that one declaration (a :class:`CommandSpec` in :data:`COMMANDS`):

* the runner's dispatch (``exchange_runner/service.py``) checks the route (the instrument or
  the exchange the request names) and hands the request itself to the actor that declared it
  answers it (``ANSWERS``); the actor's answer is the reply;
* the client's ``request()`` (async :class:`~strategy_client.api_calls.CoreApiCalls`, the sync
  facade) routes it, and checks the reply against the declared type;
* the runner's permission check (``strategy_client/security/access.py``) takes the role;
* the command client says "outcome unknown" for an unanswered non-idempotent command, and a
  paper session (``strategies/paper.py``) passes ``Scope.MARKET`` commands to the runners.

:class:`Query` is also the base of an actor's internal messages: ``Actor.ask(msg)`` is typed
by it (``ask(GetFundingRate(...))`` is a ``FundingReply``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar, get_args, get_origin

import msgspec

from ..model import Exchange, InstrumentKey

__all__ = [
    "Query",
    "Permission",
    "Routing",
    "Scope",
    "CommandSpec",
    "COMMANDS",
    "BY_METHOD",
    "command",
    "spec_of",
]

R = TypeVar("R", covariant=True)
T = TypeVar("T", bound=type[msgspec.Struct])


class Query(msgspec.Struct, Generic[R], frozen=True):
    """A message answered with an ``R`` (a request: its reply type; an actor message: its answer)."""


class Permission(StrEnum):
    """The role a client key needs (``docs/security.md``); each includes the one before."""

    READ = "read"  # queries, subscriptions
    TRADE = "trade"  # submit and cancel orders
    ADMIN = "admin"  # leverage, risk limits, trading state


class Routing(StrEnum):
    """What names the runner a request goes to."""

    INSTRUMENT = "instrument"  # the request's ``key`` (its exchange)
    ORDER = "order"  # the instrument of the request's ``order`` (``order.key``)
    EXCHANGE = "exchange"  # the request's ``exchange``
    CALLER = "caller"  # the caller names the exchange beside the request


class Scope(StrEnum):
    """Whose state a command reads or changes."""

    MARKET = "market"  # market data, instruments: the same for a paper session (asked of the runners)
    ACCOUNT = "account"  # orders, positions, balances, leverage: a paper session answers them itself
    RUNNER = "runner"  # the runner itself: liveness, risk gate, journal, gap reports


_ROUTE_FIELD = {Routing.INSTRUMENT: "key", Routing.ORDER: "order", Routing.EXCHANGE: "exchange", Routing.CALLER: ""}


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How one request is served. ``idempotent``: sending it twice does what sending it once
    does, so an unanswered one may be sent again (the others: learn the state first)."""

    request: type
    reply: type
    method: str
    route: Routing
    permission: Permission
    idempotent: bool
    scope: Scope

    @property
    def route_field(self) -> str:
        """The request's field that names the runner ("" for ``Routing.CALLER``)."""
        return _ROUTE_FIELD[self.route]

    def route_of(self, request: object) -> InstrumentKey | Exchange | str | None:
        """The instrument or exchange that routes ``request`` (None: the caller must say; a
        string where the request was built with one, e.g. ``exchange="binance"``)."""
        field = _ROUTE_FIELD[self.route]
        if not field:
            return None
        target: Any = getattr(request, field)
        if self.route is Routing.ORDER:
            target = target.key
        assert isinstance(target, InstrumentKey | Exchange | str)
        return target


#: Request class → its declaration, in declaration order.
COMMANDS: dict[type, CommandSpec] = {}
#: Wire method name (the request's tag) → its declaration.
BY_METHOD: dict[str, CommandSpec] = {}


def _reply_type(cls: type) -> type:
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Query:
            (reply,) = get_args(base)
            if isinstance(reply, type):
                return reply
    raise TypeError(f"{cls.__name__}: a command subclasses Query[<its reply type>]")


def command(
    *,
    route: Routing,
    scope: Scope,
    permission: Permission = Permission.READ,
    idempotent: bool = True,
) -> Callable[[T], T]:
    """Declare the decorated request class a command (see the module doc)."""

    def register(cls: T) -> T:
        method = str(cls.__struct_config__.tag)
        if method in BY_METHOD:
            raise TypeError(f"{cls.__name__}: method {method!r} is already declared")
        field = _ROUTE_FIELD[route]
        if field and field not in cls.__struct_fields__:
            raise TypeError(f"{cls.__name__}: routed by {route.value} but has no field {field!r}")
        spec = CommandSpec(cls, _reply_type(cls), method, route, permission, idempotent, scope)
        COMMANDS[cls] = spec
        BY_METHOD[method] = spec
        return cls

    return register


def spec_of(request: Any) -> CommandSpec:
    """The declaration of ``request``'s class (``KeyError`` for a class that is not a command)."""
    return COMMANDS[type(request)]
