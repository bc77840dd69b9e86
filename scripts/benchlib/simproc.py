"""The offline Binance venue as the benchmark's own process (``python -m benchlib.simproc``).

The same ``BinanceSim`` as ``python -m exchanges.sim binance``, with two differences that only
matter to a benchmark: it runs on uvloop with its startup heap frozen out of the garbage
collector's way (the load generator should cost as little CPU, and pause as little, as the code
allows on a 2-core machine), and rate limits are not enforced (tick-to-order sends more orders
than Binance's 300 per 10 s). ``--extra-symbols N`` lists N synthetic pairs ``SYM001USDT`` … more
(the scaling bench). Prints ``ready <port_base>`` once serving; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

from exchanges.binance.sim import BinanceSim, BinanceSimOptions
from exchanges.binance.sim.synthetic import extra_symbol_name, with_extra_symbols

__all__ = ["main"]


async def serve(port_base: int, seed: int, symbols: list[str], extra_symbols: int = 0) -> None:
    sim = BinanceSim(
        port_base=port_base,
        config=with_extra_symbols(None, extra_symbols),
        seed=seed,
        symbols=[*symbols, *(extra_symbol_name(i) for i in range(1, extra_symbols + 1))],
        options=BinanceSimOptions(enforce_rate_limits=False),
    )
    await sim.start()
    gc.collect()
    gc.freeze()  # the startup heap out of the collector's way, as the runner does (exchange_runner.gctune)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {port_base}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-base", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    parser.add_argument("--extra-symbols", type=int, default=0, help="synthetic pairs SYM001USDT… listed too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    coro = serve(args.port_base, args.seed, symbols, args.extra_symbols)
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
