"""OKX v5 (spot + USDT-margined swaps): the adapter, and the offline venue under ``sim/``."""
