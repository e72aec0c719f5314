"""`kiosk-journal`: the technician's view of the transaction journal, its log lines, and the
day's reconciliation file for the payment gateway. Everything shown is masked or pseudonymous.

    kiosk-journal list [--unfinished]        recent transactions
    kiosk-journal show TX                    one transaction, its history and its log lines
    kiosk-journal log [--transaction TX] [--device NAME] [--level warning] [--grep TEXT]
    kiosk-journal export --date YYYY-MM-DD   the reconciliation file (CSV)

The kiosk's configuration comes from /etc/kiosk/kiosk.toml (where provisioning writes it) unless
--config names another; the reconciliation file is refused without the kiosk's own id.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sqlite3
import sys
import tomllib
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from kiosk.config import DEFAULT_CONFIG_PATH, DEV_KIOSK_ID, KioskConfig, load_config
from kiosk.journal import Journal, Transaction
from kiosk.json_object import JsonObject
from kiosk.log_reading import LogFilter, read_log
from kiosk.privacy import mask
from kiosk.transaction.reconciliation import reconciliation_entries

CSV_FIELDS = ("date", "kiosk_id", "tx_id", "service", "state", "out_trade_no", "paid_trade_no",
              "amount_fen", "refunded_fen", "net_fen")
# What the shell reports for a command a closed pipe stopped (128 + SIGPIPE), as `cat` would.
EXIT_BROKEN_PIPE = 141


class JournalToolReason(StrEnum):
    CONFIG_MISSING = "config_missing"
    CONFIG_UNREADABLE = "config_unreadable"
    CONFIG_INVALID = "config_invalid"
    NO_KIOSK_ID = "no_kiosk_id"
    NO_JOURNAL = "no_journal"
    JOURNAL_UNREADABLE = "journal_unreadable"
    NO_SUCH_TRANSACTION = "no_such_transaction"
    LOG_UNREADABLE = "log_unreadable"


class JournalToolError(Exception):
    """Something the technician must fix first; the message says what, the reason code which."""

    def __init__(self, reason: JournalToolReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# -- what is shown ---------------------------------------------------------------------------


def _local(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp).astimezone()


def _yuan(amount_fen: int | None) -> str:
    return "" if amount_fen is None else f"{amount_fen / 100:.2f}"


def _record(tx: Transaction) -> JsonObject:
    """A transaction as the tool shows it: the subject pseudonym masked, times in local time."""
    return {"tx_id": tx.tx_id, "service": tx.service, "state": tx.state.value,
            "amount_fen": tx.amount_fen, "out_trade_no": tx.out_trade_no or "",
            "paid_trade_no": tx.paid_trade_no or "",
            "subject": mask(tx.subject, keep_end=4) if tx.subject else "",
            "attention": tx.attention or "",  # why it is not settled yet, or needs a person
            "created": _local(tx.created_at).isoformat(timespec="seconds"),
            "updated": _local(tx.updated_at).isoformat(timespec="seconds")}


def _timeline(journal: Journal, tx_id: str) -> list[JsonObject]:
    return [{"at": _local(at).isoformat(timespec="milliseconds"), "from": from_state,
             "to": to_state, "reason": reason}
            for from_state, to_state, reason, at in journal.timeline(tx_id)]


def format_table(rows: Sequence[tuple[str, ...]], right_aligned: frozenset[int]) -> list[str]:
    """Columns as wide as their widest cell; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right_aligned else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def list_text(transactions: list[Transaction]) -> str:
    header = ("CREATED", "TRANSACTION", "SERVICE", "STATE", "AMOUNT (CNY)", "ORDER")
    rows = [header] + [
        (_local(tx.created_at).strftime("%Y-%m-%d %H:%M:%S"), tx.tx_id, tx.service,
         tx.state.value, _yuan(tx.amount_fen), tx.out_trade_no or "")
        for tx in transactions]
    lines = format_table(rows, right_aligned=frozenset({4}))
    return "\n".join([*lines, f"{len(transactions)} transaction(s)"])


