"""``record``: runner market data (books, funding) → Parquet. See docs/market-data.md#recording.

    record --out PATH [--runner NAME ...] [--flush-rows N] [--flush-seconds S] [--timeseries postgresql://…]

Runs until SIGINT/SIGTERM, then writes everything received and exits 0. Bad arguments or an
output it cannot write: one line on stderr, exit 2.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Annotated

import typer
from typer._click.exceptions import ClickException

from strategy_client.cli_app import FlagApp, version_callback
from strategy_client.discovery import DEFAULT_REDIS_URL
from strategy_client.errors import DiscoveryError

from .app import Recorder, RecorderConfig
from .store import StoreError
from .timeseries import TimeseriesError

__all__ = ["app", "main"]

log = logging.getLogger("recorder")

app = FlagApp(
    add_completion=False,
    help="Record the runners' books and funding to Parquet, partitioned by venue/instrument/channel/date, "
    "until SIGINT/SIGTERM. See docs/market-data.md.",
)


def _fail(message: str) -> None:
    typer.echo(f"record: error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def record(
    out: Annotated[str, typer.Option("--out", help="output directory: a local path or any fsspec URL")],
    runner: Annotated[
        list[str] | None,
        typer.Option("--runner", help="a runner name to record (repeat; default: every runner, also later ones)"),
    ] = None,
    flush_rows: Annotated[
        int, typer.Option("--flush-rows", min=1, help="rows per file: a buffer this full is written")
    ] = 100_000,
    flush_seconds: Annotated[
        float, typer.Option("--flush-seconds", min=0.05, help="a buffer this old is written (the most a crash loses)")
    ] = 60.0,
    max_buffer_rows: Annotated[
        int, typer.Option("--max-buffer-rows", min=1, help="rows buffered over all partitions (≥ --flush-rows)")
    ] = 1_000_000,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help=f"runner discovery; default: $REDIS_URL, else {DEFAULT_REDIS_URL}")
    ] = None,
    timeseries: Annotated[
        str | None,
        typer.Option(
            "--timeseries",
            help="also upsert trades and bars into PostgreSQL: postgresql://host/db[?schema=NAME] "
            "(tables md_trades, md_bars; docs/market-data.md#timeseries)",
        ),
    ] = None,
    status_every: Annotated[
        float,
        typer.Option(
            "--status-every", min=0, help="a progress line this often, seconds: redrawn on a terminal, logged otherwise"
        ),
    ] = 10.0,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG | INFO | WARNING")] = "INFO",
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback("record"), is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Record until SIGINT/SIGTERM; everything received is written before exit."""
    if max_buffer_rows < flush_rows:
        _fail(f"--max-buffer-rows ({max_buffer_rows}) must be at least --flush-rows ({flush_rows})")
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = RecorderConfig(
        out=out,
        redis_url=redis_url,
        runners=tuple(runner or ()),
        flush_rows=flush_rows,
        flush_seconds=flush_seconds,
        max_buffer_rows=max_buffer_rows,
        timeseries=timeseries,
        status_every_s=status_every,
    )
    try:
        recorder = Recorder(config)
        asyncio.run(_serve(recorder))
    except (StoreError, DiscoveryError, TimeseriesError) as exc:
        _fail(str(exc))


async def _serve(recorder: Recorder) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(recorder.run(stop))
    ready = asyncio.create_task(recorder.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if recorder.ready.is_set():
        log.info("recording to %s (runners: %s)", recorder.store.url, ", ".join(recorder.config.runners) or "all")
    else:
        ready.cancel()
    await task
    st = recorder.stats
    log.info(
        "stopped: %d rows in %d files (%d bytes), %d gaps (%d events lost), %d write errors",
        st.rows,
        st.files,
        st.bytes,
        st.gaps,
        st.lost,
        st.write_errors,
    )
    if recorder.timeseries is not None:
        log.info(
            "PostgreSQL: %d trade/bar rows upserted, %d not sent (in Parquet only), %d write errors",
            st.timeseries_rows,
            recorder.timeseries_pending + st.timeseries_dropped,
            st.timeseries_errors,
        )
        recorder.timeseries.close()


def main() -> None:
    """The console script: usage errors are one line (``record: error: …``), exit 2."""
    try:
        code = app(standalone_mode=False)  # a typer.Exit in the command comes back as its code
    except ClickException as exc:
        typer.echo(f"record: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
