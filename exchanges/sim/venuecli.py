"""One serve command for every offline venue: a venue supplies a :class:`SimCommand`.

``python -m exchanges.sim <venue>`` takes the same options on every venue (seed, symbols,
balances, rate limits, the fault knobs, log level), checks them the same way and serves the
same way (:func:`exchanges.sim.serve.run`). What a venue adds — its port layout, its own
options (Binance's ``--listen-key-minutes``, Bybit's ``--idle-timeout``, OKX's
``--passphrase``...), the wording of an option's help, and how its simulator is built — is a
:class:`SimCommand` it declares in ``exchanges/<venue>/sim/cli.py`` with a ``register(app)``
that calls :func:`add_command`. ``exchanges.sim`` itself never imports a venue package: the CLI
finds the venues' ``sim.cli`` modules at start (:func:`exchanges.sim.cli.discover`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from exchanges.sim.cliargs import (
    CliError,
    as_cli_errors,
    check_positive,
    config_overrides,
    parse_log_level,
    parse_symbols,
)
from exchanges.sim.faults import FaultRequest, UnknownOutcomeMode
from exchanges.sim.overrides import ConfigOverrides
from exchanges.sim.recording import Recording
from exchanges.sim.replay import parse_speed
from exchanges.sim.runtime import SimHost
from exchanges.sim.serve import run

__all__ = ["SimArgs", "SimCommand", "add_command", "option"]


def option(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """One command-line option: ``name`` (the Python name), an ``Annotated[type, typer.Option]``."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _opt(name: str, kind: Any, default: Any, help_text: str, *flags: str) -> inspect.Parameter:
    return option(name, Annotated[kind, typer.Option(*flags, help=help_text)], default)


# name → (type, default, help); a venue may reword a help (SimCommand.helps)
_COMMON: tuple[tuple[str, Any, Any, str], ...] = (
    ("seed", int, 1, "random seed of the market model"),
    ("host", str, "127.0.0.1", "address to listen on"),
    ("api_key", str | None, None, "the test account's API key [default: built-in]"),
    ("api_secret", str | None, None, "its secret [default: built-in]"),
    ("symbols", str | None, None, "comma-separated symbols, e.g. BTCUSDT,ETHUSDT"),
    ("funding_interval", float | None, None, "funding interval in seconds [default: 8 h]"),
    ("step_ms", int | None, None, "engine step (book refresh) period in ms [default: 100]"),
    ("balances", str | None, None, "spot balances, e.g. USDT=100000,BTC=1"),
    ("futures_balances", str | None, None, "futures wallet, e.g. USDT=100000"),
)
_REPLAY: tuple[tuple[str, Any, Any, str], ...] = (
    ("replay", str | None, None, "a recording (`record --out` directory or fsspec URL) as the market"),
    ("speed", str, "1", "with --replay: N × real time, or 'max' (as fast as the consumer keeps up)"),
    ("hold", bool, False, "with --replay: step only when POST /_sim/replay grants it (backtests)"),
)
_LIMITS = ("no_rate_limits", bool, False, "count requests but never refuse")
_FAULTS: tuple[tuple[str, Any, Any, str], ...] = (
    ("delay_ms", int, 0, "fault: hold every REST reply this long"),
    ("fail_next", int, 0, "fault: next N requests get a 5xx (not executed)"),
    ("fail_status", int, 503, "status for --fail-next: 500, 502, 503 or 504"),
    ("throttle_next", int, 0, "fault: next N requests get 429/418"),
    ("throttle_status", int, 429, "status for --throttle-next: 429 or 418"),
    ("retry_after", int, 10, "Retry-After seconds for --throttle-next"),
    ("unknown_next", int, 0, "fault: next N orders accepted, reply lost"),
    ("unknown_mode", UnknownOutcomeMode, UnknownOutcomeMode.ERROR, "how the reply is lost"),
    ("stale_frames", int, 0, "fault: next N market frames followed by a stale one"),
    ("out_of_order_frames", int, 0, "fault: next N market frames swapped"),
    ("malformed_frames", int, 0, "fault: next N market frames truncated"),
)
_LOG_LEVEL = ("log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR")


@dataclass(frozen=True, slots=True)
class SimArgs:
    """The checked common options, handed to :attr:`SimCommand.build` with the venue's own."""

    port_base: int
    host: str
    api_key: str | None
    api_secret: str | None
    enforce_rate_limits: bool
    faults: FaultRequest
    overrides: ConfigOverrides
    own: Mapping[str, Any]


