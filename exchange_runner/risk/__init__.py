"""The runner's pre-trade risk gate (see docs/risk.md).

:class:`RiskGate` checks each order synchronously against the ``[risk]`` limits and the trading
state (ACTIVE / REDUCING / HALTED), reading the account through :class:`RiskInputs`; a refused
order raises :class:`RiskRejected`. Limits load from TOML (:func:`parse_risk_section`) and render
for ``runner risk show`` (:func:`render_risk_table`, :func:`render_risk_json`).
"""

from .config import instrument_key_for, load_risk_file, parse_risk_section, resolve_limits
from .errors import RiskChangeRefused, RiskConfigError, RiskRejected
from .gate import DAY_MS, RiskGate, loosened_fields
from .inputs import MemoryInputs, OpenOrderTally, RiskInputs
from .metrics import risk_metric_families
from .reduce import reduces_exposure
from .render import render_risk_json, render_risk_table
from .throttle import MINUTE_NS, SECOND_NS, ClientThrottle, SlidingWindow
from .views import StateInputs

__all__ = [
    "DAY_MS",
    "MINUTE_NS",
    "SECOND_NS",
    "ClientThrottle",
    "MemoryInputs",
    "OpenOrderTally",
    "RiskChangeRefused",
    "RiskConfigError",
    "RiskGate",
    "RiskInputs",
    "RiskRejected",
    "SlidingWindow",
    "StateInputs",
    "instrument_key_for",
    "load_risk_file",
    "loosened_fields",
    "parse_risk_section",
    "reduces_exposure",
    "render_risk_json",
    "render_risk_table",
    "resolve_limits",
    "risk_metric_families",
]
