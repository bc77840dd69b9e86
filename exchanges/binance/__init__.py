"""Binance Spot and USD-M Futures: adapter, protocol schemas and the offline venue dialect."""
