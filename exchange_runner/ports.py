"""Free local ports (for the embedded simulator and tests): see ``strategy_client.localports``."""

from __future__ import annotations

from strategy_client.localports import PortsExhausted, free_port, free_port_pair

__all__ = ["PortsExhausted", "free_port", "free_port_pair"]
