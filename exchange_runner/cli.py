"""``runner`` console script: ``runner binance`` starts an exchange pod; ``runner ls`` lists them;
``runner keys generate|show`` manages CURVE keypairs (docs/security.md); ``runner risk show``
prints a running runner's risk limits and usage (docs/risk.md)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import tomllib
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from exchanges.errors import TransportError
from strategy_client.cli_app import FlagApp, LogLevel, version, version_callback
from strategy_client.model import Exchange
from strategy_client.security import redact_url
from strategy_client.telemetry import TracingConfigError, setup_tracing, shutdown_tracing

from .config import DEFAULT_REDIS_URL, ConfigError, RunnerConfig, env_overrides, load_config
from .history_cli import history
from .logs import register_runner_secrets, setup_runner_logging
from .redis_setup import RedisSetupError, resolve_redis
from .registrar import NameTaken, check_name, listed_status

app = FlagApp(
    add_completion=False,
    no_args_is_help=True,
    help="tradebus exchange runner: one process per venue, serving ZeroMQ and registered in Redis.",
)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback("runner"), is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """tradebus exchange runner: one process per venue, serving ZeroMQ and registered in Redis."""


# Exit statuses: 0 done; 2 the runner could not start or the command could not run (bad option,
# config, symbol, venue or Redis unreachable, port in use) — the usage-error status of click and
# of `strategy manual`, so a script can tell "fix the command line/setup" apart from 1, a failure
# while running (and from a traceback, which is a bug).
EXIT_USAGE = 2


def _fail(message: str) -> None:
    typer.echo(f"runner: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


# no default here: a --config file's venue/mode is used unless the flag is given (default sim / live)
VenueOpt = Annotated[
    str | None, typer.Option("--venue", help="sim (embedded offline venue, the default) | testnet | live")
]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="live (the default): orders go to the venue; paper: filled locally")
]


def _run_exchange(
    exchange: Exchange, overrides: dict[str, Any], config: Path | None, log_level: str, log_json: bool = False
) -> None:
    setup_runner_logging(
        log_level,
        json=log_json,
        exchange=exchange.value,
        name=overrides.get("name") or exchange.value,
        secrets_file=overrides.get("secrets_file") or "",
        redis_url=overrides.get("redis_url") or "",
    )
    explicit_redis = bool(overrides.get("redis_url")) or bool(os.environ.get("REDIS_URL"))
    try:
        cfg = load_config(config, {**overrides, "exchange": exchange})
    except ConfigError as exc:
        _fail(str(exc))
        return
    register_runner_secrets(secrets_file=cfg.secrets_file, redis_url=cfg.redis_url)
    try:
        setup_tracing(f"tradebus-runner-{cfg.registration_name}")
    except TracingConfigError as exc:
        _fail(str(exc))
        return
    try:
        redis_url, local = resolve_redis(cfg.redis_url, explicit_redis)
    except RedisSetupError as exc:
        _fail(str(exc).replace(cfg.redis_url, redact_url(cfg.redis_url)))  # no password on the terminal
        return
    cfg.redis_url = redis_url
    try:
        if not cfg.replace:
            check_name(cfg.redis_url, cfg.registration_name)  # refuse before loading the venue
        _run(cfg)
    except ConfigError as exc:
        _fail(str(exc))
    except TransportError as exc:
        where = f"at {cfg.sim_connect}" if cfg.venue == "sim" and cfg.sim_connect else f"({cfg.venue})"
        _fail(f"cannot reach the {cfg.exchange.value} venue {where}: {exc}")
    except NameTaken as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_explain_os_error(exc))
    finally:
        shutdown_tracing()
        if local is not None:
            local.stop()


def _explain_os_error(exc: OSError) -> str:
    text = str(exc)
    if "Address already in use" in text or getattr(exc, "errno", None) == 98:
        return f"port in use: {text}"
    return text


def _run(cfg: RunnerConfig) -> None:
    import zmq

    from .runner import ExchangeRunner
    from .venues import open_venue

    async def main() -> None:
        async with AsyncExitStack() as stack:
            try:
                adapter = await stack.enter_async_context(open_venue(cfg))
            except ConfigError:
                raise
            except ValueError as exc:  # the offline venue refuses an override (e.g. an unknown symbol)
                raise ConfigError(f"the offline {cfg.exchange.value} venue: {exc}") from None
            runner = ExchangeRunner(cfg, adapter, settle_heap=True)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, runner.stop)
            if runner.security is not None:  # SIGHUP: read the allow-list again
                loop.add_signal_handler(signal.SIGHUP, runner.security.reload)
            try:
                await runner.run()
            except zmq.ZMQError as exc:
                raise OSError(exc.errno, f"cannot bind ZeroMQ socket: {exc}") from None

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def _exchange_command(exchange: Exchange, summary: str, *, show: bool = False) -> Any:
    """The options of ``runner <exchange>``; ``show``: print the effective configuration instead
    of running (``runner config show <exchange> [same options]``)."""
    prefix = exchange.value.upper()
    passphrase = f"/{prefix}_API_PASSPHRASE" if exchange is Exchange.OKX else ""
    secrets_keys = "api_key/api_secret/passphrase" if exchange is Exchange.OKX else "api_key/api_secret"

    def command(
        venue: VenueOpt = None,
        mode: ModeOpt = None,
        config: Path | None = typer.Option(  # noqa: B008 - default form: the help names this exchange
            None, "--config", help=f"TOML config (see configs/runner.{exchange.value}.toml)"
        ),
        symbols: Annotated[str | None, typer.Option("--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT")] = None,
        kinds: Annotated[str | None, typer.Option("--kinds", help="comma-separated market kinds: spot,perp")] = None,
        redis_url: Annotated[
            str | None, typer.Option("--redis-url", help=f"default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
        ] = None,
        bind: Annotated[str | None, typer.Option("--bind", help="address the ZeroMQ sockets bind to")] = None,
        pub_port: Annotated[int | None, typer.Option("--pub-port", help="PUB port (default: any free)")] = None,
        router_port: Annotated[
            int | None, typer.Option("--router-port", help="ROUTER port (default: any free)")
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="registration name (default: the exchange)")] = None,
        cancel_on_exit: Annotated[
            bool, typer.Option("--cancel-on-exit", help="cancel open orders on shutdown")
        ] = False,
        secrets: str | None = typer.Option(  # the default form: the help names this exchange
            None,
            "--secrets",
            help=f"TOML file with {secrets_keys} (else ${prefix}_API_KEY/{prefix}_API_SECRET{passphrase})",
        ),
        sim_port_base: Annotated[
            int | None, typer.Option("--sim-port-base", help="embedded simulator's first port (it may use N, N+1)")
        ] = None,
        sim_seed: Annotated[int | None, typer.Option("--sim-seed", help="embedded simulator seed")] = None,
        sim_connect: Annotated[
            str | None,
            typer.Option(
                "--sim-connect",
                help="HOST:PORT of a running `python -m exchanges.sim <exchange>` instead of embedding one",
            ),
        ] = None,
        sim_funding_interval: Annotated[
            float | None, typer.Option("--sim-funding-interval", help="simulator funding interval, seconds")
        ] = None,
        metrics_port: Annotated[
            int | None,
            typer.Option("--metrics-port", help="serve /metrics, /healthz, /readyz on this HTTP port (0 = off)"),
        ] = None,
        metrics_bind: Annotated[
            str | None, typer.Option("--metrics-bind", help="address the metrics port binds to (default: --bind)")
        ] = None,
        curve_key: Annotated[
            str | None,
            typer.Option(
                "--curve-key",
                help="the runner's secret key file (`runner keys generate`): CURVE on ROUTER and PUB",
            ),
        ] = None,
        allow: Annotated[
            str | None,
            typer.Option("--allow", help="allow-list of client keys with roles read|trade|admin (reloaded on change)"),
        ] = None,
        insecure: Annotated[
            bool, typer.Option("--insecure", help="allow a non-loopback --bind without CURVE (anyone could trade)")
        ] = False,
        replace: Annotated[
            bool, typer.Option("--replace", help="take over the name of a live runner registered under it")
        ] = False,
        data_dir: Annotated[
            str | None,
            typer.Option(
                "--data-dir",
                help="where the SQLite journal lives (default: $TRADEBUS_DATA_DIR, else the per-user data dir)",
            ),
        ] = None,
        journal: Annotated[
            str | None,
            typer.Option(
                "--journal", help="journal URL: postgresql://host/db?schema=NAME (default: SQLite in --data-dir)"
            ),
        ] = None,
        no_journal: Annotated[
            bool, typer.Option("--no-journal", help="journal nothing (orders are not recoverable after a restart)")
        ] = False,
        log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False)] = LogLevel.INFO,
        log_json: Annotated[
            bool,
            typer.Option("--log-json", envvar="TRADEBUS_LOG_JSON", help="JSON lines on stderr (for Loki)"),
        ] = False,
    ) -> None:
        overrides: dict[str, Any] = {
            "venue": venue,
            "mode": mode,
            "redis_url": redis_url,
            "bind": bind,
            "pub_port": pub_port,
            "router_port": router_port,
            "name": name,
            "secrets_file": secrets,
            "sim_port_base": sim_port_base,
            "sim_seed": sim_seed,
            "sim_connect": sim_connect,
            "sim_funding_interval_s": sim_funding_interval,
            "metrics_port": metrics_port,
            "metrics_bind": metrics_bind,
            "symbols": symbols.split(",") if symbols else None,
            "kinds": kinds.split(",") if kinds else None,
        }
        if cancel_on_exit:
            overrides["cancel_on_exit"] = True
        overrides["curve_key_file"] = curve_key
        overrides["allow_file"] = allow
        if insecure:
            overrides["insecure"] = True
        if replace:
            overrides["replace"] = True
        overrides["data_dir"] = data_dir
        overrides["journal"] = "off" if no_journal else journal
        if show:
            _show_config(exchange, overrides, config)
            return
        _run_exchange(exchange, overrides, config, log_level.value.upper(), log_json)

    command.__doc__ = summary if not show else f"Print the effective configuration of `runner {exchange.value}`."
    return command


_SUMMARIES = {
    Exchange.BINANCE: "Run the Binance runner (spot + USD-M perps). Default venue: the embedded simulator.",
    Exchange.BYBIT: "Run the Bybit runner (spot + linear perps). Default venue: the embedded simulator.",
    Exchange.OKX: "Run the OKX runner (spot + USDT swaps). Default venue: the embedded simulator.",
}
for _exchange, _summary in _SUMMARIES.items():
    app.command(_exchange.value)(_exchange_command(_exchange, _summary))


app.command("history")(history)

config_app = FlagApp(no_args_is_help=True, help="The runner's configuration.")
app.add_typer(config_app, name="config")
show_app = FlagApp(
    no_args_is_help=True,
    help="Print the effective configuration (defaults < --config file < TRADEBUS_* env < flags), secrets redacted.",
)
config_app.add_typer(show_app, name="show")
for _exchange, _summary in _SUMMARIES.items():
    show_app.command(_exchange.value)(_exchange_command(_exchange, _summary, show=True))


def _show_config(exchange: Exchange, overrides: dict[str, Any], path: Path | None) -> None:
    """TOML that ``--config`` reads back, each key with where its value came from; the Redis
    password, the CURVE secret and API keys are never printed (keys: only whether they are set)."""
    try:
        cfg = load_config(path, {**overrides, "exchange": exchange})
    except ConfigError as exc:
        _fail(str(exc))
        return
    file_keys: set[str] = set()
    if path is not None:
        doc = tomllib.loads(path.read_text())  # load_config read it already
        file_keys = set(doc.get("runner", doc))
    env_keys = set(env_overrides())
    flag_keys = {k for k, v in overrides.items() if v is not None}

    def source(key: str) -> str:
        if key == "exchange":
            return "command"
        if key in flag_keys:
            return "flag"
        if key in env_keys:
            return f"env TRADEBUS_{key.upper()}"
        if key == "redis_url" and os.environ.get("REDIS_URL") and key not in file_keys:
            return "env REDIS_URL"
        return "file" if key in file_keys else "default"

    data = msgspec.to_builtins(cfg)
    risk = data.pop("risk", {})
    data["redis_url"] = redact_url(cfg.redis_url)
    if cfg.curve_secret:
        data["curve_secret"] = "<redacted>"
    lines = [f"# runner {exchange.value} (tradebus {version()}): effective configuration", "[runner]"]
    for key, value in data.items():
        lines.append(f"{key} = {_toml_value(value)}  # {source(key)}")
    prefix = exchange.value.upper()
    for var in (f"{prefix}_API_KEY", f"{prefix}_API_SECRET", f"{prefix}_API_PASSPHRASE"):
        lines.append(f"# ${var}: {'set (not shown)' if os.environ.get(var) else 'not set'}")
    limits = _set_values(risk or {})
    if limits:
        lines.append("[risk]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in limits.items())
    typer.echo("\n".join(lines))


def _set_values(table: dict[str, Any]) -> dict[str, Any]:
    """``table`` without its unset (None) entries, nested tables included (TOML has no null)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            nested = _set_values(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


@app.command("ls")
def list_runners(
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help=f"default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
    ] = None,
) -> None:
    """List the runners registered in Redis, with the rate-limit headroom of their venue budgets."""
    import redis

    from strategy_client.wire import KEY_PREFIX, decode_record

    from .headroom import headroom_cell

    url = redis_url or os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = sorted(client.scan_iter(match=f"{KEY_PREFIX}*"))
        rows = []
        for key in keys:
            raw = client.get(key)
            if raw is None:
                continue
            try:
                rows.append(decode_record(raw if isinstance(raw, bytes) else raw.encode()))
            except Exception:  # noqa: BLE001 - a foreign or corrupt record is shown, not fatal
                typer.echo(f"{key.decode()}: unreadable record", err=True)
        headroom = {r.name: headroom_cell(client, r.rate_scopes, r.exchange.value) for r in rows}
    except (redis.RedisError, OSError) as exc:
        _fail(f"Redis unreachable at {redact_url(url)} ({exc})")
        return
    finally:
        client.close()
    if not rows:
        typer.echo(f"no runners registered in {redact_url(url)}")
        return
    now = time.time()
    width = max(len("HEADROOM"), *(len(cell) for cell in headroom.values()))
    typer.echo(
        f"{'NAME':<12} {'EXCHANGE':<9} {'MODE':<6} {'VENUE':<8} {'STATUS':<9} {'AGE':>7}  {'PID':>7}  "
        f"{'HEADROOM':<{width}}  ROUTER / PUB"
    )
    for r in rows:
        age = now - r.started_at_ms / 1000
        status = listed_status(r, now)  # a killed or hung runner is not shown `ready` until its TTL runs out
        typer.echo(
            f"{r.name:<12} {r.exchange.value:<9} {r.mode:<6} {r.venue:<8} {status:<9} {_age(age):>7}  "
            f"{r.pid:>7}  {headroom[r.name]:<{width}}  {r.router_endpoint} / {r.pub_endpoint}"
        )


