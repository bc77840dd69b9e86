"""docs/contributing.md: Decimals are written without exponents — log lines included
(``"{}".format(Decimal("0E-8"))`` is ``0E-8``; issue 21 saw it in the runners' logs)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from loguru import logger

from strategy_client.telemetry.logs import plain_decimals, setup_logging


def test_log_lines_print_decimals_plainly() -> None:
    for as_json in (False, True):
        out = io.StringIO()
        setup_logging("INFO", json=as_json, stream=out, colorize=False)
        try:
            zero = Decimal(0).quantize(Decimal("1E-8"))  # Decimal('0E-8'), as quantized venue fields are
            logger.info("position {} uPnL {} fee {}", zero, Decimal("1.5E+3"), Decimal("-2E-5"))
        finally:
            setup_logging("INFO")
        text = out.getvalue()
        message = json.loads(text)["msg"] if as_json else text
        assert "position 0.00000000 uPnL 1500 fee -0.00002" in message, text
        assert "E-" not in message and "E+" not in message


def test_only_decimal_exponents_are_rewritten() -> None:
    assert plain_decimals("qty 0E-8, 1E+2 and 3.25E-3") == "qty 0.00000000, 100 and 0.00325"
    for untouched in ("order tb-1E-5x", "float 1e-08", "v1.2E-5", "BTC2E-5USDT", "huge 1E-999"):
        assert plain_decimals(untouched) == untouched
