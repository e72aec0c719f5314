"""`kiosk-journal`: the technician's view of the transaction journal, and the day's
reconciliation file for the payment gateway. Everything shown is masked or pseudonymous."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path

from kiosk.config import load_config
from kiosk.journal import Journal, Transaction
from kiosk.privacy import mask
from kiosk.transaction.reconciliation import reconciliation_entries

CSV_FIELDS = ("date", "kiosk_id", "tx_id", "service", "state", "out_trade_no", "paid_trade_no",
              "amount_fen", "refunded_fen", "net_fen")


def _row(tx: Transaction) -> dict:
    subject = mask(tx.subject, keep_end=4) if tx.subject else ""
    return {"tx_id": tx.tx_id, "service": tx.service, "state": tx.state.value,
            "amount_fen": tx.amount_fen, "out_trade_no": tx.out_trade_no or "",
            "subject": subject, "attention": tx.attention or "",
            "created": dt.datetime.fromtimestamp(tx.created_at).isoformat(timespec="seconds"),
            "updated": dt.datetime.fromtimestamp(tx.updated_at).isoformat(timespec="seconds")}


def reconciliation_rows(journal: Journal, day: dt.date, kiosk_id: str) -> list[dict]:
    """One row per order of `day` that took money: what the gateway should also show."""
    start = dt.datetime.combine(day, dt.time()).timestamp()
    return [{"date": day.isoformat(), "kiosk_id": kiosk_id, "tx_id": e.tx.tx_id,
             "service": e.tx.service, "state": e.tx.state.value,
             "out_trade_no": e.tx.out_trade_no or "", "paid_trade_no": e.order_no,
             "amount_fen": e.amount_fen, "refunded_fen": e.refunded_fen, "net_fen": e.net_fen}
            for e in reconciliation_entries(journal, start, start + 86400)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-journal", description=__doc__)
    parser.add_argument("--config", type=Path, help="kiosk.toml")
    parser.add_argument("--state-dir", type=Path, help="the kiosk's state folder")
    parser.add_argument("--json", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="recent transactions")
    listing.add_argument("--limit", type=int, default=30)
    listing.add_argument("--unfinished", action="store_true")
    show = sub.add_parser("show", help="one transaction and its history")
    show.add_argument("tx_id")
    export = sub.add_parser("export", help="a day's reconciliation file (CSV)")
    export.add_argument("--date", type=dt.date.fromisoformat, default=dt.date.today())
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    overrides = {"state_dir": str(args.state_dir)} if args.state_dir else None
    config = load_config(args.config, overrides)
    if not config.journal_path.exists():
        print(f"no journal at {config.journal_path}", file=sys.stderr)
        return 1
    journal = Journal(config.journal_path, config.kiosk_id)
    try:
        if args.command == "list":
            txs = journal.unfinished() if args.unfinished else journal.recent(args.limit)
            rows = [_row(tx) for tx in txs]
            if args.json:
                print(json.dumps(rows, ensure_ascii=False, indent=2))
            else:
                for r in rows:
                    amount = "" if r["amount_fen"] is None else f"{r['amount_fen'] / 100:.2f}"
                    print(f"{r['created']}  {r['tx_id']}  {r['service']:<16} {r['state']:<16} "
                          f"{amount:>8}  {r['out_trade_no']}")
                print(f"{len(rows)} transaction(s)")
        elif args.command == "show":
            try:
                tx = journal.get(args.tx_id)
            except KeyError:
                print(f"no transaction {args.tx_id}", file=sys.stderr)
                return 1
            record = _row(tx) | {"history": [
                {"from": f, "to": t, "reason": r} for f, t, r in journal.history(tx.tx_id)]}
            print(json.dumps(record, ensure_ascii=False, indent=None if args.json else 2))
        else:
            rows = reconciliation_rows(journal, args.date, config.kiosk_id)
            out = open(args.out, "w", newline="") if args.out else sys.stdout  # noqa: SIM115
            writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
            if args.out:
                out.close()
                print(f"{len(rows)} row(s) written to {args.out}", file=sys.stderr)
    finally:
        journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