def show_text(record: JsonObject, history: list[JsonObject],
              log_lines: Sequence[str] = ()) -> str:
    amount = record["amount_fen"]
    fields = [
        ("service", record["service"]),
        ("state", record["state"]),
        ("amount", "-" if amount is None else f"{_yuan(amount)} CNY ({amount} fen)"),
        ("order", record["out_trade_no"] or "-"),
        ("paid by order", record["paid_trade_no"] or "-"),
        ("subject", record["subject"] or "-"),
        *([("not settled", record["attention"])] if record["attention"] else []),
        ("created", _plain_time(record["created"])),
        ("updated", _plain_time(record["updated"])),
    ]
    lines = [f"Transaction {record['tx_id']}"]
    lines += [f"  {name:<15} {value}" for name, value in fields]
    lines += ["", "History"]
    rows = [("AT", "FROM", "TO", "REASON")] + [
        (_plain_time(step["at"], milliseconds=True), step["from"] or "(new)", step["to"],
         step["reason"] or "")
        for step in history]
    lines += [f"  {line}" for line in format_table(rows, right_aligned=frozenset())]
    lines += ["", "Log"] + [f"  {line}" for line in log_lines or ["(no line names it)"]]
    return "\n".join(lines)


def _plain_time(iso: str, milliseconds: bool = False) -> str:
    """`2025-06-01T10:00:03.120+08:00` -> `2025-06-01 10:00:03` (or `...:03.120`), local time."""
    text = dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text[:-3] if milliseconds else text[:-7]


# -- the reconciliation file -----------------------------------------------------------------


def reconciliation_rows(journal: Journal, day: dt.date, kiosk_id: str) -> list[JsonObject]:
    """One row per order of `day` that took money (or may have, while the transaction is not
    settled): what the gateway should also show. A list: read while the journal is open."""
    start = dt.datetime.combine(day, dt.time()).timestamp()
    return [{"date": day.isoformat(), "kiosk_id": kiosk_id, "tx_id": e.tx.tx_id,
             "service": e.tx.service, "state": e.tx.state.value,
             "out_trade_no": e.tx.out_trade_no or "", "paid_trade_no": e.order_no,
             "amount_fen": e.amount_fen, "refunded_fen": e.refunded_fen, "net_fen": e.net_fen}
            for e in reconciliation_entries(journal, start, start + 86400)]


def write_reconciliation(rows: Iterable[JsonObject], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def exporting_kiosk_id(config: KioskConfig, source: Path | None) -> str:
    """The id the file goes to the gateway under; never the built-in development one."""
    if config.kiosk_id.strip() and config.kiosk_id != DEV_KIOSK_ID:
        return config.kiosk_id
    where = (f"{source} sets no kiosk_id" if source is not None
             else f"there is no {DEFAULT_CONFIG_PATH}")
    raise JournalToolError(
        JournalToolReason.NO_KIOSK_ID,
        f"refusing to export: {where}, and {DEV_KIOSK_ID} is the development id, not this "
        f"kiosk's. Give the kiosk's configuration with --config PATH.")


# -- configuration and journal ---------------------------------------------------------------


def read_config(path: Path | None, default: Path, state_dir: Path | None
                ) -> tuple[KioskConfig, Path | None]:
    """The configuration and the file it came from: `path`, else `default` if it exists, else
    the built-in defaults (a development machine; None as the file)."""
    overrides = {"state_dir": str(state_dir)} if state_dir else None
    source = path or default
    try:
        return load_config(source, overrides), source
    except FileNotFoundError as exc:
        if path is not None:
            raise JournalToolError(JournalToolReason.CONFIG_MISSING,
                                   f"no configuration at {path}") from exc
        return load_config(None, overrides), None
    except PermissionError as exc:
        raise JournalToolError(
            JournalToolReason.CONFIG_UNREADABLE,
            f"cannot read {source}: permission denied (run as root or as the kiosk user, "
            f"e.g. sudo -u kiosk kiosk-journal ...)") from exc
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise JournalToolError(JournalToolReason.CONFIG_INVALID,
                               f"{source} is not a valid kiosk configuration: {exc}") from exc


def open_journal(config: KioskConfig) -> Journal:
    path = config.journal_path
    if not path.exists():
        raise JournalToolError(JournalToolReason.NO_JOURNAL,
                               f"no journal at {path} (is --state-dir or the configuration's "
                               f"state_dir the kiosk's state folder?)")
    try:
        return Journal(path, config.kiosk_id)
    except sqlite3.Error as exc:
        raise JournalToolError(JournalToolReason.JOURNAL_UNREADABLE,
                               f"cannot open the journal at {path}: {exc}") from exc


# -- the command -----------------------------------------------------------------------------


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-06-01") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk-journal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path,
                        help=f"the kiosk's kiosk.toml (default: {DEFAULT_CONFIG_PATH})")
    parser.add_argument("--state-dir", type=Path, help="the kiosk's state folder")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    # --json after the command too; SUPPRESS keeps the subcommand from resetting the global one.
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="JSON instead of text")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", parents=[as_json], help="recent transactions")
    listing.add_argument("--limit", type=int, default=30)
    listing.add_argument("--unfinished", action="store_true")
    show = sub.add_parser("show", parents=[as_json], help="one transaction and its history")
    show.add_argument("tx_id")
    logs = sub.add_parser("log", parents=[as_json], help="the kiosk's log lines, filtered")
    logs.add_argument("--transaction", default="", help="only this transaction's lines")
    logs.add_argument("--device", default="", help="only this device's lines (receipt_printer...)")
    logs.add_argument("--level", default="", type=str.upper,
                      choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                      help="this level and above")
    logs.add_argument("--grep", default="", help="only lines whose message contains this")
    logs.add_argument("--limit", type=int, default=200, help="the newest N lines (0: all)")
    export = sub.add_parser("export", help="a day's reconciliation file (CSV)")
    export.add_argument("--date", type=_day, default=dt.date.today(), help="YYYY-MM-DD")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    return parser


