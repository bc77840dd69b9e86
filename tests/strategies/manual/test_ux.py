"""Snags a new user hit in the REPL (issue 21): error lines name the user's own words once."""

from __future__ import annotations

import pytest

from strategies.manual.commands import CommandError, parse_line
from strategy_client.model import Exchange


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # the time in force as typed, never the enum's value ('post_only')
        ("buy BTCUSDT 1 2 post fok", "buy: give at most one of gtc, ioc, fok, post (got post and fok)"),
        ("sell BTCUSDT 1 2 fok post", "sell: give at most one of gtc, ioc, fok, post (got fok and post)"),
        ("buy BTCUSDT 1 2 post post", "buy: 'post' given twice"),
        ("buy BTCUSDT 1 post", "buy: post needs a limit price"),
        # one 'leverage:' prefix
        ("leverage BTCUSDT 2.5", "leverage: '2.5' is not a whole number"),
        ("leverage 2.5", "leverage: needs the instrument before the leverage '2.5'"),
    ],
)
def test_error_lines(line: str, message: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_line(line, Exchange.BINANCE)
    text = str(info.value)
    assert text.startswith(message), text
    assert "post_only" not in text and "leverage: leverage" not in text


def test_post_alone_is_a_post_only_limit() -> None:
    cmd = parse_line("buy BTCUSDT 0.01 60000 post", Exchange.BINANCE)
    assert cmd is not None and cmd.tif.value == "post_only"  # type: ignore[union-attr]