keys_app = typer.Typer(no_args_is_help=True, help="CURVE keypairs for runners and clients (docs/security.md).")
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate(
    name: Annotated[str, typer.Argument(help="key name: NAME.key (public) and NAME.key_secret are written")],
    directory: Annotated[Path, typer.Option("--dir", help="where to write them")] = Path("keys"),
    allow_file: Annotated[
        Path | None, typer.Option("--allow-file", help="also append the public key to this allow-list")
    ] = None,
    role: Annotated[str, typer.Option("--role", help="role in --allow-file: read | trade | admin")] = "read",
) -> None:
    """Write a new CURVE keypair (files mode 0600; an existing key is never overwritten)."""
    from strategy_client.security import CurveKeyError, Role, write_keypair

    if role.upper() not in Role.__members__:
        _fail(f"--role {role!r} is not one of read, trade, admin")
        return
    try:
        public_path, secret_path = write_keypair(directory, name)
    except CurveKeyError as exc:
        _fail(str(exc))
        return
    from strategy_client.security import load_public_key

    public = load_public_key(public_path)
    typer.echo(f"public key {public}")
    typer.echo(f"wrote {public_path} (public) and {secret_path} (secret, mode 0600)")
    if allow_file is not None:
        with allow_file.open("a") as fh:
            fh.write(f"{role.lower():<6} {public}  {name}\n")
        typer.echo(f"added {name} as {role.lower()} to {allow_file}")


