"""The web UI in headless Chromium over a real gateway + runner (the offline Binance venue):
the dashboard loads live, the book ticks, an order placed from the ticket shows in open orders
and is cancelled from there, a strategy's PnL chart draws, and the stream resumes after a drop.

The tests share one browser page and run in file order (each leaves the page usable for the next).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, TypeVar

import pytest

from tests.helpers import eventually_sync

from .conftest import PERP, STRATEGY, Stack

T = TypeVar("T")
pytestmark = pytest.mark.timeout(90)


def wait(check: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    return eventually_sync(check, timeout=timeout, interval=0.1, what=what)


def js(d: Any, script: str, *args: Any) -> Any:
    return d.execute_script(script, *args)


def text(d: Any, css: str) -> str:
    got = js(d, "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)
    return "" if got is None else str(got)


def shot(d: Any, stack: Stack, name: str) -> None:
    d.save_screenshot(str(stack.shots / f"{name}.png"))


def severe_console_errors(d: Any) -> list[str]:
    """Browser console errors since the last call (the page fixture drains the expected 401s
    of the checks before the login)."""
    return [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]


def passive_buy(stack: Stack, below: Decimal, lots: int) -> tuple[Decimal, Decimal]:
    """A buy price on the perp's tick at ``below`` × the best bid (it rests) and ``lots`` × min qty."""
    inst = stack.api("GET", f"/instruments/{PERP}")
    bid = Decimal(stack.api("GET", f"/books/{PERP}", params={"depth": 1})["book"]["bids"][0][0])
    tick = Decimal(inst["tick_size"])
    return (bid * below / tick).to_integral_value(ROUND_DOWN) * tick, Decimal(inst["min_qty"]) * lots


VERDICT = "const v = document.querySelector('#ticket-preview [data-verdict]'); return v && v.dataset.verdict"


def fill_ticket(page: Any, side: str, qty: Decimal, price: Decimal | None = None, *, reduce_only: bool = False) -> str:
    """Fill the ticket for the perp (limit when ``price``, else market); the preview's verdict."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(page.find_element(By.ID, "ticket-key")).select_by_value(PERP)
    page.find_element(By.CSS_SELECTOR, f'#ticket button[data-side="{side}"]').click()
    page.find_element(By.CSS_SELECTOR, f'#ticket button[data-type="{"market" if price is None else "limit"}"]').click()
    for field, value in (("ticket-qty", qty), ("ticket-price", price)):
        if value is not None:
            el = page.find_element(By.ID, field)
            el.clear()
            el.send_keys(str(value))
    if page.find_element(By.ID, "ticket-reduce").is_selected() != reduce_only:
        page.find_element(By.ID, "ticket-reduce").click()

    def previewed() -> str | None:  # the verdict once the preview shows this ticket
        sent = (text(page, "#ticket-preview dl dd:nth-of-type(2)"), text(page, "#ticket-preview dl dd:nth-of-type(3)"))
        verdict = js(page, VERDICT)
        if not verdict or verdict == "error":
            return verdict or None
        try:
            same = Decimal(sent[0]) == qty and (sent[1] == "market" if price is None else Decimal(sent[1]) == price)
        except InvalidOperation:
            same = verdict == "invalid"  # no order to show: the filters refused it
        return verdict if same else None

    return wait(previewed, "the preview of this ticket")


def send_ticket(page: Any) -> None:
    wait(lambda: page.find_element("id", "ticket-submit").is_enabled(), "send enabled")
    page.find_element("id", "ticket-submit").click()


@pytest.fixture(scope="module")
def page(browser: Any, stack: Stack) -> Any:
    """The dashboard, signed in with a pasted API key."""
    from selenium.webdriver.common.by import By

    browser.get(stack.url + "/")
    wait(lambda: js(browser, "return document.getElementById('login').open"), "the login dialog")
    browser.find_element(By.ID, "login-key").send_keys(stack.key)
    browser.find_element(By.ID, "login-submit").click()
    wait(lambda: not js(browser, "return document.getElementById('login').open"), "the login to close")
    severe_console_errors(browser)  # the 401s that showed the login
    return browser


def test_the_dashboard_loads_live(page: Any, stack: Stack) -> None:
    name = stack.runner.name
    wait(lambda: text(page, f'#runners tr[data-row-id="{name}"] [data-col="status"]') == "ready", "the runner, ready")
    wait(lambda: js(page, "return document.getElementById('conn').dataset.state") == "live", "the stream to go live")
    wait(lambda: page.find_elements("css selector", f'#markets tr[data-row-id="{PERP}"]'), "the markets")
    assert text(page, "#whoami").endswith("admin")
    assert text(page, "#trading-state") == "ACTIVE"
    shot(page, stack, "01-dashboard")
    assert severe_console_errors(page) == []


def test_money_is_shown_exactly_as_the_decimal_strings(page: Any) -> None:
    """fmt.js (every number the UI shows) in the page itself: no float ever touches money."""
    got = page.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        import('/static/js/fmt.js').then((f) => done({
          dec: [f.dec('50000.10000000'), f.dec('0E-8'), f.dec('1E-8'), f.dec('-1.5E+3'), f.dec('-0.000')],
          fixed: [f.fixed('9.999', 2), f.fixed('1.235', 2), f.fixed('-0.001', 2), f.fixed('5', 3)],
          exact: [f.add('0.1', '0.2'), f.sub('1', '1.000000000000000001'), f.mul('123456789.123456789', '-0.001')],
          signed: [f.signedFixed('4.35', 4), f.signedFixed('-0.00001', 4), f.signed('2.50')],
          key: f.keyText(['binance', 'BTCUSDT', 'perp']),
        })).catch((e) => done(String(e)));
        """
    )
    assert got == {
        "dec": ["50000.1", "0", "0.00000001", "-1500", "0"],
        "fixed": ["10.00", "1.24", "0.00", "5.000"],
        "exact": ["0.3", "-0.000000000000000001", "-123456.789123456789"],
        "signed": ["+4.3500", "0.0000", "+2.5"],
        "key": "binance:perp:BTCUSDT",
    }


