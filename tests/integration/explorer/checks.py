"""The invariants, checked against the gateway's and the backends' own ledgers (and the printer's
output) after a run and the recovery that follows it:

- every fen taken was delivered or refunded (`lost_fen` counts what was kept without delivery);
- nothing was delivered unpaid;
- no double charge (`double_fen`: an order paid twice, or a second order kept);
- every paid order is in the day's reconciliation file, with the right net (`unreconciled`);
- no transaction left in a non-final state without a reason operators see;
- the citizen was never told "not charged" when money was taken, and never left without a word
  when money moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.reference import CREDIT_REPORT

NOT_CHARGED = "未扣费"
CREDIT_REPORT_TITLE = "个人信用报告"


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    lost_fen: int = 0
    double_fen: int = 0
    unreconciled: int = 0
    attention: int = 0

    def add(self, problem: str) -> None:
        self.violations.append(problem)


def delivered_fen(tx: dict, orders: dict[str, dict], ledgers: dict, receipts: list[dict]) -> int:
    """What the citizen got, in fen, by the backends' and the printer's own records."""
    numbers = set(tx["orders"])
    if tx["service"].endswith("-BM-0001"):
        return sum(p["amount_fen"] for p in ledgers["bill_payments"].values()
                   if p["out_trade_no"] in numbers)
    if tx["service"].endswith("-CRJ-0007"):
        return sum(orders[a["out_trade_no"]]["amount_fen"]
                   for a in ledgers["applications"].values()
                   if a.get("out_trade_no") in numbers and a["out_trade_no"] in orders)
    if tx["service"] == CREDIT_REPORT:
        printed = sum(1 for r in receipts
                      if tx["tx_id"] in r["qr_payloads"] and CREDIT_REPORT_TITLE in r["text"])
        issued = [r for r in ledgers["credit_reports"].values() if r["out_trade_no"] in numbers]
        if not issued:
            return 0
        return printed * issued[0]["amount_fen"] // issued[0]["copies"]
    return 0


def check(transactions: list[dict], ledgers: dict, receipts: list[dict], csv_rows: list[dict],
          citizen: dict, killed: bool, after_restart: list[dict]) -> Verdict:
    """`transactions`: the journal's, settled as far as the recovery could; `after_restart`:
    the unfinished ones right after the restart (faults still on)."""
    verdict = Verdict()
    orders = {o["out_trade_no"]: o for o in ledgers["orders"]}
    journaled = {number for tx in transactions for number in tx["orders"]}
    for number, order in orders.items():
        if order["payments"] and number not in journaled:
            verdict.add(f"order {number} took money the journal does not know")
            verdict.lost_fen += order["amount_fen"] - order["refunded_fen"]
    for number, order in orders.items():
        if order["payments"] > 1:
            verdict.add(f"order {number} was paid {order['payments']} times")
            verdict.double_fen += order["amount_fen"] * (order["payments"] - 1)
    taken_by_tx = {}
    for tx in transactions:
        mine = [orders[n] for n in tx["orders"] if n in orders]
        paid = [o for o in mine if o["payments"]]
        kept = sum(o["amount_fen"] - o["refunded_fen"] for o in paid)
        taken_by_tx[tx["tx_id"]] = sum(o["amount_fen"] for o in paid)
        got = delivered_fen(tx, orders, ledgers, receipts)
        state = tx["state"]
        if state == "needs_attention":
            verdict.attention += 1
            if not tx["attention"]:
                verdict.add(f"{tx['tx_id']} needs attention without a reason")
            continue  # a person settles it: the money is counted by what happens then
        if state not in ("closed", "cancelled", "refunded"):
            verdict.add(f"{tx['tx_id']} left {state} after recovery ({tx['attention']})")
        if kept > got:
            verdict.lost_fen += kept - got
            verdict.add(f"{tx['tx_id']} kept {kept} fen for {got} delivered ({state})")
        if got > kept:
            verdict.add(f"{tx['tx_id']} delivered {got} fen, kept {kept} ({state})")
        kept_orders = [o for o in paid if o["amount_fen"] > o["refunded_fen"]]
        if len(kept_orders) > 1:
            verdict.double_fen += sum(o["amount_fen"] - o["refunded_fen"]
                                      for o in kept_orders[1:])
            verdict.add(f"{tx['tx_id']} kept money from {len(kept_orders)} orders")
    rows = {r["paid_trade_no"]: r for r in csv_rows}
    for number, order in orders.items():
        if not order["payments"]:
            continue
        row = rows.get(number)
        if row is None or int(row["net_fen"]) != order["amount_fen"] - order["refunded_fen"]:
            verdict.unreconciled += 1
            verdict.add(f"paid order {number} {'missing from' if row is None else 'wrong in'} "
                        "the reconciliation file")
    for tx in after_restart:
        if tx["state"] not in ("closed", "cancelled", "refunded") and not tx["attention"]:
            verdict.add(f"{tx['tx_id']} {tx['state']} after the restart with no reason shown")
    if not killed:
        money_moved = any(taken_by_tx.values())
        told = " ".join(citizen.get("told", []))
        if NOT_CHARGED in told and money_moved:
            verdict.add(f"the citizen was told not charged; taken {taken_by_tx}")
        if money_moved and citizen.get("screen") != "result":
            verdict.add(f"money moved and the citizen saw no result ({citizen.get('screen')})")
        if citizen.get("stuck"):
            verdict.add(f"stuck: {citizen['stuck']}")
    return verdict