@keys_app.command("show")
def keys_show(path: Annotated[Path, typer.Argument(help="a .key or .key_secret file")]) -> None:
    """Print the public key of a key file (never the secret)."""
    from strategy_client.security import CurveKeyError, load_public_key

    try:
        typer.echo(load_public_key(path))
    except CurveKeyError as exc:
        _fail(str(exc))


risk_app = typer.Typer(no_args_is_help=True, help="The runners' pre-trade risk gate (docs/risk.md).")
app.add_typer(risk_app, name="risk")


@risk_app.command("show")
def risk_show(
    target: Annotated[
        str | None, typer.Argument(help="a runner name or an exchange (default: every registered runner)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document per runner, for machines")] = False,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help=f"default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the runners")] = 5.0,
) -> None:
    """Ask running runners (found in Redis, like ``runner ls``) for their risk state, limits and usage."""
    from strategy_client.errors import CoreApiError
    from strategy_client.router import ZmqRouter

    from .risk import render_risk_json, render_risk_table

    url = redis_url or os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)

    async def main() -> list[str]:
        async with ZmqRouter(url, default_timeout_s=timeout) as router:
            await router.wait_for_any(timeout_s=timeout)
            names = [router.resolve(target)] if target else sorted(router.records)
            out = []
            for name in names:
                rec = router.records[name]
                status = await router.runner(name).get_risk_status(rec.exchange)
                text = render_risk_json(status) if as_json else f"runner {name}\n{render_risk_table(status)}"
                out.append(text)
            return out

    try:
        texts = asyncio.run(main())
    except CoreApiError as exc:
        _fail(str(exc))
        return
    typer.echo("\n\n".join(texts) if not as_json else "\n".join(texts))


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


if __name__ == "__main__":
    app()
