"""Bybit v5 (unified account: spot + USDT linear perpetuals): adapter, schemas and the offline venue dialect."""
