"""The gateway: an authenticated REST + WebSocket API (and the web UI) over every runner, with a
durable command flow (docs/gateway.md). ``tradebus gateway run``; the umbrella ``tradebus``
command is :mod:`gateway.umbrella`."""

__all__: list[str] = []