def _print_log(config: KioskConfig, args: argparse.Namespace) -> None:
    wanted = LogFilter(args.transaction, args.device, args.level, args.grep)
    try:
        lines = read_log(config.log_dir, wanted, args.limit or None)
    except PermissionError as exc:
        raise JournalToolError(
            JournalToolReason.LOG_UNREADABLE,
            f"cannot read {exc.filename}: permission denied (run as root or as the kiosk user, "
            f"e.g. sudo -u kiosk kiosk-journal log ...)") from exc
    except OSError as exc:
        raise JournalToolError(JournalToolReason.LOG_UNREADABLE,
                               f"cannot read {exc.filename}: {exc.strerror}") from exc
    if args.json:
        print(json.dumps([line.as_json() for line in lines], ensure_ascii=False, indent=2))
    else:
        print("\n".join([line.text() for line in lines] + [f"{len(lines)} line(s) from "
                                                          f"{config.log_dir}"]))


def _run(args: argparse.Namespace, default_config: Path) -> None:
    config, source = read_config(args.config, default_config, args.state_dir)
    if args.command == "log":   # the log alone: a kiosk whose journal cannot open has one
        _print_log(config, args)
        sys.stdout.flush()
        return
    # Checked before the journal is opened: a refused export leaves nothing behind.
    kiosk_id = exporting_kiosk_id(config, source) if args.command == "export" else ""
    journal = open_journal(config)
    try:
        if args.command == "list":
            txs = journal.unfinished() if args.unfinished else journal.recent(args.limit)
            print(json.dumps([_record(tx) for tx in txs], ensure_ascii=False, indent=2)
                  if args.json else list_text(txs))
        elif args.command == "show":
            try:
                tx = journal.get(args.tx_id)
            except KeyError:
                raise JournalToolError(JournalToolReason.NO_SUCH_TRANSACTION,
                                       f"no transaction {args.tx_id}") from None
            record, history = _record(tx), _timeline(journal, tx.tx_id)
            lines = read_log(config.log_dir, LogFilter(transaction=tx.tx_id))
            print(json.dumps(record | {"history": history,
                                       "log": [line.as_json() for line in lines]},
                             ensure_ascii=False, indent=2)
                  if args.json else show_text(record, history, [line.text() for line in lines]))
        elif args.out is None:
            write_reconciliation(reconciliation_rows(journal, args.date, kiosk_id), sys.stdout)
        else:
            with open(args.out, "w", newline="", encoding="utf-8") as out:
                count = write_reconciliation(
                    reconciliation_rows(journal, args.date, kiosk_id), out)
            print(f"{count} row(s) for kiosk {kiosk_id} written to {args.out}", file=sys.stderr)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
    finally:
        journal.close()


def main(argv: list[str] | None = None, default_config: Path = DEFAULT_CONFIG_PATH) -> int:
    args = _parser().parse_args(argv)
    try:
        _run(args, default_config)
    except JournalToolError as exc:
        print(f"kiosk-journal: {exc} [{exc.reason.value}]", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (`head`, a pager) has all it wanted. Point stdout at /dev/null so the
        # interpreter's last flush at exit does not fail a second time (Python docs, "SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return 0


if __name__ == "__main__":
    sys.exit(main())
