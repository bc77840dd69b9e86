"""``tradebus``: one console command whose name cannot collide with other tools on a PATH.

``tradebus runner …``, ``tradebus strategy …``, ``tradebus bridge …``, ``tradebus record …`` and
``tradebus gateway …`` run the same programs as the console scripts ``runner``, ``strategy``,
``tradebus-bridge`` and ``record`` (which keep working) and the gateway's CLI. The target is
imported only when it runs, so ``tradebus --help`` starts fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COMMANDS", "main"]

#: subcommand → (entry point "module:attribute", one line of help). The entry points are the
#: console scripts' own (pyproject.toml [project.scripts]).
COMMANDS: dict[str, tuple[str, str]] = {
    "runner": ("exchange_runner.cli:app", "exchange runners: run one per venue, ls, keys, risk, history"),
    "strategy": ("strategies.cli:app", "strategies: spotperp, perpperp, manual REPL, history, report"),
    "bridge": ("bridge.cli:app", "relay runner events to NATS JetStream / RabbitMQ (tradebus-bridge)"),
    "record": ("recorder.cli:main", "record books and funding to Parquet"),
    "gateway": ("gateway.cli:app", "REST + WebSocket API and web UI over the runners; API keys"),
}


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    rows = "\n".join(f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items())
    return (
        "usage: tradebus COMMAND [ARGS]...\n\n"
        "tradebus: cross-venue crypto trading runtime (docs/gateway.md for the gateway).\n\n"
        f"commands:\n{rows}\n\n"
        "`tradebus COMMAND --help` shows a command's options; `tradebus --version` the version.\n"
    )


def _entry(spec: str) -> Callable[[], Any]:
    module, _, attr = spec.partition(":")
    target: Callable[[], Any] = getattr(importlib.import_module(module), attr)
    return target


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(_usage())
        sys.exit(0 if args else 2)
    if args[0] == "--version":
        version = importlib.import_module("strategy_client").__version__
        sys.stdout.write(f"tradebus {version}\n")
        sys.exit(0)
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"tradebus: error: unknown command {name!r} (one of: {', '.join(COMMANDS)})\n")
        sys.exit(2)
    # the target reads sys.argv as its console script would; its usage lines say `tradebus NAME`
    sys.argv = [f"tradebus {name}", *rest]
    result = _entry(COMMANDS[name][0])()
    if isinstance(result, int) and result:
        sys.exit(result)


if __name__ == "__main__":
    main()
