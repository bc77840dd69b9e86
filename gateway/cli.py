"""``tradebus gateway``: the REST + WebSocket API and web UI over the runners, and its API keys.

    tradebus gateway run [--host 127.0.0.1] [--port 8710] [--tls-cert F --tls-key F] [--redis-url URL]
                         [--data-dir DIR | --journal URL] [--name gateway] [--rate 20] [--burst 40]
    tradebus gateway keys create --role read|trade|admin [--label TEXT]
    tradebus gateway keys list
    tradebus gateway keys revoke ID

Bad arguments, an unusable database or a port in use: one line on stderr, exit 2. See docs/gateway.md.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from strategy_client.cli_app import FlagApp, LogLevel, version_callback
from strategy_client.discovery import DEFAULT_REDIS_URL

if TYPE_CHECKING:
    from .store import GatewayStore

__all__ = ["app", "main"]

app = FlagApp(
    no_args_is_help=True,
    add_completion=False,
    help="The gateway: REST + WebSocket API and web UI over every runner, API keys with roles. See docs/gateway.md.",
)
keys_app = FlagApp(no_args_is_help=True, help="API keys: create (printed once), list, revoke.")
app.add_typer(keys_app, name="keys")

DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="the gateway's database and the journals it reads (default: $TRADEBUS_DATA_DIR, else the per-user dir)",
    ),
]
JournalOpt = Annotated[
    str | None,
    typer.Option("--journal", help="postgresql://host/db?schema=NAME: the gateway's tables and the journals there"),
]
NameOpt = Annotated[str, typer.Option("--name", help="this gateway's name (its database file gateway-<name>.sqlite3)")]


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback("tradebus gateway"), is_eager=True, help="print the version"
        ),
    ] = False,
) -> None:
    pass


def _fail(message: str) -> NoReturn:
    typer.echo(f"gateway: error: {message}", err=True)
    raise typer.Exit(2)


def _store(journal: str | None, data_dir: str | None, name: str, *, create: bool = True) -> GatewayStore:
    from .store import GatewayStore, StoreError, gateway_target

    target = gateway_target(journal, data_dir, name)
    if not create and target.dialect == "sqlite" and not Path(target.path).exists():
        _fail(f"no gateway database at {target.path} (no key was created with this --data-dir/--name)")

    try:
        return GatewayStore(target)
    except StoreError as exc:
        _fail(str(exc))


@app.command("run")
def run(
    host: Annotated[
        str, typer.Option("--host", help="address to bind (a non-loopback address needs --tls-cert)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port (0: any free port)")] = 8710,
    tls_cert: Annotated[str | None, typer.Option("--tls-cert", help="PEM certificate: serve HTTPS/WSS")] = None,
    tls_key: Annotated[str | None, typer.Option("--tls-key", help="PEM private key of --tls-cert")] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help=f"runner discovery; default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
    ] = None,
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    name: NameOpt = "gateway",
    rate: Annotated[float, typer.Option("--rate", help="requests per second per API key")] = 20.0,
    burst: Annotated[float, typer.Option("--burst", help="burst per API key")] = 40.0,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="seconds a runner call may take (an order's: then its outcome is unknown)"),
    ] = 10.0,
    insecure: Annotated[bool, typer.Option("--insecure", help="allow a non-loopback --host without TLS")] = False,
    log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False)] = LogLevel.INFO,
) -> None:
    """Serve the API and the UI until SIGINT/SIGTERM."""
    from strategy_client.errors import DiscoveryError

    from .app import Gateway, GatewayConfig

    if (tls_cert is None) != (tls_key is None):
        _fail("give both --tls-cert and --tls-key")
    if not 0 <= port <= 65535:
        _fail(f"--port {port} is not a port")
    if not 0.1 <= timeout <= 120:
        _fail(f"--timeout {timeout:g}: between 0.1 and 120 s")
    if rate <= 0 or burst < 1:
        _fail("--rate must be > 0 and --burst >= 1")
    if host not in ("127.0.0.1", "localhost", "::1") and tls_cert is None and not insecure:
        _fail(
            f"refusing to serve {host} without TLS: API keys would cross the network in clear; "
            "give --tls-cert/--tls-key or pass --insecure"
        )
    logging.basicConfig(
        level=getattr(logging, log_level.value.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin lines when it creates the tables
    config = GatewayConfig(
        host=host,
        port=port,
        name=name,
        redis_url=redis_url,
        journal=journal,
        data_dir=data_dir,
        tls_cert=tls_cert,
        tls_key=tls_key,
        rate=rate,
        burst=burst,
        timeout_s=timeout,
    )
    store = _store(journal, data_dir, name)
    try:
        asyncio.run(_serve(Gateway(config, store)))
    except (DiscoveryError, OSError, ExceptionGroup) as exc:
        cause = _start_failure(exc)
        if cause is None:
            raise
        if isinstance(cause, OSError) and not isinstance(cause, DiscoveryError):
            _fail(f"cannot serve on {host}:{port}: {cause.strerror or cause}")
        _fail(str(cause))


def _start_failure(exc: BaseException) -> BaseException | None:
    """What stopped the start (Redis unreadable, the port taken), also out of a task group."""
    from strategy_client.errors import DiscoveryError

    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _start_failure(inner)
            if found is not None:
                return found
        return None
    return exc if isinstance(exc, DiscoveryError | OSError) else None


async def _serve(gateway: object) -> None:
    from .app import Gateway

    assert isinstance(gateway, Gateway)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def announce() -> None:
        await gateway.ready.wait()
        print(f"gateway: serving {gateway.url}/ (API {gateway.url}/api/v1/, docs/gateway.md)", flush=True)

    async with asyncio.TaskGroup() as tg:
        said = tg.create_task(announce())
        try:
            await gateway.run(stop)
        finally:
            said.cancel()


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="read | trade | admin")] = "read",
    label: Annotated[str, typer.Option("--label", help="who or what uses it")] = "",
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    name: NameOpt = "gateway",
) -> None:
    """Create a key and print it (once: only its hash is stored)."""
    from .models import Role

    try:
        r = Role(role.lower())
    except ValueError:
        _fail(f"--role must be read, trade or admin, got {role!r}")
        return
    store = _store(journal, data_dir, name)
    try:
        info, key = store.create_key(r, label)
    finally:
        store.close()
    typer.echo(key)
    typer.echo(
        f"key {info.key_id}: role {info.role.value}, label {info.label!r} — keep it: it is not shown again", err=True
    )


@keys_app.command("list")
def keys_list(data_dir: DataDirOpt = None, journal: JournalOpt = None, name: NameOpt = "gateway") -> None:
    """Every key: id, role, label, created, revoked."""
    import datetime as dt

    store = _store(journal, data_dir, name, create=False)
    try:
        keys = store.list_keys()
    finally:
        store.close()
    for k in keys:
        created = dt.datetime.fromtimestamp(k.created_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        revoked = "" if k.revoked_ms is None else " REVOKED"
        typer.echo(f"{k.key_id}\t{k.role.value}\t{created}\t{k.label}{revoked}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (tbk_<id>_…)")],
    data_dir: DataDirOpt = None,
    journal: JournalOpt = None,
    name: NameOpt = "gateway",
) -> None:
    """Revoke a key (a running gateway refuses it within 5 s)."""
    store = _store(journal, data_dir, name, create=False)
    try:
        done = store.revoke_key(key_id)
    finally:
        store.close()
    if not done:
        _fail(f"no live key {key_id!r}")
    typer.echo(f"revoked {key_id}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
