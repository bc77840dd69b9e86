"""``tradebus-bridge``: runner events → NATS JetStream / RabbitMQ, and the Redis latest-state cache.

``tradebus-bridge run`` relays; ``tradebus-bridge status`` shows a running bridge's sinks and lanes (from Redis);
``tradebus-bridge acks`` lists the acknowledged points in a checkpoint file. See docs/bus.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Annotated

import msgspec
import redis
import redis.exceptions
import typer

from strategy_client.cli_app import FlagApp, version_callback
from strategy_client.discovery import DEFAULT_REDIS_URL
from strategy_client.errors import DiscoveryError

from .app import Bridge, BridgeConfig, BridgeStatus, status_key
from .checkpoint import CheckpointStore, checkpoint_path
from .envelope import PayloadFormat
from .sinks import NatsOptions, RabbitOptions, SinkConfigError, parse_queue_binding

__all__ = ["app", "main"]

app = FlagApp(
    no_args_is_help=True,
    add_completion=False,
    help="Relay runner events to NATS JetStream and RabbitMQ (outbox semantics: resume from the last "
    "acknowledged point, ids for de-duplication) and keep the latest state in Redis. See docs/bus.md.",
)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback("tradebus-bridge"), is_eager=True, help="print the version"
        ),
    ] = False,
) -> None:
    pass


def _fail(message: str) -> None:
    typer.echo(f"bridge: error: {message}", err=True)
    raise typer.Exit(2)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


@app.command("run")
def run(
    nats: Annotated[
        str | None, typer.Option("--nats", help="NATS server URL, e.g. nats://127.0.0.1:4222 (JetStream sink)")
    ] = None,
    rabbit: Annotated[
        str | None, typer.Option("--rabbit", help="AMQP URL, e.g. amqp://guest:guest@127.0.0.1:5672/ (RabbitMQ sink)")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help=f"runner discovery; default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
    ] = None,
    runners: Annotated[
        str | None,
        typer.Option("--runners", help="comma-separated runner names (default: every runner, also later ones)"),
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option("--kinds", help="comma-separated topic kinds: ob,exec,pos,fund,acct,status,risk (default: all)"),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="this bridge's name (checkpoint file, status key)")] = "bridge",
    fmt: Annotated[
        PayloadFormat, typer.Option("--format", help="payload encoding", case_sensitive=False)
    ] = PayloadFormat.JSON,
    prefix: Annotated[str, typer.Option("--subject-prefix", help="first token of every NATS subject")] = "tradebus",
    stream: Annotated[str, typer.Option("--nats-stream", help="JetStream stream (created or updated)")] = "TRADEBUS",
    retention: Annotated[str, typer.Option("--nats-retention", help="limits | interest | workqueue")] = "limits",
    storage: Annotated[str, typer.Option("--nats-storage", help="file | memory")] = "file",
    max_age: Annotated[
        float, typer.Option("--nats-max-age", help="seconds a message is kept (0: no limit)")
    ] = 86_400.0,
    max_bytes: Annotated[int, typer.Option("--nats-max-bytes", help="stream size limit (-1: none)")] = -1,
    max_per_subject: Annotated[
        int, typer.Option("--nats-max-msgs-per-subject", help="messages kept per subject (-1: no limit)")
    ] = -1,
    dedup_window: Annotated[
        float, typer.Option("--nats-dedup-window", help="seconds JetStream remembers message ids")
    ] = 120.0,
    rabbit_exchange: Annotated[
        str, typer.Option("--rabbit-exchange", help="topic exchange (durable)")
    ] = "tradebus.events",
    rabbit_queues: Annotated[
        list[str] | None,
        typer.Option(
            "--rabbit-queue",
            help="NAME=PATTERN: declare a durable queue bound to the exchange, e.g. ws-gateway.order=exec.#",
        ),
    ] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="keep the latest state in Redis hashes")] = True,
    cache_redis_url: Annotated[
        str | None, typer.Option("--cache-redis-url", help="default: the discovery Redis")
    ] = None,
    cache_ttl_md: Annotated[
        float, typer.Option("--cache-ttl-md", help="TTL of book/price/funding/status hashes, s")
    ] = 60.0,
    cache_ttl_state: Annotated[
        float, typer.Option("--cache-ttl-state", help="TTL of position/balance hashes, s")
    ] = 86_400.0,
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir", help="where the checkpoint lives (default: $TRADEBUS_DATA_DIR, else the per-user data dir)"
        ),
    ] = None,
    checkpoint: Annotated[
        str | None, typer.Option("--checkpoint", help="checkpoint file (default <data dir>/bridge-<name>.sqlite3)")
    ] = None,
    start: Annotated[
        str,
        typer.Option(
            "--start", help="with no checkpoint yet: earliest (the runner's whole journal) | latest (from now)"
        ),
    ] = "earliest",
    buffer: Annotated[
        int, typer.Option("--buffer", help="events queued per runner and sink before the overflow policy")
    ] = 2_000,
    batch: Annotated[int, typer.Option("--batch", help="messages per acknowledged batch")] = 256,
    metrics_port: Annotated[
        int, typer.Option("--metrics-port", help="serve Prometheus /metrics on this port (0 = off)")
    ] = 0,
    metrics_bind: Annotated[
        str, typer.Option("--metrics-bind", help="address the metrics port binds to")
    ] = "127.0.0.1",
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG | INFO | WARNING")] = "INFO",
) -> None:
    """Relay events until SIGINT/SIGTERM. At least one of --nats, --rabbit, --cache."""
    if start not in ("earliest", "latest"):
        _fail(f"--start must be earliest or latest, got {start!r}")
    if nats is None and rabbit is None and not cache:
        _fail("nothing to do: give --nats and/or --rabbit (or keep --cache)")
    try:
        queues = tuple(parse_queue_binding(q) for q in rabbit_queues or ())
    except ValueError as exc:
        _fail(str(exc))
    config = BridgeConfig(
        name=name,
        redis_url=redis_url,
        runners=_split(runners),
        kinds=_split(kinds),
        nats=NatsOptions(
            url=nats,
            stream=stream,
            prefix=prefix,
            retention=retention,
            storage=storage,
            max_age_s=max_age,
            max_bytes=max_bytes,
            max_msgs_per_subject=max_per_subject,
            duplicate_window_s=dedup_window,
        )
        if nats
        else None,
        rabbit=RabbitOptions(url=rabbit, exchange=rabbit_exchange, queues=queues) if rabbit else None,
        fmt=fmt,
        cache=cache,
        cache_redis_url=cache_redis_url,
        cache_ttl_md_s=cache_ttl_md,
        cache_ttl_state_s=cache_ttl_state,
        data_dir=data_dir,
        checkpoint=checkpoint,
        start=start,
        capacity=buffer,
        batch_max=batch,
        metrics_port=metrics_port,
        metrics_bind=metrics_bind,
    )
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("nats", "aiormq", "aio_pika"):  # their tracebacks per retry; the bridge logs one line per outage
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        asyncio.run(_serve(config))
    except DiscoveryError as exc:
        _fail(str(exc))
    except ExceptionGroup as group:
        refused = group.subgroup(SinkConfigError)
        if refused is None:
            raise
        _fail("; ".join(str(e) for e in refused.exceptions))


async def _serve(config: BridgeConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await Bridge(config).run(stop)


def _read_status(redis_url: str | None, name: str) -> BridgeStatus | None:
    url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_timeout=2.0)
    try:
        raw = client.get(status_key(name))
    except (redis.exceptions.RedisError, OSError) as exc:
        _fail(f"cannot read Redis at {url}: {exc}")
    finally:
        client.close()
    return msgspec.json.decode(raw, type=BridgeStatus) if isinstance(raw, bytes) else None


@app.command("status")
def status(
    name: Annotated[str, typer.Option("--name", help="the bridge's name")] = "bridge",
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help=f"default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="the whole status as JSON")] = False,
) -> None:
    """A running bridge's sinks (up/down, outages), lanes (acknowledged point, lag) and latency."""
    st = _read_status(redis_url, name)
    if st is None:
        _fail(f"no bridge {name!r} is running (no status in Redis)")
        return
    if json_out:
        typer.echo(msgspec.json.format(msgspec.json.encode(st)).decode())
        return
    for s in st.sinks:
        state = "UP" if s.up else f"DOWN ({s.last_error})"
        typer.echo(
            f"sink {s.name}: {state}; published {s.published}, outages {s.outages}, duplicates {s.duplicates}, "
            f"unroutable {s.unroutable}"
        )
    for lane in st.lanes:
        typer.echo(
            f"  {lane.runner} → {lane.sink}: acked jseq {lane.acked_jseq}, head {lane.head_jseq}, lag {lane.lag}, "
            f"queued {lane.queued}/{lane.capacity}, replayed {lane.replayed}, journal {lane.journal}"
        )
    if st.cache is not None:
        typer.echo(f"cache: {'UP' if st.cache.up else 'DOWN ' + st.cache.last_error}; {st.cache.writes} writes")


@app.command("acks")
def acks(
    name: Annotated[str, typer.Option("--name", help="the bridge's name")] = "bridge",
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="as given to bridge run")] = None,
    checkpoint: Annotated[str | None, typer.Option("--checkpoint", help="as given to bridge run")] = None,
) -> None:
    """The acknowledged point of every (sink, runner) in the checkpoint file."""
    path = checkpoint_path(name, data_dir, checkpoint)
    if not path.exists():
        _fail(f"no checkpoint at {path}")
    store = CheckpointStore(path)
    try:
        for ack in store.all():
            typer.echo(f"{ack.sink}\t{ack.runner}\t{ack.jseq}\t{ack.topic}\t{ack.updated_ms}")
    finally:
        store.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
