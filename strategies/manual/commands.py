"""The manual REPL's grammar: one line of text → one typed command, or a :class:`CommandError`.

Pure: no I/O, no client. The session (:mod:`.session`) runs what this module returns.

Instruments are written ``BTCUSDT`` (a **perp** of the session's exchange), ``spot:BTCUSDT``,
``perp:BTCUSDT`` or the full key ``binance:perp:BTCUSDT``. Quantities and prices are plain
decimal numbers (``0.01``, ``95000.5``), parsed exactly as :class:`~decimal.Decimal`. Command
names, kinds and options are case-insensitive; symbols are upper-cased.

Every mistake raises :class:`CommandError` whose message names what is wrong and shows how to
write the command (its usage line).
"""

from __future__ import annotations

import difflib
import re
import textwrap
from decimal import Decimal

import msgspec

from strategy_client.model import (
    Exchange,
    InstrumentKey,
    InvalidInstrumentKey,
    MarketKind,
    OrderType,
    Side,
    TimeInForce,
)
from strategy_client.wire import PriceSource

__all__ = [
    "CommandError",
    "CommandSpec",
    "COMMANDS",
    "COMMAND_NAMES",
    "ALIASES",
    "ORDER_OPTIONS",
    "PRICE_SOURCES",
    "MAX_DEPTH",
    "Book",
    "Price",
    "Funding",
    "PlaceOrder",
    "Cancel",
    "CancelAll",
    "Orders",
    "Positions",
    "Balance",
    "Leverage",
    "Halt",
    "Reduce",
    "Resume",
    "Risk",
    "Help",
    "Quit",
    "Command",
    "parse_line",
    "parse_instrument",
    "parse_decimal",
    "parse_client_id",
    "format_instrument",
    "to_line",
    "suggest_command",
    "help_text",
]

MAX_DEPTH = 100
_WRAP = 96
DEFAULT_DEPTH = 5
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,36}$")  # what Binance, Bybit and OKX all accept
_NUMBER_RE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
_INT_RE = re.compile(r"^\d+$")


class CommandError(ValueError):
    """A line the REPL cannot run. ``command`` is the command it was for (None: unknown)."""

    def __init__(self, message: str, *, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


# ----------------------------------------------------------------------------- commands


class Book(msgspec.Struct, frozen=True):
    key: InstrumentKey
    depth: int = DEFAULT_DEPTH


class Price(msgspec.Struct, frozen=True):
    key: InstrumentKey
    source: PriceSource = PriceSource.MID


class Funding(msgspec.Struct, frozen=True):
    key: InstrumentKey


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True):
    """``buy``/``sell``: a MARKET order without a price, a LIMIT order with one."""

    key: InstrumentKey
    side: Side
    qty: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_id: str = ""  # empty: the session assigns one

    @property
    def type(self) -> OrderType:
        return OrderType.MARKET if self.price is None else OrderType.LIMIT


class Cancel(msgspec.Struct, frozen=True):
    key: InstrumentKey
    client_id: str


class CancelAll(msgspec.Struct, frozen=True):
    key: InstrumentKey | None = None


class Orders(msgspec.Struct, frozen=True):
    key: InstrumentKey | None = None


class Positions(msgspec.Struct, frozen=True):
    pass


class Balance(msgspec.Struct, frozen=True):
    pass


class Leverage(msgspec.Struct, frozen=True):
    key: InstrumentKey
    leverage: int


class Halt(msgspec.Struct, frozen=True):
    """Trading state HALTED: the runner refuses every order and cancels the open ones."""

    reason: str = ""


class Reduce(msgspec.Struct, frozen=True):
    """Trading state REDUCING: only orders that reduce a position go through."""

    reason: str = ""


class Resume(msgspec.Struct, frozen=True):
    """Trading state ACTIVE again; ``force`` resumes past a tripped daily loss or drawdown limit."""

    force: bool = False
    reason: str = ""


class Risk(msgspec.Struct, frozen=True):
    """The runner's risk gate: state, today's PnL, open orders, limits, refusals."""


class Help(msgspec.Struct, frozen=True):
    topic: str | None = None


class Quit(msgspec.Struct, frozen=True):
    pass


Command = (
    Book
    | Price
    | Funding
    | PlaceOrder
    | Cancel
    | CancelAll
    | Orders
    | Positions
    | Balance
    | Leverage
    | Halt
    | Reduce
    | Resume
    | Risk
    | Help
    | Quit
)


# ----------------------------------------------------------------------------- the table


class CommandSpec(msgspec.Struct, frozen=True):
    name: str
    usage: str
    summary: str
    details: str = ""


