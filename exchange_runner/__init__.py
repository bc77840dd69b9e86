"""tradebus ExchangeRunner: one process per venue holding its live state."""
