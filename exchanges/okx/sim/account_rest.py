"""Account REST endpoints: balance, positions, leverage, configuration, bills (reference §5, §8).

The simulated account is in net position mode, cross margin for swaps and cash for spot
(``acctLv`` 2, "futures mode"). ``set-position-mode`` accepts ``net_mode`` only.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.sim.engine import IncomeType, RejectReason, SimReject
from strategy_client.model import MarketKind

from .api_errors import ItemError, OkxApiError, param_error
from .core import OkxCore
from .numbers import num
from .payloads_account import AccountConfigItem, BillItem, LeverageItem
from .render import balance_item, position_item
from .rest import Call, Endpoint

__all__ = ["AccountRest"]

_V5 = "/api/v5/account"
_BILL_TYPES = {IncomeType.FUNDING_FEE: ("8", None), IncomeType.REALIZED_PNL: ("2", "1")}


class AccountRest:
    def __init__(self, core: OkxCore) -> None:
        self.core = core

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("GET", f"{_V5}/balance", True, "balance", self.balance),
            Endpoint("GET", f"{_V5}/positions", True, "positions", self.positions),
            Endpoint("GET", f"{_V5}/config", True, "account-config", self.config),
            Endpoint("POST", f"{_V5}/set-leverage", True, "set-leverage", self.set_leverage),
            Endpoint("GET", f"{_V5}/leverage-info", True, "leverage-info", self.leverage_info),
            Endpoint("POST", f"{_V5}/set-position-mode", True, "account-config", self.set_position_mode),
            Endpoint("GET", f"{_V5}/bills", True, "bills", self.bills),
            Endpoint("GET", f"{_V5}/bills-archive", True, "bills", self.bills),
        ]

    def balance(self, call: Call) -> list[object]:
        wanted = {c for c in call.args().text("ccy").split(",") if c}
        return [balance_item(self.core, wanted or None)]

    def positions(self, call: Call) -> list[object]:
        args = call.args()
        inst_type = args.text("instType")
        if inst_type and inst_type not in ("MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise param_error("instType")
        ids = {i for i in args.text("instId").split(",") if i}
        for inst_id in ids:
            self.core.inst(inst_id)
        out: list[object] = []
        if inst_type in ("", "SWAP"):
            for pos in self.core.venue.positions(self.core.account):
                if pos.size == 0:
                    continue
                item = position_item(self.core, pos)
                if ids and item.instId not in ids:
                    continue
                out.append(item)
        return out

    def config(self, call: Call) -> list[object]:
        uid = self.core.options.uid
        return [AccountConfigItem(uid=uid, mainUid=uid)]

    def _swap_inst(self, inst_id: str) -> str:
        inst = self.core.inst(inst_id)
        if not inst.is_swap:
            raise OkxApiError(51000, "Parameter instId error", 400)
        return inst.symbol

    def set_leverage(self, call: Call) -> list[object]:
        args = call.args()
        mgn_mode = args.required("mgnMode")
        if mgn_mode not in ("cross", "isolated"):
            raise param_error("mgnMode")
        if mgn_mode != "cross":
            raise ItemError(51010, "You can't complete this request under your current account mode.")
        inst_id = args.required("instId")
        symbol = self._swap_inst(inst_id)
        raw = args.required("lever")
        try:
            lever = Decimal(raw)
        except ArithmeticError:
            raise param_error("lever") from None
        inst = self.core.inst(inst_id)
        if not lever.is_finite() or lever != lever.to_integral_value() or not 1 <= lever <= inst.max_lever:
            raise param_error("lever")
        try:
            got = self.core.venue.set_leverage(self.core.account, symbol, int(lever))
        except SimReject as exc:
            if exc.reason is RejectReason.INSUFFICIENT_MARGIN:
                raise ItemError(59108, "Your account leverage is too low and has insufficient margins") from None
            raise param_error("lever") from None
        return [LeverageItem(instId=inst_id, mgnMode="cross", posSide="", lever=str(got))]

    def leverage_info(self, call: Call) -> list[object]:
        args = call.args()
        if args.required("mgnMode") not in ("cross", "isolated"):
            raise param_error("mgnMode")
        out: list[object] = []
        for inst_id in (i for i in args.required("instId").split(",") if i):
            symbol = self._swap_inst(inst_id)
            lever = self.core.venue.leverage(self.core.account, symbol)
            out.append(LeverageItem(instId=inst_id, mgnMode="cross", posSide="net", lever=str(lever)))
        return out

    def set_position_mode(self, call: Call) -> list[object]:
        mode = call.args().required("posMode")
        if mode != "net_mode":
            raise param_error("posMode")  # the simulated account trades in net mode only
        return [{"posMode": mode}]

    def bills(self, call: Call) -> list[object]:
        """Funding fees (type 8: subType 173 expense / 174 income) and realized PnL of closing
        trades (type 2), newest first, from the futures income records."""
        args = call.args()
        core = self.core
        bill_type = args.text("type")
        if bill_type and bill_type not in ("2", "8"):
            return []
        inst_type = args.text("instType")
        if inst_type and inst_type != "SWAP":
            return []
        limit = args.integer("limit", 100, low=1, high=100)
        wallet = core.venue.futures_account(core.account)
        rows: list[BillItem] = []
        for rec in core.venue.income(core.account, limit=1000):
            mapped = _BILL_TYPES.get(rec.income_type)
            if mapped is None or (bill_type and bill_type != mapped[0]):
                continue
            inst = core.catalog.by_key(MarketKind.PERP, rec.symbol)
            if inst is None:
                continue
            sub = mapped[1] or ("174" if rec.income >= 0 else "173")
            rows.append(
                BillItem(
                    bal=num(wallet.wallet),
                    balChg=num(rec.income),
                    billId=str(rec.tran_id),
                    ccy=rec.asset,
                    fee="0",
                    instId=inst.inst_id,
                    instType="SWAP",
                    mgnMode="cross",
                    pnl=num(rec.income),
                    subType=sub,
                    sz="0",
                    tradeId=str(rec.trade_id) if rec.trade_id else "",
                    ts=str(rec.time_ms),
                    type=mapped[0],
                )
            )
        rows.sort(key=lambda b: int(b.billId), reverse=True)
        return list(rows[:limit])