_INSTRUMENT_NOTE = "<instrument> is BTCUSDT (a perp), spot:BTCUSDT, perp:BTCUSDT or the full key binance:perp:BTCUSDT."

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec(
            "book",
            f"book <instrument> [depth]  (depth 1..{MAX_DEPTH}, default {DEFAULT_DEPTH})",
            "the order book as a small ladder: asks above, bids below, spread and mid",
        ),
        CommandSpec(
            "price",
            "price <instrument> [mid|bid|ask|mark|index]",
            "a reference price (default mid); mark and index exist for perps only",
        ),
        CommandSpec(
            "funding",
            "funding <instrument>",
            "a perp's funding rate, normalised per hour, and the next funding time",
            "A positive rate means longs pay shorts.",
        ),
        CommandSpec(
            "buy",
            "buy <instrument> <qty> [price] [ioc|fok|post] [reduce] [id=<client id>]",
            "place a buy order: MARKET without a price, LIMIT (GTC unless ioc/fok/post) with one",
            "qty is in base units (BTC for BTCUSDT). Quantities are rounded down to the lot step and "
            "prices to the tick away from crossing (a buy rounds down); the REPL prints every rounding "
            "and refuses an order the instrument's filters cannot accept. 'reduce' (perps only) makes "
            "it reduce-only; 'post' is post-only (never takes). id= sets the client order id "
            "(1-36 of A-Z a-z 0-9 . _ : / -); otherwise one is assigned and printed.\n"
            "  buy BTCUSDT 0.01                  market buy of the BTCUSDT perp\n"
            "  buy spot:BTCUSDT 0.01 95000       limit buy, good till canceled\n"
            "  buy perp:ETHUSDT 0.5 3000 post id=my-1",
        ),
        CommandSpec(
            "sell",
            "sell <instrument> <qty> [price] [ioc|fok|post] [reduce] [id=<client id>]",
            "place a sell order (see 'help buy'; a sell price rounds up)",
            "  sell BTCUSDT 0.01 reduce          close part of a long perp position\n"
            "  sell spot:BTCUSDT 0.01 99000 ioc",
        ),
        CommandSpec(
            "cancel",
            "cancel <instrument> <client-id>  |  cancel all [instrument]",
            "cancel one order by its client id, or every open order (of one instrument)",
        ),
        CommandSpec("orders", "orders [instrument]", "open orders (of one instrument)"),
        CommandSpec("positions", "positions", "open perp positions: size, entry, mark, unrealised PnL"),
        CommandSpec("balance", "balance", "spot balances and futures margin"),
        CommandSpec(
            "leverage",
            "leverage <instrument> <n>",
            "set a perp's leverage to n (a whole number); prints what the venue applied",
        ),
        CommandSpec(
            "halt",
            "halt [reason]",
            "stop trading on this runner: every order is refused and the open ones are cancelled",
            "Sets the runner's risk gate to HALTED (admin role) for every client, not only this session; "
            "'resume' ends it. The reason is recorded in the risk event.",
        ),
        CommandSpec(
            "reduce",
            "reduce [reason]",
            "only orders that reduce a position go through (the runner's risk gate: REDUCING)",
        ),
        CommandSpec(
            "resume",
            "resume [force] [reason]",
            "trade normally again (ACTIVE); 'force' resumes although today's loss limit tripped",
        ),
        CommandSpec("risk", "risk", "the runner's risk gate: state, today's PnL, open orders, limits, refusals"),
        CommandSpec("help", "help [command]", "this list, or one command in detail"),
        CommandSpec("quit", "quit  (also: exit, Ctrl-D)", "leave the REPL"),
    )
}

ALIASES: dict[str, str] = {"exit": "quit", "?": "help"}
COMMAND_NAMES: tuple[str, ...] = (*COMMANDS, "exit")
ORDER_OPTIONS: tuple[str, ...] = ("ioc", "fok", "post", "gtc", "reduce", "id=")
PRICE_SOURCES: tuple[str, ...] = tuple(s.value for s in PriceSource)
_TIFS: dict[str, TimeInForce] = {
    "gtc": TimeInForce.GTC,
    "ioc": TimeInForce.IOC,
    "fok": TimeInForce.FOK,
    "post": TimeInForce.POST_ONLY,
}


def _err(name: str, message: str) -> CommandError:
    return CommandError(f"{name}: {message} — usage: {COMMANDS[name].usage}", command=name)


def suggest_command(word: str) -> str | None:
    """The command ``word`` most likely meant (a prefix of exactly one, else the closest)."""
    low = word.lower()
    starts = [n for n in COMMAND_NAMES if n.startswith(low)] if low else []
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(low, COMMAND_NAMES, n=1, cutoff=0.6)
    return close[0] if close else None


