"""``strategy`` console script: ``spotperp``, ``perpperp`` and the ``manual`` REPL.

Every command finds its runners in Redis (``--redis-url``, else ``$REDIS_URL``, else
redis://127.0.0.1:6379/0). Config precedence: built-in defaults < ``--config`` TOML < flags.
Bad input ends with one ``strategy: error: ...`` line and exit status 2; a run that could not
leave everything clean ends with status 1.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from strategy_client.cli_app import FlagApp, LogLevel, version_callback
from strategy_client.errors import CoreApiError, DiscoveryError
from strategy_client.security import redact_url
from strategy_client.telemetry.logs import setup_logging

from . import lifecycle_cli as _lifecycle
from .alerts import TELEGRAM_TOKEN_ENV, WEBHOOK_ENV, Alert, AlertConfig, Alerter, AlertKind, parse_kinds
from .arbitrage.config import load_perpperp, load_spotperp
from .arbitrage.errors import StrategyConfigError
from .history_cli import history as _history
from .history_cli import report as _report
from .manual import run_manual
from .runtime import RunOptions, StrategyError, run_arbitrage

if sys.platform != "win32":  # uvloop is installed everywhere but Windows (pyproject)
    import uvloop

    _run_main = uvloop.run
else:  # pragma: no cover
    _run_main = asyncio.run

app = FlagApp(
    add_completion=False,
    no_args_is_help=True,
    help="tradebus strategies: spot-perp and perp-perp arbitrage (live or --paper), signals → orders, and a manual "
    "trading REPL.",
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback("strategy"), is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """tradebus strategies: spot-perp and perp-perp arbitrage (live or --paper) and a manual trading REPL."""


DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
RedisOpt = Annotated[
    str | None,
    typer.Option("--redis-url", help=f"where the runners are registered (default: $REDIS_URL, else {DEFAULT_REDIS})"),
]
PaperOpt = Annotated[
    bool, typer.Option("--paper", help="fill orders locally against the live books; nothing reaches a venue")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config (see configs/strategies/)")]
SymbolOpt = Annotated[str | None, typer.Option("--symbol", help="e.g. BTCUSDT")]
SizeOpt = Annotated[str | None, typer.Option("--size", help="base units per arbitrage position, e.g. 0.01")]
DurationOpt = Annotated[float | None, typer.Option("--duration", help="stop after SECONDS (default: until Ctrl-C)")]
GraceOpt = Annotated[
    float | None,
    typer.Option(
        "--stop-grace",
        help="at stop (duration, Ctrl-C, SIGTERM), at most SECONDS to exit and unwind before reporting what is left "
        "(default 20)",
    ),
]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="write the JSON report (every trade, PnL breakdown)")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="write a PnL-over-time PNG")]
MetricsOpt = Annotated[int | None, typer.Option("--metrics-port", help="serve /metrics, /healthz, /readyz (0 = off)")]
KeepOpt = Annotated[
    bool, typer.Option("--keep-positions", help="at stop, leave hedged positions open (default: exit them)")
]
LogLevelOpt = Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False)]
DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="where the journal lives (default $TRADEBUS_DATA_DIR, else the per-user data dir); "
        "the same data dir resumes the pairs after a crash",
    ),
]
JournalOpt = Annotated[
    str | None, typer.Option("--journal", help="journal URL: postgresql://host/db?schema=NAME or a SQLite path")
]
AdoptOpt = Annotated[
    bool,
    typer.Option(
        "--adopt", help="take positions on the pair's legs that no journal explains over (default: leave them)"
    ),
]
LogJsonOpt = Annotated[bool, typer.Option("--log-json", help="JSON log lines (for Loki)")]
AlertWebhookOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--alert-webhook",
        help="post alerts (fills, entries/exits, risk, runner or stream down, stale feed, UNKNOWN orders) to this "
        f"URL as Slack/Discord-compatible JSON; repeatable; also ${WEBHOOK_ENV} (comma-separated)",
    ),
]
AlertChatOpt = Annotated[
    str | None,
    typer.Option(
        "--alert-telegram-chat",
        help=f"send alerts to this Telegram chat id through the bot whose token is in ${TELEGRAM_TOKEN_ENV}",
    ),
]
AlertTelegramUrlOpt = Annotated[
    str, typer.Option("--alert-telegram-url", help="the Telegram bot API's base URL (a compatible relay)")
]
AlertKindsOpt = Annotated[
    str,
    typer.Option(
        "--alerts",
        help="which alerts: all, or a comma-separated list of "
        f"{', '.join(k.value for k in AlertKind if k is not AlertKind.TEST)}",
    ),
]
AlertRateOpt = Annotated[
    float, typer.Option("--alert-rate", help="at most this many alerts a minute after a burst of 5", min=0.1)
]
TELEGRAM_URL = "https://api.telegram.org"
WaitRunnerOpt = Annotated[
    float,
    typer.Option(
        "--wait-runner",
        help="how long to wait for the runners to register before giving up, seconds (0 = do not wait)",
        min=0,
    ),
]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"strategy: error: {message}", err=True)
    raise typer.Exit(code)


def _alert_config(
    webhooks: list[str] | None, chat: str | None, url: str, kinds: str, rate: float, source: str
) -> AlertConfig:
    """The alert settings from the flags (and the environment); a bad one is one line, exit 2."""
    try:
        cfg = AlertConfig(
            webhooks=list(webhooks or []),
            telegram_chat=chat or "",
            telegram_url=url,
            kinds=parse_kinds(kinds),
            per_minute=rate,
            source=source,
        )
        cfg.sinks()
    except ValueError as exc:
        _fail(f"alerts: {exc}")
        raise  # _fail exits
    return cfg


def _setup_logging(level: LogLevel, json_lines: bool) -> None:
    try:
        setup_logging(level=level.upper(), json=json_lines)
    except (TypeError, ValueError) as exc:
        _fail(f"--log-level: {exc}")


def _metrics_port(flag: int | None) -> int:
    if flag is not None:
        return flag
    env = os.environ.get("TRADEBUS_METRICS_PORT", "0")
    if not env.isdigit():
        _fail(f"TRADEBUS_METRICS_PORT: {env!r} is not a port number")
    return int(env)


def _overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _run(
    kind: str,
    config: Path | None,
    overrides: dict[str, Any],
    redis_url: str | None,
    metrics_port: int,
    keep: bool,
    journal: tuple[str | None, str | None, bool] = (None, None, False),
    runners: tuple[list[str], float] = ([], 15.0),
    alerts: AlertConfig | None = None,
    backtest: tuple[str | None, str] = (None, "max"),
) -> None:
    try:
        cfg: Any = (load_spotperp if kind == "spotperp" else load_perpperp)(config, overrides)
    except StrategyConfigError as exc:
        _fail(str(exc))
        return
    url = redis_url or cfg.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS
    host = os.environ.get("TRADEBUS_METRICS_BIND") or os.environ.get("TRADEBUS_BIND") or "127.0.0.1"
    opts = RunOptions(redis_url=url, metrics_port=metrics_port, metrics_host=host, close_on_stop=not keep)
    opts.data_dir, opts.journal, opts.adopt = journal
    opts.runners, opts.wait_runner_s = runners
    opts.alerts = alerts

    async def main() -> int:
        if backtest[0] is not None:  # strategies/backtest.py: a replaying venue and a runner of its own
            from .backtest import run_backtest

            if cfg.paper:
                raise StrategyError("--backtest trades on the replaying venue: leave out --paper")
            return await run_backtest(cfg, opts, backtest[0], backtest[1])
        return await run_arbitrage(cfg, opts)

    try:
        code = _run_main(main())
    except StrategyError as exc:
        _fail(str(exc))
        return
    except DiscoveryError as exc:
        _fail(f"Redis unreachable at {redact_url(url)}: {exc}")
        return
    except CoreApiError as exc:
        _fail(str(exc), 1)
        return
    except OSError as exc:
        _fail(str(exc), 1)
        return
    raise typer.Exit(code)


@app.command()
def spotperp(
    paper: PaperOpt = False,
    exchange: Annotated[str | None, typer.Option("--exchange", help="binance (default), bybit or okx")] = None,
    runner: Annotated[
        str | None,
        typer.Option(
            "--runner",
            help="the runner to trade through, by registration name (needed when several serve the exchange)",
        ),
    ] = None,
    symbol: SymbolOpt = None,
    config: ConfigOpt = None,
    duration: DurationOpt = None,
    stop_grace: GraceOpt = None,
    report: ReportOpt = None,
    plot: PlotOpt = None,
    size: SizeOpt = None,
    redis_url: RedisOpt = None,
    metrics_port: MetricsOpt = None,
    keep_positions: KeepOpt = False,
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    adopt: AdoptOpt = False,
    log_level: LogLevelOpt = LogLevel.INFO,
    log_json: LogJsonOpt = False,
    wait_runner: WaitRunnerOpt = 15.0,
    alert_webhook: AlertWebhookOpt = None,
    alert_telegram_chat: AlertChatOpt = None,
    alert_telegram_url: AlertTelegramUrlOpt = TELEGRAM_URL,
    alerts: AlertKindsOpt = "all",
    alert_rate: AlertRateOpt = 20.0,
    backtest: Annotated[
        str | None,
        typer.Option("--backtest", help="a recording (`record --out` dir): run against its replay, to its end"),
    ] = None,
    speed: Annotated[str, typer.Option("--speed", help="with --backtest: N × real time, or max")] = "max",
) -> None:
    """Spot-perp carry on one exchange: long spot / short perp when basis + funding beat the costs (event-driven)."""
    _setup_logging(log_level, log_json)
    overrides = _overrides(
        paper=True if paper else None,
        exchange=exchange,
        symbol=symbol.upper() if symbol else None,
        duration_s=duration,
        stop_grace_s=stop_grace,
        report=str(report) if report else None,
        plot=str(plot) if plot else None,
        size=size,
    )
    _run(
        "spotperp",
        config,
        overrides,
        redis_url,
        _metrics_port(metrics_port),
        keep_positions,
        (data_dir, journal, adopt),
        ([runner] if runner else [], wait_runner),
        _alert_config(
            alert_webhook, alert_telegram_chat, alert_telegram_url, alerts, alert_rate, "spotperp" + paper * "-paper"
        ),
        (backtest, speed),
    )


@app.command()
def perpperp(
    paper: PaperOpt = False,
    exchanges: Annotated[
        str | None, typer.Option("--exchanges", help="two exchanges, comma-separated (default binance,bybit)")
    ] = None,
    symbol: SymbolOpt = None,
    config: ConfigOpt = None,
    duration: DurationOpt = None,
    stop_grace: GraceOpt = None,
    report: ReportOpt = None,
    plot: PlotOpt = None,
    size: SizeOpt = None,
    poll: Annotated[float | None, typer.Option("--poll", help="seconds between evaluations (default 1)")] = None,
    redis_url: RedisOpt = None,
    metrics_port: MetricsOpt = None,
    keep_positions: KeepOpt = False,
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    adopt: AdoptOpt = False,
    log_level: LogLevelOpt = LogLevel.INFO,
    log_json: LogJsonOpt = False,
    wait_runner: WaitRunnerOpt = 15.0,
    runner: Annotated[
        list[str] | None,
        typer.Option(
            "--runner",
            help="a runner to trade through, by registration name (needed when several serve one exchange; "
            "repeat for the other exchange)",
        ),
    ] = None,
    alert_webhook: AlertWebhookOpt = None,
    alert_telegram_chat: AlertChatOpt = None,
    alert_telegram_url: AlertTelegramUrlOpt = TELEGRAM_URL,
    alerts: AlertKindsOpt = "all",
    alert_rate: AlertRateOpt = 20.0,
) -> None:
    """Perp-perp funding arbitrage across two exchanges: long the perp paying less funding, short the other (polled)."""
    _setup_logging(log_level, log_json)
    overrides = _overrides(
        paper=True if paper else None,
        exchanges=[e.strip().lower() for e in exchanges.split(",") if e.strip()] if exchanges else None,
        symbol=symbol.upper() if symbol else None,
        duration_s=duration,
        stop_grace_s=stop_grace,
        report=str(report) if report else None,
        plot=str(plot) if plot else None,
        size=size,
        poll_interval_s=poll,
    )
    _run(
        "perpperp",
        config,
        overrides,
        redis_url,
        _metrics_port(metrics_port),
        keep_positions,
        (data_dir, journal, adopt),
        (list(runner or []), wait_runner),
        _alert_config(
            alert_webhook, alert_telegram_chat, alert_telegram_url, alerts, alert_rate, "perpperp" + paper * "-paper"
        ),
    )


@app.command()
def manual(
    exchange: Annotated[str, typer.Option("--exchange", help="which exchange's runner to trade on")] = "binance",
    runner: Annotated[str | None, typer.Option("--runner", help="a runner by registration name")] = None,
    redis_url: RedisOpt = None,
    history: Annotated[
        Path | None, typer.Option("--history", help="history file (default ~/.tradebus_history)")
    ] = None,
) -> None:
    """Interactive trading REPL (book, price, funding, buy/sell, cancel, orders, positions, balance, leverage).

    Reads commands line by line when stdin is not a terminal, so it can be scripted."""
    code = run_manual(exchange=exchange, redis_url=redis_url, runner=runner, history_file=history)
    raise typer.Exit(code)


@app.command()
def signals(
    rabbit: Annotated[
        str | None, typer.Option("--rabbit", help="take signals from RabbitMQ (amqp://guest:guest@127.0.0.1:5672/)")
    ] = None,
    nats: Annotated[
        str | None, typer.Option("--nats", help="take signals from NATS JetStream (nats://127.0.0.1:4222)")
    ] = None,
    queue: Annotated[
        str, typer.Option("--queue", help="the RabbitMQ queue / NATS subject the signals arrive on")
    ] = "model-service.trading_signals",
    dlq: Annotated[str, typer.Option("--dlq", help="where poison messages are parked (default <queue>.dlq)")] = "",
    events_exchange: Annotated[
        str, typer.Option("--events-exchange", help="RabbitMQ topic exchange of the events")
    ] = "tradebus.events",
    events_queue: Annotated[
        list[str] | None,
        typer.Option(
            "--events-queue",
            help="RabbitMQ: declare and bind a queue for the events, NAME=PATTERN "
            "(e.g. order-manager.order_events=signals.#); repeatable",
        ),
    ] = None,
    stream: Annotated[str, typer.Option("--stream", help="NATS stream of the signal subject")] = "SIGNALS",
    durable: Annotated[str, typer.Option("--durable", help="NATS durable consumer (default strategy-<name>)")] = "",
    subject_prefix: Annotated[
        str, typer.Option("--subject-prefix", help="NATS subject prefix of the events")
    ] = "tradebus",
    events_stream: Annotated[
        str, typer.Option("--events-stream", help="NATS stream created for the events when none captures them")
    ] = "SIGNAL_EVENTS",
    prefetch: Annotated[int, typer.Option("--prefetch", help="unacknowledged signals at most", min=1)] = 64,
    ack_wait: Annotated[
        float, typer.Option("--ack-wait", help="NATS: seconds before an unacknowledged signal is redelivered", min=0.5)
    ] = 30.0,
    name: Annotated[str, typer.Option("--name", help="the instance's name (its journal, `strategy ls`)")] = "signals",
    tight_spread_bps: Annotated[
        str, typer.Option("--tight-spread-bps", help="urgency normal, no limit price: market at or below this spread")
    ] = "5",
    risk_budget: Annotated[
        str | None,
        typer.Option("--risk-budget", help="quote lost at the stop-loss per signal of strength 1 (sizes it)"),
    ] = None,
    default_notional: Annotated[
        str | None, typer.Option("--default-notional", help="quote per signal of strength 1 without a size")
    ] = None,
    min_confidence: Annotated[float, typer.Option("--min-confidence", help="reject signals below", min=0, max=1)] = 0.0,
    duration: DurationOpt = None,
    stop_grace: Annotated[
        float, typer.Option("--stop-grace", help="at stop, seconds for the orders in flight to end")
    ] = 10.0,
    redis_url: RedisOpt = None,
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    log_level: LogLevelOpt = LogLevel.INFO,
    log_json: LogJsonOpt = False,
) -> None:
    """Signals → orders: take trading signals from RabbitMQ or NATS, place and follow their orders, publish
    enriched order events (docs/bus.md, "Signals")."""
    from decimal import Decimal, InvalidOperation

    from .signals.bus import BusOptions
    from .signals.plan import PlanConfig
    from .signals.runtime import SignalOptions, run_signals

    _setup_logging(log_level, log_json)
    bindings: list[tuple[str, str]] = []
    for item in events_queue or []:
        qname, sep, pattern = item.partition("=")
        if not sep or not qname or not pattern:
            _fail(f"--events-queue {item!r}: write NAME=PATTERN, e.g. order-manager.order_events=signals.#")
        bindings.append((qname, pattern))
    try:
        plan = PlanConfig(
            tight_spread_bps=Decimal(tight_spread_bps),
            risk_budget=Decimal(risk_budget) if risk_budget else None,
            default_notional=Decimal(default_notional) if default_notional else None,
            min_confidence=min_confidence,
        )
    except InvalidOperation:
        _fail("--tight-spread-bps, --risk-budget, --default-notional: decimal numbers")
        return
    bus = BusOptions(
        rabbit=rabbit or "",
        nats=nats or "",
        queue=queue,
        dlq=dlq,
        exchange=events_exchange,
        events_queues=bindings,
        stream=stream,
        durable=durable,
        prefix=subject_prefix,
        events_stream=events_stream,
        prefetch=prefetch,
        ack_wait_s=ack_wait,
    )
    url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS
    opts = SignalOptions(
        bus=bus,
        plan=plan,
        instance=name,
        redis_url=url,
        data_dir=data_dir,
        journal=journal,
        duration_s=duration or 0.0,
        stop_grace_s=stop_grace,
    )
    try:
        code = _run_main(run_signals(opts))
    except StrategyError as exc:
        _fail(str(exc))
        return
    except DiscoveryError as exc:
        _fail(f"Redis unreachable at {redact_url(url)}: {exc}")
        return
    raise typer.Exit(code)


alerts_app = typer.Typer(no_args_is_help=True, help="alert notifications (docs/strategies.md): send a test alert")
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def alerts_test(
    alert_webhook: AlertWebhookOpt = None,
    alert_telegram_chat: AlertChatOpt = None,
    alert_telegram_url: AlertTelegramUrlOpt = TELEGRAM_URL,
    message: Annotated[str, typer.Option("--message", help="the text to send")] = "test alert: alerts reach you",
) -> None:
    """Send one test alert to every configured destination now and print what each answered
    (exit 0 when all took it, 1 when one failed, 2 when none is configured)."""
    cfg = _alert_config(alert_webhook, alert_telegram_chat, alert_telegram_url, "all", 60.0, "strategy alerts test")
    sinks = cfg.sinks()
    if not sinks:
        _fail(
            "alerts: no destination: pass --alert-webhook URL or --alert-telegram-chat ID "
            f"(the bot token in ${TELEGRAM_TOKEN_ENV}), or set ${WEBHOOK_ENV}"
        )
    results = asyncio.run(Alerter(sinks).send_now(Alert(AlertKind.TEST, message, cfg.source)))
    for result in results:
        typer.echo(f"{result.sink}: {'ok' if result.ok else 'FAILED'} ({result.detail})")
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


app.command("history")(_history)
app.command("report")(_report)
app.command("ls")(_lifecycle.ls)
app.command("pause")(_lifecycle.pause)
app.command("resume")(_lifecycle.resume)
app.command("stop")(_lifecycle.stop)
app.command("archive")(_lifecycle.archive)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(app())
