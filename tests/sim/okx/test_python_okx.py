"""OKX's official SDK (python-okx) against the offline venue, only ``domain`` changed.

``flag="0"`` (live) and ``flag="1"`` (demo) both work: the venue's default ``environment`` is
``any``. The SDK signs ``json.dumps`` bodies (with spaces) and unencoded queries; the venue
hashes the bytes as received.
"""

from __future__ import annotations

from collections.abc import Iterator

import okx.Account as Account
import okx.MarketData as MarketData
import okx.PublicData as PublicData
import okx.Trade as Trade
import pytest

from exchanges.okx.sim import OkxSim, OkxSimOptions, ThreadedOkxSim
from tests.helpers import free_port

# the SDK posts ``data=<str>``, which httpx deprecates: its warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def sim() -> Iterator[ThreadedOkxSim]:
    with OkxSim.in_thread(port=free_port(), seed=5, options=OkxSimOptions(enforce_rate_limits=False)) as running:
        running.call(lambda s: s.venue.pause(True))
        yield running


@pytest.mark.parametrize("flag", ["0", "1"])
def test_sdk_trade_and_account(sim: ThreadedOkxSim, flag: str) -> None:
    keys = {"api_key": sim.api_key, "api_secret_key": sim.api_secret, "passphrase": sim.passphrase}
    trade = Trade.TradeAPI(**keys, flag=flag, domain=sim.urls.rest, debug=False)
    account = Account.AccountAPI(**keys, flag=flag, domain=sim.urls.rest, debug=False)
    cid = f"sdk{flag}"
    placed = trade.place_order(
        instId="BTC-USDT-SWAP", tdMode="cross", side="buy", ordType="limit", px="50000", sz="1", clOrdId=cid
    )
    assert placed["code"] == "0" and placed["data"][0]["sCode"] == "0"
    got = trade.get_order(instId="BTC-USDT-SWAP", clOrdId=cid)
    assert got["data"][0]["state"] == "live" and got["data"][0]["sz"] == "1"
    amended = trade.amend_order(instId="BTC-USDT-SWAP", clOrdId=cid, newSz="2", newPx="49900", reqId="r1")
    assert amended["code"] == "0" and amended["data"][0]["reqId"] == "r1"
    assert amended["data"][0]["ordId"] == placed["data"][0]["ordId"]  # same order
    got = trade.get_order(instId="BTC-USDT-SWAP", clOrdId=cid)["data"][0]
    assert (got["sz"], got["px"], got["state"]) == ("2", "49900", "live")
    gone = trade.amend_order(instId="BTC-USDT-SWAP", ordId="999999", newSz="3")
    assert gone["code"] == "1" and gone["data"][0]["sCode"] == "51503"
    assert cid in {o["clOrdId"] for o in trade.get_order_list(instType="SWAP")["data"]}
    assert trade.cancel_order(instId="BTC-USDT-SWAP", clOrdId=cid)["code"] == "0"
    assert trade.get_order(instId="BTC-USDT-SWAP", clOrdId=cid)["data"][0]["state"] == "canceled"
    market = trade.place_order(instId="ETH-USDT-SWAP", tdMode="cross", side="buy", ordType="market", sz="3")
    assert market["code"] == "0"
    positions = account.get_positions(instType="SWAP")["data"]
    assert any(p["instId"] == "ETH-USDT-SWAP" and p["pos"] != "0" for p in positions)
    assert account.set_leverage(instId="BTC-USDT-SWAP", lever="10", mgnMode="cross")["data"][0]["lever"] == "10"
    balance = account.get_account_balance()["data"][0]
    assert any(d["ccy"] == "USDT" for d in balance["details"])
    assert account.get_account_config()["data"][0]["posMode"] == "net_mode"
    failed = trade.place_order(
        instId="BTC-USDT-SWAP", tdMode="cross", side="buy", ordType="limit", px="50000", sz="0.001"
    )
    assert failed["code"] == "1" and failed["data"][0]["sCode"] == "51121"


def test_sdk_public_data(sim: ThreadedOkxSim) -> None:
    market = MarketData.MarketAPI(flag="0", domain=sim.urls.rest, debug=False)
    public = PublicData.PublicAPI(flag="0", domain=sim.urls.rest, debug=False)
    book = market.get_orderbook(instId="BTC-USDT-SWAP", sz="5")["data"][0]
    assert len(book["asks"]) == 5 and len(book["asks"][0]) == 4
    assert market.get_ticker(instId="BTC-USDT")["data"][0]["instId"] == "BTC-USDT"
    assert {i["instId"] for i in public.get_instruments(instType="SWAP")["data"]} == {"BTC-USDT-SWAP", "ETH-USDT-SWAP"}
    rate = public.get_funding_rate(instId="BTC-USDT-SWAP")["data"][0]
    assert rate["fundingTime"] < rate["nextFundingTime"]
    assert public.get_mark_price(instType="SWAP")["code"] == "0"