# ----------------------------------------------------------------------------- pieces


def parse_instrument(text: str, exchange: Exchange) -> InstrumentKey:
    """``SYMBOL`` (perp), ``kind:SYMBOL`` or ``exchange:kind:SYMBOL`` of ``exchange``."""
    parts = text.split(":")
    if len(parts) == 1:
        kind_text, symbol = MarketKind.PERP.value, parts[0]
        exch_text = exchange.value
    elif len(parts) == 2:
        (kind_text, symbol), exch_text = parts, exchange.value
    elif len(parts) == 3:
        exch_text, kind_text, symbol = parts
    else:
        raise CommandError(
            f"instrument {text!r} has too many ':' — write SYMBOL, kind:SYMBOL or {exchange.value}:kind:SYMBOL"
        )
    if kind_text.lower() not in {k.value for k in MarketKind}:
        raise CommandError(f"instrument {text!r}: unknown market kind {kind_text!r} (spot or perp)")
    if not symbol:
        raise CommandError(f"instrument {text!r} has no symbol")
    try:
        key = InstrumentKey.parse(f"{exch_text}:{kind_text}:{symbol}")
    except InvalidInstrumentKey as exc:
        if exch_text.lower() not in {e.value for e in Exchange}:
            known = ", ".join(e.value for e in Exchange)
            raise CommandError(f"instrument {text!r}: unknown exchange {exch_text!r} (known: {known})") from None
        raise CommandError(f"instrument {text!r}: bad symbol {symbol!r} (letters, digits and - _ . /)") from exc
    if key.exchange is not exchange:
        raise CommandError(
            f"instrument {text!r} is on {key.exchange.value}; this session trades {exchange.value} "
            f"(start another with --exchange {key.exchange.value})"
        )
    return key


def parse_decimal(text: str, field: str) -> Decimal:
    """A positive plain decimal number (no sign, no exponent, no separators)."""
    if not _NUMBER_RE.match(text):
        raise CommandError(f"{field}: {text!r} is not a positive number (write e.g. 0.01 or 95000.5)")
    value = Decimal(text)
    if value <= 0:
        raise CommandError(f"{field}: must be more than 0, got {text}")
    return value