@dataclass(frozen=True)
class SimCommand:
    """A venue's serve command (see the module doc).

    ``ports``: 1 (REST, streams and ``/_sim/`` on N) or 2 (N and N+1). ``options``: the
    venue's own options (:func:`option`), inserted before the rate-limit and fault knobs.
    ``helps``: the common options' help where the venue words it differently. ``build``: the
    simulator from :class:`SimArgs` (a ValueError or :class:`CliError` is one-line error).
    ``extra``: credential lines the banner adds (OKX's passphrase).
    """

    name: str
    doc: str
    venue: str
    port_help: str
    build: Callable[[SimArgs], SimHost[Any, Any]]
    ports: int = 1
    options: tuple[inspect.Parameter, ...] = ()
    helps: Mapping[str, str] = field(default_factory=dict)
    extra: Callable[[SimHost[Any, Any]], Mapping[str, str]] | None = None

    def parameters(self) -> list[inspect.Parameter]:
        def table(rows: tuple[tuple[str, Any, Any, str], ...]) -> list[inspect.Parameter]:
            out = []
            for name, kind, default, text in rows:
                flags = ("--no-rate-limits",) if name == "no_rate_limits" else ()
                out.append(_opt(name, kind, default, self.helps.get(name, text), *flags))
            return out

        port = option("port_base", Annotated[int, typer.Option("--port-base", help=self.port_help)])
        return [port, *table(_COMMON), *table(_REPLAY), *self.options, *table((_LIMITS, *_FAULTS, _LOG_LEVEL))]

    def serve(self, values: dict[str, Any]) -> None:
        """Check the options, build the simulator, serve it until SIGINT/SIGTERM."""
        port_base: int = values.pop("port_base")
        top = 65535 - (self.ports - 1)
        if not 0 < port_base <= top:
            span = " (N and N+1 are used)" if self.ports == 2 else ""
            raise CliError(f"--port-base must be in 1..{top}{span}, got {port_base}")
        level = parse_log_level(values.pop("log_level"))
        check_positive(values["funding_interval"], "--funding-interval")
        faults = FaultRequest(
            **{name: values.pop(name) for name, *_ in _FAULTS if name != "retry_after"},
            retry_after_s=values.pop("retry_after"),
        )
        common = {name: values.pop(name) for name, *_ in _COMMON}
        replay_url, speed_text, hold = (values.pop(name) for name, *_ in _REPLAY)
        with as_cli_errors():
            faults.validate()
            recording = None
            if replay_url is not None:
                speed = parse_speed(speed_text)
                recording = Recording.open(replay_url, self.name)
                common["symbols"] = _replay_symbols(common["symbols"], recording)
            overrides = config_overrides(
                seed=common["seed"],
                symbols=common["symbols"],
                step_ms=common["step_ms"],
                funding_interval=common["funding_interval"],
                balances=common["balances"],
                futures_balances=common["futures_balances"],
            )
            args = SimArgs(
                port_base=port_base,
                host=common["host"],
                api_key=common["api_key"],
                api_secret=common["api_secret"],
                enforce_rate_limits=not values.pop("no_rate_limits"),
                faults=faults,
                overrides=overrides,
                own=values,
            )
            sim = self.build(args)
            if recording is not None:
                sim.use_replay(recording, speed=speed, hold=hold)
        host = common["host"]
        ports = f"{port_base}-{port_base + 1}" if self.ports == 2 else f"{port_base}"
        extra = self.extra(sim) if self.extra is not None else None
        if recording is not None:
            extra = {**(extra or {}), "replay": _replay_line(recording, speed_text, hold)}
        run(sim, level=level, venue=self.venue, listening=f"{host}:{ports}", extra=extra)


def _replay_symbols(given: str | None, recording: Recording) -> str:
    """The symbols to list: the recording's (``--symbols``, when given, must be among them)."""
    recorded = recording.symbols
    if given:
        missing = [s for s in parse_symbols(given) if s not in recorded]
        if missing:
            raise CliError(f"--symbols: {', '.join(missing)} not in the recording (it has {', '.join(recorded)})")
        return given
    return ",".join(recorded)


def _replay_line(recording: Recording, speed: str, hold: bool) -> str:
    span_s = (recording.end_ms - recording.start_ms) / 1000
    pace = "held (POST /_sim/replay grants steps)" if hold else f"speed {speed}"
    rows = ", ".join(f"{n} {channel}" for channel, n in recording.channels.items())
    return f"{recording.url}: {span_s:.1f}s recorded ({rows}), {pace}"


def add_command(app: typer.Typer, command: SimCommand) -> None:
    """Add ``command`` to ``app`` (``python -m exchanges.sim``'s, or any Typer app)."""

    def serve(**values: Any) -> None:
        command.serve(values)

    params = command.parameters()
    serve.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # typer reads the signature set here
    serve.__annotations__ = {p.name: p.annotation for p in params}
    serve.__doc__ = command.doc
    app.command(command.name)(serve)
