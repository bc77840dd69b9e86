"""tradebus strategies: the generic arbitrage layer and the spot-perp / perp-perp strategies.

Strategies import only :mod:`strategy_client` (the domain model, the wire vocabulary and the
client library); nothing here talks to a venue directly.
"""

__all__: list[str] = []