def _parse_int(text: str, field: str, lo: int, hi: int | None) -> int:
    if not _INT_RE.match(text):
        raise CommandError(f"{field}: {text!r} is not a whole number")
    value = int(text)
    if value < lo or (hi is not None and value > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
        raise CommandError(f"{field}: must be a whole number {bound}, got {text}")
    return value


def parse_client_id(text: str) -> str:
    if not _CLIENT_ID_RE.match(text):
        raise CommandError(f"id: {text!r} must be 1-36 characters of A-Z a-z 0-9 . _ : / -")
    return text


def format_instrument(key: InstrumentKey, exchange: Exchange | None = None) -> str:
    """The shortest text that :func:`parse_instrument` reads back as ``key``."""
    if exchange is not None and key.exchange is exchange:
        bare = key.kind is MarketKind.PERP and key.symbol != "ALL"  # 'cancel all' would read a bare ALL
        return key.symbol if bare else f"{key.kind.value}:{key.symbol}"
    return str(key)


# ----------------------------------------------------------------------------- the parser


def _key_arg(name: str, args: list[str], index: int, exchange: Exchange) -> InstrumentKey:
    if len(args) <= index:
        raise _err(name, "needs an instrument")
    try:
        return parse_instrument(args[index], exchange)
    except CommandError as exc:
        raise CommandError(f"{name}: {exc}", command=name) from None


def _no_more(name: str, args: list[str], allowed: int) -> None:
    if len(args) > allowed:
        raise _err(name, f"unexpected {' '.join(args[allowed:])!r}")


def _perp_only(name: str, key: InstrumentKey, what: str) -> None:
    if key.kind is not MarketKind.PERP:
        raise CommandError(f"{name}: {what} applies to perps; {key} is {key.kind.value}", command=name)


def _parse_order(name: str, side: Side, args: list[str], exchange: Exchange) -> PlaceOrder:
    key = _key_arg(name, args, 0, exchange)
    numbers: list[Decimal] = []
    tif: TimeInForce | None = None
    tif_word = ""  # as typed: the error names the user's words, never the enum's ("post_only")
    reduce_only = False
    client_id = ""
    for token in args[1:]:
        low = token.lower()
        if low[:1].isdigit() or low[:1] in ".+-":
            if len(numbers) == 2:
                raise _err(name, f"unexpected number {token!r} after the qty and the price")
            field = "qty" if not numbers else "price"
            try:
                numbers.append(parse_decimal(token, field))
            except CommandError as exc:
                raise CommandError(f"{name}: {exc}", command=name) from None
        elif low in _TIFS:
            if tif is not None:
                if low == tif_word:
                    raise _err(name, f"{low!r} given twice")
                raise _err(name, f"give at most one of gtc, ioc, fok, post (got {tif_word} and {low})")
            tif, tif_word = _TIFS[low], low
        elif low == "reduce":
            if reduce_only:
                raise _err(name, "'reduce' given twice")
            reduce_only = True
        elif low.startswith("id="):
            if client_id:
                raise _err(name, "id= given twice")
            try:
                client_id = parse_client_id(token[3:])
            except CommandError as exc:
                raise CommandError(f"{name}: {exc}", command=name) from None
        elif not numbers:
            raise _err(name, f"qty: {token!r} is not a positive number")
        else:
            raise _err(name, f"unknown option {token!r} (options: ioc, fok, post, gtc, reduce, id=<client id>)")
    if not numbers:
        raise _err(name, "needs a quantity")
    qty = numbers[0]
    price = numbers[1] if len(numbers) == 2 else None
    if price is None and tif is not None:
        raise _err(name, f"{tif_word} needs a limit price")
    if reduce_only:
        _perp_only(name, key, "reduce-only")
    return PlaceOrder(
        key=key,
        side=side,
        qty=qty,
        price=price,
        tif=tif or TimeInForce.GTC,
        reduce_only=reduce_only,
        client_id=client_id,
    )


def _parse_cancel(args: list[str], exchange: Exchange) -> Cancel | CancelAll:
    if not args:
        raise _err("cancel", "needs an instrument and a client id, or 'all'")
    if args[0].lower() == "all":
        _no_more("cancel", args, 2)
        return CancelAll(_key_arg("cancel", args, 1, exchange) if len(args) == 2 else None)
    key = _key_arg("cancel", args, 0, exchange)
    if len(args) < 2:
        raise _err("cancel", f"needs the client id of the {key} order to cancel ('orders' lists them)")
    _no_more("cancel", args, 2)
    try:
        return Cancel(key, parse_client_id(args[1]))
    except CommandError as exc:
        raise CommandError(f"cancel: {exc}", command="cancel") from None


def _parse_book(name: str, args: list[str], exchange: Exchange) -> Book:
    key = _key_arg(name, args, 0, exchange)
    _no_more(name, args, 2)
    depth = DEFAULT_DEPTH
    if len(args) == 2:
        try:
            depth = _parse_int(args[1], "depth", 1, MAX_DEPTH)
        except CommandError as exc:
            raise CommandError(f"{name}: {exc}", command=name) from None
    return Book(key, depth)


def _parse_price(name: str, args: list[str], exchange: Exchange) -> Price:
    key = _key_arg(name, args, 0, exchange)
    _no_more(name, args, 2)
    source = PriceSource.MID
    if len(args) == 2:
        try:
            source = PriceSource(args[1].lower())
        except ValueError:
            raise _err(name, f"unknown price source {args[1]!r}") from None
        if source in (PriceSource.MARK, PriceSource.INDEX):
            _perp_only(name, key, f"the {source.value} price")
    return Price(key, source)


def _parse_leverage(name: str, args: list[str], exchange: Exchange) -> Leverage:
    if len(args) == 1 and args[0][:1].isdigit():
        raise _err(name, f"needs the instrument before the leverage {args[0]!r}")
    key = _key_arg(name, args, 0, exchange)
    if len(args) < 2:
        raise _err(name, "needs the leverage, a whole number")
    _no_more(name, args, 2)
    _perp_only(name, key, "leverage")
    try:
        return Leverage(key, _parse_int(args[1], "leverage", 1, None))
    except CommandError as exc:  # the field is the command: one 'leverage:' prefix, then the usage
        raise _err(name, str(exc).removeprefix("leverage: ")) from None


def _parse_help(name: str, args: list[str]) -> Help:
    _no_more(name, args, 1)
    if not args:
        return Help()
    topic = ALIASES.get(args[0].lower(), args[0].lower())
    if topic not in COMMANDS:
        guess = suggest_command(topic)
        hint = f" — did you mean {guess!r}?" if guess else ""
        raise CommandError(f"help: no command {args[0]!r}{hint}", command=name)
    return Help(topic)


def parse_line(line: str, exchange: Exchange) -> Command | None:
    """Parse one line; ``None`` for a blank line or a ``#`` comment."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("?"):
        text = "help " + text[1:]
    word, *args = text.split()
    name = ALIASES.get(word.lower(), word.lower())
    match name:
        case "book":
            return _parse_book(name, args, exchange)
        case "price":
            return _parse_price(name, args, exchange)
        case "funding":
            key = _key_arg(name, args, 0, exchange)
            _no_more(name, args, 1)
            _perp_only(name, key, "funding")
            return Funding(key)
        case "buy" | "sell":
            return _parse_order(name, Side(name), args, exchange)
        case "cancel":
            return _parse_cancel(args, exchange)
        case "orders":
            _no_more(name, args, 1)
            return Orders(_key_arg(name, args, 0, exchange) if args else None)
        case "positions":
            _no_more(name, args, 0)
            return Positions()
        case "balance":
            _no_more(name, args, 0)
            return Balance()
        case "leverage":
            return _parse_leverage(name, args, exchange)
        case "halt":
            return Halt(" ".join(args))
        case "reduce":
            return Reduce(" ".join(args))
        case "resume":
            force = bool(args) and args[0].lower() == "force"
            return Resume(force, " ".join(args[1:] if force else args))
        case "risk":
            _no_more(name, args, 0)
            return Risk()
        case "help":
            return _parse_help(name, args)
        case "quit":
            _no_more(name, args, 0)
            return Quit()
        case _:
            guess = suggest_command(word)
            hint = f"did you mean {guess!r}? " if guess else ""
            raise CommandError(f"unknown command {word!r} — {hint}'help' lists the commands")


def _dec(value: Decimal) -> str:
    return format(value, "f")


def to_line(command: Command, exchange: Exchange | None = None) -> str:
    """The canonical text of ``command``: :func:`parse_line` reads it back as the same command."""
    match command:
        case Book(key, depth):
            return f"book {format_instrument(key, exchange)} {depth}"
        case Price(key, source):
            return f"price {format_instrument(key, exchange)} {source.value}"
        case Funding(key):
            return f"funding {format_instrument(key, exchange)}"
        case PlaceOrder():
            parts = [command.side.value, format_instrument(command.key, exchange), _dec(command.qty)]
            if command.price is not None:
                parts.append(_dec(command.price))
                inv = {v: k for k, v in _TIFS.items()}
                if command.tif is not TimeInForce.GTC:
                    parts.append(inv[command.tif])
            if command.reduce_only:
                parts.append("reduce")
            if command.client_id:
                parts.append(f"id={command.client_id}")
            return " ".join(parts)
        case Cancel(key, client_id):
            return f"cancel {format_instrument(key, exchange)} {client_id}"
        case CancelAll(key):
            return "cancel all" if key is None else f"cancel all {format_instrument(key, exchange)}"
        case Orders(key):
            return "orders" if key is None else f"orders {format_instrument(key, exchange)}"
        case Positions():
            return "positions"
        case Balance():
            return "balance"
        case Leverage(key, leverage):
            return f"leverage {format_instrument(key, exchange)} {leverage}"
        case Halt(reason) | Reduce(reason):
            word = "halt" if isinstance(command, Halt) else "reduce"
            return f"{word} {reason}".rstrip()
        case Resume(force, reason):
            return " ".join(w for w in ("resume", "force" if force else "", reason) if w)
        case Risk():
            return "risk"
        case Help(topic):
            return "help" if topic is None else f"help {topic}"
        case Quit():
            return "quit"
    raise TypeError(f"not a command: {command!r}")  # pragma: no cover - the union is exhaustive


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _WRAP, initial_indent="  ", subsequent_indent="  ")


def help_text(topic: str | None = None) -> str:
    """``help`` output: every command's usage and summary, or one command in detail."""
    if topic is not None:
        spec = COMMANDS[topic]
        lines = [f"usage: {spec.usage}", *_wrap(spec.summary)]
        for line in spec.details.splitlines():
            # examples (indented) are kept as written; prose is wrapped
            lines.extend([f"  {line}"] if line.startswith("  ") else _wrap(line))
        if "<instrument>" in spec.usage or "[instrument]" in spec.usage:
            lines.extend(_wrap(_INSTRUMENT_NOTE))
        return "\n".join(lines)
    lines = ["commands:"]
    for spec in COMMANDS.values():
        lines.append(f"  {spec.usage}")
        lines.append(f"      {spec.summary}")
    lines.append(_INSTRUMENT_NOTE)
    lines.append("Numbers are plain decimals (0.01, 95000.5). 'help <command>' for details; Tab completes.")
    return "\n".join(lines)