def test_the_store_keeps_the_newest_order_state_and_each_fill_once(page: Any) -> None:
    """store.js (a fresh instance of the module) fed a command's late reply and a replayed fill."""
    got = page.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        import('/static/js/store.js?fresh').then((s) => {
          const key = ['binance', 'BTCUSDT', 'perp'];
          const order = (status, ts, filled) => ({ key, client_id: 'c1', venue_id: '9', side: 'buy', type: 'limit',
            tif: 'gtc', price: '100', qty: '2', filled_qty: filled, status, updated_ts_ms: ts });
          const fill = { key, client_id: 'c1', venue_id: '9', trade_id: 't1', side: 'buy', price: '100', qty: '2',
            fee: '0.1', fee_asset: 'USDT', is_maker: true, ts_ms: 3 };
          s.applyEvent('r1', { event: 'order', order: order('new', 1, '0') });
          s.applyEvent('r1', { event: 'order', kind: 'fill', order: order('filled', 3, '2'), fill });
          s.applyEvent('r1', { event: 'order', kind: 'fill', order: order('filled', 3, '2'), fill });  // replayed
          s.applyEvent('', { event: 'order', order: order('new', 1, '0') });  // the submit's reply, late
          const st = s.state;
          done({ open: st.orders.size, history: st.history.map((o) => o.status), fills: st.fills.length });
        }).catch((e) => done(String(e)));
        """
    )
    assert got == {"open": 0, "history": ["filled"], "fills": 1}


def test_the_book_ticks(page: Any, stack: Stack) -> None:
    page.find_element("css selector", f'#markets tr[data-row-id="{PERP}"]').click()
    wait(lambda: text(page, "#book-key") == PERP, "the perp selected")

    def best() -> tuple[str, str] | None:
        got = js(
            page,
            "const bid = document.querySelector('[data-testid=book-best-bid]');"
            " const ask = document.querySelector('[data-testid=book-best-ask]');"
            " return bid && ask ? [bid.textContent, ask.textContent] : null;",
        )
        return (got[0], got[1]) if got else None

    first = wait(best, "the best bid and ask")
    assert Decimal(first[0]) < Decimal(first[1])  # one render: bid below ask
    wait(lambda: best() != first, "a best price to change (live book events)", timeout=20)
    wait(lambda: text(page, "#book-refs div:nth-child(2) span") not in ("", "—"), "the mark price")
    # a click on a level puts its price in the ticket (read and clicked in one turn: the book ticks)
    clicked = js(
        page, "const r = document.querySelector('#book .lv.bid[data-level=\"1\"]'); r.click(); return r.dataset.price;"
    )
    wait(lambda: page.find_element("id", "ticket-price").get_attribute("value") != "", "the ticket's price")
    assert Decimal(page.find_element("id", "ticket-price").get_attribute("value")) == Decimal(clicked)
    shot(page, stack, "02-book")


def test_an_order_from_the_ticket_is_placed_and_cancelled(page: Any, stack: Stack) -> None:
    from selenium.webdriver.common.by import By

    price, qty = passive_buy(stack, Decimal("0.97"), 3)
    before = {o["client_id"] for o in stack.api("GET", "/orders")}

    verdict = fill_ticket(page, "buy", qty, price)
    assert verdict == "ok", text(page, "#ticket-preview")
    assert Decimal(text(page, "#ticket-preview dl dd:nth-of-type(3)")) == price  # the price as it would be sent
    send_ticket(page)

    # the runner has it, and the open-orders tab shows it
    def placed() -> str | None:
        new = [o for o in stack.api("GET", "/orders") if o["client_id"] not in before]
        return new[0]["client_id"] if new else None

    client_id = wait(placed, "the order at the runner")
    page.find_element(By.CSS_SELECTOR, '#account-tabs button[data-tab="orders"]').click()
    row = f'#orders tr[data-row-id="{PERP}|{client_id}"]'
    wait(lambda: page.find_elements(By.CSS_SELECTOR, row), "the order in open orders")
    assert Decimal(text(page, f'{row} [data-col="price"]')) == price
    assert Decimal(text(page, f'{row} [data-col="qty"]')) == qty
    assert text(page, f'{row} [data-col="status"]') == "new"
    shot(page, stack, "03-open-order")

    page.find_element(By.CSS_SELECTOR, f"{row} button.cancel").click()
    wait(lambda: not page.find_elements(By.CSS_SELECTOR, row), "the order to leave open orders")
    order = stack.api("GET", f"/orders/{PERP}/{client_id}")
    assert order["status"] == "canceled"
    assert client_id not in {o["client_id"] for o in stack.api("GET", "/orders")}
    page.find_element(By.CSS_SELECTOR, '#account-tabs button[data-tab="history"]').click()
    wait(
        lambda: text(page, f'#history tr[data-row-id="{PERP}|{client_id}"] [data-col="status"]') == "canceled",
        "the order in history",
    )
    shot(page, stack, "04-cancelled")
    # both went through the command flow: the Commands tab shows their fate
    page.find_element(By.CSS_SELECTOR, '#account-tabs button[data-tab="commands"]').click()

    def fates() -> set[tuple[str, str]]:
        got = js(
            page,
            "return Array.from(document.querySelectorAll('#commands tbody tr'), (r) =>"
            " [r.querySelector('[data-col=kind]').textContent, r.querySelector('[data-col=status]').textContent]);",
        )
        return {(k, st) for k, st in got}

    wait(lambda: {("submit_order", "succeeded"), ("cancel_order", "succeeded")} <= fates(), "the commands' fates")


def test_a_market_order_fills_into_a_position_and_a_click_on_it_closes_it(page: Any, stack: Stack) -> None:
    _, qty = passive_buy(stack, Decimal(1), 2)
    page.find_element("css selector", '#account-tabs button[data-tab="positions"]').click()
    row = f'#positions tr[data-row-id="{PERP}"]'
    assert fill_ticket(page, "buy", qty) == "ok"
    send_ticket(page)
    wait(lambda: text(page, f'{row} [data-col="size"]') == f"+{qty}", "the long position")
    wait(lambda: text(page, f'{row} [data-col="mark"]') != "", "its mark")
    upnl = wait(lambda: text(page, f'{row} [data-col="upnl"]'), "its unrealised PnL")
    assert re.fullmatch(r"[+-]?\d+\.\d{4}", upnl), upnl  # size × (mark − entry), 4 places, signed
    (pos,) = [p for p in stack.api("GET", "/positions") if p["key"] == ["binance", "BTCUSDT", "perp"]]
    assert Decimal(pos["size"]) == qty
    page.find_element("css selector", '#account-tabs button[data-tab="fills"]').click()
    wait(lambda: "BUY" in text(page, "#fills tbody"), "the fill in fills")
    shot(page, stack, "05-position")

    page.find_element("css selector", '#account-tabs button[data-tab="positions"]').click()
    page.find_element("css selector", row).click()  # a ticket that closes it
    wait(lambda: "Sell" in text(page, "#ticket-submit") and js(page, VERDICT) == "ok", "the closing ticket")
    assert page.find_element("id", "ticket-reduce").is_selected()
    assert Decimal(page.find_element("id", "ticket-qty").get_attribute("value")) == qty
    send_ticket(page)
    wait(lambda: not page.find_elements("css selector", row), "the position to close")


def test_a_strategys_pnl_chart_draws(page: Any, stack: Stack) -> None:
    wait(lambda: page.find_elements("css selector", f'#strategies tr[data-row-id="{STRATEGY}"]'), "the strategy")
    # realised total of the seeded journal: 3.10 + 2.44 - 1.04 - 0.15
    assert text(page, f'#strategies tr[data-row-id="{STRATEGY}"] [data-col="total"]') == "+4.3500"
    # the pair's edge terms and action from its latest decision (GET …/decisions)
    wait(lambda: "basis_bps 6.2" in text(page, '#pairs-table tr[data-row-id="p1"] [data-col="terms"]'), "edge terms")
    assert text(page, '#pairs-table tr[data-row-id="p1"] [data-col="decision"]').startswith("enter ")
    wait(
        lambda: int(js(page, "return document.getElementById('pnl-chart').dataset.points || '0'")) > 0,
        "the chart's points",
    )
    # pixels of each series' colour (an empty chart draws only muted text and no such pixel)
    counts = js(
        page,
        """
        const c = document.getElementById('pnl-chart');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const probe = document.createElement('canvas').getContext('2d');
        return ['--c1', '--c2', '--c3', '--c4', '--c5'].map((v) => {
          probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(v).trim();
          probe.fillRect(0, 0, 1, 1);
          const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
          const near = (i) => Math.abs(px[i] - r) < 24 && Math.abs(px[i + 1] - g) < 24 && Math.abs(px[i + 2] - b) < 24;
          let n = 0;
          for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 200 && near(i)) n++;
          return n;
        });
        """,
    )
    total, *parts = counts
    assert total > 200, f"{counts}: pixels of the total (line), basis, funding, fees, slippage"
    assert sum(n > 50 for n in parts) >= 3, f"{counts}: the components drawn"  # basis, funding, fees (slippage small)
    shot(page, stack, "06-strategy-chart")


def test_the_stream_resumes_from_its_last_sequence_after_a_drop(page: Any, stack: Stack) -> None:
    """An order placed while the page's stream is down arrives by the runner's journal replay."""
    name = stack.runner.name
    stream = "window.tradebus.stream"
    price, qty = passive_buy(stack, Decimal("0.95"), 2)
    ticket = {"key": PERP, "side": "buy", "type": "limit", "qty": str(qty), "price": str(price)}

    def place() -> str:
        cmd = stack.api("POST", "/orders", params={"wait": 10}, json=ticket)
        cmd = cmd.get("command", cmd)
        assert cmd["status"] == "succeeded", cmd
        return str(cmd["client_id"])

    if not js(page, f"return {stream}.since[arguments[0]]", name):  # nothing journaled seen yet (run alone)
        stack.api("POST", "/orders/cancel", params={"wait": 10}, json={"key": PERP, "client_id": place()})
        wait(lambda: js(page, f"return {stream}.since[arguments[0]]", name), "a journaled event on the stream")
    replayed = js(page, f"return {stream}.replayed")
    js(page, f"{stream}.close()")
    wait(lambda: js(page, "return document.getElementById('conn').dataset.state") == "closed", "the stream closed")
    client_id = place()

    js(page, f"{stream}.connect()")
    wait(lambda: js(page, "return document.getElementById('conn').dataset.state") == "live", "the stream back")
    assert js(page, f"return {stream}.lastSubscribe.since[arguments[0]]", name) > 0  # resumed, not restarted
    row = f'#orders tr[data-row-id="{PERP}|{client_id}"]'
    page.find_element("css selector", '#account-tabs button[data-tab="orders"]').click()
    wait(lambda: page.find_elements("css selector", row), "the order placed during the drop")
    assert js(page, f"return {stream}.replayed") > replayed
    shot(page, stack, "07-resumed")

    stack.api("POST", "/orders/cancel", params={"wait": 10}, json={"key": PERP, "client_id": client_id})
    wait(lambda: not page.find_elements("css selector", row), "the cancel to arrive live")
    first = text(page, '[data-testid="book-best-bid"]')
    wait(lambda: text(page, '[data-testid="book-best-bid"]') != first, "the book ticking again", timeout=20)


def test_the_theme_and_the_session_survive_a_reload(page: Any, stack: Stack) -> None:
    page.find_element("css selector", "#theme-toggle").click()
    assert js(page, "return document.documentElement.dataset.theme") == "light"
    assert severe_console_errors(page) == []
    js(page, "sessionStorage.clear()")  # the role comes back from GET /api/v1/session
    page.refresh()  # the session cookie and the saved theme: no login, light from the first paint
    wait(lambda: js(page, "return document.getElementById('conn').dataset.state") == "live", "the stream live again")
    assert not js(page, "return document.getElementById('login').open")
    assert js(page, "return document.documentElement.dataset.theme") == "light"
    assert text(page, "#whoami").endswith("admin")  # the role is still known
    wait(lambda: text(page, '[data-testid="book-best-bid"]'), "the book")
    shot(page, stack, "08-light")
    page.find_element("css selector", "#theme-toggle").click()
    assert js(page, "return document.documentElement.dataset.theme") == "dark"
    assert severe_console_errors(page) == []  # GET /api/v1/session answered: no 401 on the way


def test_the_kill_switch_asks_first_then_halts_and_the_badge_resumes(page: Any, stack: Stack) -> None:
    def states() -> set[str]:
        return {t["state"] for t in stack.api("GET", "/trading-state")}

    def dialog_open() -> bool:
        return bool(js(page, "return document.getElementById('confirm').open"))

    price, qty = passive_buy(stack, Decimal("0.97"), 3)
    assert fill_ticket(page, "buy", qty, price) == "ok"
    page.find_element("css selector", "#kill-switch").click()
    wait(dialog_open, "the confirm dialog")
    page.find_element("css selector", '#confirm button[value="cancel"]').click()
    wait(lambda: not dialog_open(), "the dialog to close")
    assert states() == {"active"}  # cancelled: nothing sent

    page.find_element("css selector", "#kill-switch").click()
    wait(dialog_open, "the confirm dialog")
    page.find_element("css selector", "#confirm-ok").click()
    wait(lambda: text(page, "#trading-state") == "HALTED", "the badge to show HALTED")
    assert states() == {"halted"}
    name = stack.runner.name
    wait(lambda: text(page, f'#runners tr[data-row-id="{name}"] [data-col="state"]') == "HALTED", "the runner HALTED")
    page.find_element("css selector", '#account-tabs button[data-tab="risk"]').click()
    risk_state = f'#risk-runners tr[data-row-id="{name}"] [data-col="state"]'
    wait(lambda: text(page, risk_state) == "HALTED", "the risk tab's state")
    # a ticket filled before the halt asks again: the gate now refuses it
    wait(lambda: js(page, VERDICT) == "refused", "the ticket's verdict to turn refused")
    assert not page.find_element("css selector", "#ticket-submit").is_enabled()
    shot(page, stack, "09-halted")

    page.find_element("css selector", "#trading-state").click()  # resume, after a confirm
    wait(dialog_open, "the resume dialog")
    page.find_element("css selector", "#confirm-ok").click()
    wait(lambda: text(page, "#trading-state") == "ACTIVE", "the badge back to ACTIVE")
    assert states() == {"active"}
    assert severe_console_errors(page) == []


def test_a_manual_sync_from_the_runners_table(page: Any, stack: Stack) -> None:
    name = stack.runner.name
    page.find_element("css selector", f'#runners tr[data-row-id="{name}"] button.sync').click()
    page.find_element("css selector", '#account-tabs button[data-tab="commands"]').click()
    kinds = (
        "return Array.from(document.querySelectorAll('#commands tbody tr'), (r) =>"
        " r.querySelector('[data-col=kind]').textContent + ' ' + r.querySelector('[data-col=status]').textContent);"
    )
    wait(lambda: "sync succeeded" in js(page, kinds), "the sync command to succeed", timeout=30)
    assert severe_console_errors(page) == []


def test_a_read_only_key_sees_everything_and_can_trade_nothing(page: Any, stack: Stack) -> None:
    page.find_element("css selector", "#logout").click()
    wait(lambda: js(page, "return document.getElementById('login').open"), "the login after log out")
    assert stack.gw.keys["read"] != stack.key
    page.find_element("id", "login-key").send_keys(stack.gw.keys["read"])
    page.find_element("id", "login-submit").click()
    wait(lambda: text(page, "#whoami").endswith("read"), "signed in with the read key")
    wait(lambda: js(page, "return document.getElementById('conn').dataset.state") == "live", "the stream live")
    severe_console_errors(page)  # the reads in flight at the log out answered 401
    assert not page.find_element("id", "kill-switch").is_enabled()
    price, qty = passive_buy(stack, Decimal("0.97"), 3)
    assert fill_ticket(page, "buy", qty, price) == "ok"  # a preview is a read
    assert not page.find_element("id", "ticket-submit").is_enabled()
    shot(page, stack, "10-read-only")
    assert severe_console_errors(page) == []
