"""`kiosk-journal` on a journal the real kiosk wrote: headless citizens paid bills, took a queue
ticket and printed a certificate against the simulator, and one bill was cut off by a power cut
after 'submitted' and refunded by recovery on the next start."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.config import DEV_KIOSK_ID
from kiosk.journal_cli import EXIT_BROKEN_PIPE, main
from simulator.idcard_reader import ResidentCard
from tests.integration.crash_harness import ROOT, SimulatorProcess
from tests.simulator.running import RunningSimulator

KIOSK_ID = "KIOSK-5EA1B0C3D2"  # the shape provisioning gives a kiosk (new_kiosk_id)


@dataclass(frozen=True)
class KioskJournal:
    config: Path  # the kiosk's kiosk.toml: its id and its state folder
    state_dir: Path
    ledgers: dict  # what the simulated gateway and backends recorded

    @property
    def path(self) -> Path:
        return self.state_dir / "journal.sqlite3"

    def rows(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.path) as db:
            return db.execute(sql, args).fetchall()

    def tx_of(self, state: str, service_prefix: str = "") -> str:
        return next(tx for tx, s, service in self.rows(
            "SELECT tx_id, state, service FROM transactions ORDER BY created_at")
            if s == state and service.startswith(service_prefix))


def run_kiosk(sim_dir: Path, config: Path, *scenario: str) -> None:
    cmd = [sys.executable, "-m", "kiosk.cli", "--attach", str(sim_dir), "--headless",
           "--config", str(config), *scenario]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    if done.returncode not in (0, -9):  # -9: the power cut the crash configuration asks for
        raise RuntimeError(f"kiosk failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> KioskJournal:
    folder = tmp_path_factory.mktemp("journal-cli")
    state_dir = folder / "state"
    config = folder / "kiosk.toml"
    settings = f'kiosk_id = "{KIOSK_ID}"\nstate_dir = "{state_dir}"\n[flow]\npayment_poll_s = 0.1\n'
    config.write_text(settings)
    power_cut = folder / "power-cut.toml"
    power_cut.write_text(settings + '[debug]\ncrash_after = "submitted"\n')
    sim = SimulatorProcess(folder / "sim")
    endpoints = sim.start()
    try:
        run_kiosk(sim.state_dir, config, "--scenario", "bill", "--repeat", "2")
        run_kiosk(sim.state_dir, config, "--scenario", "queue")
        run_kiosk(sim.state_dir, config, "--scenario", "certificate")
        run_kiosk(sim.state_dir, power_cut, "--scenario", "bill")
        run_kiosk(sim.state_dir, config)  # the next start: recovery refunds the cut-off bill
        ledgers = RunningSimulator(sim.state_dir, endpoints).control("ledgers")
    finally:
        sim.stop()
    return KioskJournal(config, state_dir, ledgers)


def run(capsys, *argv: str, default_config: Path) -> tuple[int, str, str]:
    code = main(list(argv), default_config=default_config)
    out, err = capsys.readouterr()
    return code, out, err


def local(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at).astimezone()


# -- the kiosk id in the reconciliation file ---------------------------------------------------


def test_export_reads_the_kiosks_configuration_by_default(journal, capsys):
    # No --config and no --state-dir: what a technician types on the kiosk.
    code, out, err = run(capsys, "export", default_config=journal.config)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and {row["kiosk_id"] for row in rows} == {KIOSK_ID}
    # Exactly the orders that took money, as the gateway recorded them (the file's purpose).
    paid = {o["out_trade_no"]: o for o in journal.ledgers["orders"]
            if o["status"] in ("SUCCESS", "REFUND")}
    assert {row["paid_trade_no"] for row in rows} == set(paid)
    for row in rows:
        order = paid[row["paid_trade_no"]]
        assert int(row["net_fen"]) == order["amount_fen"] - order["refunded_fen"]
    assert "refunded" in {row["state"] for row in rows}


def test_export_without_any_configuration_refuses_the_development_id(journal, tmp_path, capsys):
    code, out, err = run(capsys, "--state-dir", str(journal.state_dir), "export",
                         default_config=tmp_path / "no-such" / "kiosk.toml")
    assert code == 1 and out == ""
    assert "refusing to export" in err and DEV_KIOSK_ID in err and "[no_kiosk_id]" in err


def test_export_with_a_configuration_lacking_the_id_refuses_and_writes_no_file(
        journal, tmp_path, capsys):
    partial = tmp_path / "kiosk.toml"
    partial.write_text(f'state_dir = "{journal.state_dir}"\n')
    out_file = tmp_path / "day.csv"
    code, out, err = run(capsys, "--config", str(partial), "export", "--out", str(out_file),
                         default_config=journal.config)
    assert code == 1 and f"{partial} sets no kiosk_id" in err
    assert not out_file.exists()


def test_export_to_a_file_says_for_which_kiosk(journal, tmp_path, capsys):
    out_file = tmp_path / "day.csv"
    code, _, err = run(capsys, "--config", str(journal.config), "export", "--out", str(out_file),
                       default_config=tmp_path / "absent.toml")
    rows = list(csv.DictReader(out_file.open(newline="")))
    assert code == 0 and f"{len(rows)} row(s) for kiosk {KIOSK_ID} written to {out_file}" in err


@pytest.mark.parametrize(("content", "reason"), [
    (None, "[config_missing]"),
    ("kiosk_id = [unclosed\n", "[config_invalid]"),
    ("kiosk_identifier = 'x'\n", "[config_invalid]"),
])
def test_a_configuration_that_cannot_be_read_is_named(tmp_path, capsys, content, reason):
    config = tmp_path / "kiosk.toml"
    if content is not None:
        config.write_text(content)
    code, out, err = run(capsys, "--config", str(config), "list", default_config=config)
    assert code == 1 and out == "" and str(config) in err and reason in err


# -- readable output -----------------------------------------------------------------------------


def test_list_has_column_headers_over_aligned_columns(journal, capsys):
    code, out, _ = run(capsys, "list", default_config=journal.config)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "CREATED", "TRANSACTION", "SERVICE", "STATE", "AMOUNT", "(CNY)", "ORDER"]
    written = journal.rows("SELECT tx_id, state, created_at FROM transactions "
                           "ORDER BY created_at DESC")
    assert lines[-1] == f"{len(written)} transaction(s)"
    columns = {name: lines[0].index(name) for name in ("TRANSACTION", "STATE")}
    for line, (tx_id, state, created_at) in zip(lines[1:-1], written, strict=True):
        assert line.startswith(local(created_at).strftime("%Y-%m-%d %H:%M:%S"))
        assert line[columns["TRANSACTION"]:].split()[0] == tx_id
        assert line[columns["STATE"]:].split()[0] == state


def test_show_prints_text_with_every_transition_and_its_time(journal, capsys):
    tx_id = journal.tx_of("refunded")
    code, out, _ = run(capsys, "show", tx_id, default_config=journal.config)
    assert code == 0 and out.startswith(f"Transaction {tx_id}\n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    # After the title and the header, up to the log lines' section.
    history = out[out.index("History"):out.index("\nLog\n")].splitlines()[2:]
    transitions = journal.rows("SELECT from_state, to_state, reason, at FROM transitions "
                               "WHERE tx_id = ? ORDER BY seq", tx_id)
    assert len(history) == len(transitions) >= 7
    for line, (from_state, to_state, reason, at) in zip(history, transitions, strict=True):
        shown = line.split()
        assert " ".join(shown[:2]) == local(at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        assert shown[2:4] == [from_state or "(new)", to_state]
        assert shown[4:] == ([reason] if reason else [])
    assert "settle:paid_not_delivered" in out  # the transaction core's reason, as journaled


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_show_json_keeps_each_transitions_timestamp(journal, capsys, where):
    tx_id = journal.tx_of("refunded")
    argv = ["--json", "show", tx_id] if where == "before the command" else ["show", tx_id, "--json"]
    code, out, _ = run(capsys, *argv, default_config=journal.config)
    record = json.loads(out)
    transitions = journal.rows("SELECT from_state, to_state, reason, at FROM transitions "
                               "WHERE tx_id = ? ORDER BY seq", tx_id)
    assert code == 0 and record["tx_id"] == tx_id and record["state"] == "refunded"
    assert [(h["from"], h["to"], h["reason"]) for h in record["history"]] == [
        t[:3] for t in transitions]
    for step, (*_, at) in zip(record["history"], transitions, strict=True):
        assert abs(dt.datetime.fromisoformat(step["at"]).timestamp() - at) < 0.001


def test_show_of_an_unknown_transaction_says_so(journal, capsys):
    code, out, err = run(capsys, "show", "20990101FFFFFFFFFFFF", default_config=journal.config)
    assert code == 1 and out == "" and "no transaction 20990101FFFFFFFFFFFF" in err


def test_output_shows_no_personal_data_and_only_a_masked_subject(journal, capsys):
    tx_id = journal.tx_of("closed", "442000-GA")  # the certificate: read from the ID card
    (subject,) = journal.rows("SELECT subject FROM transactions WHERE tx_id = ?", tx_id)[0]
    assert subject
    outputs = [run(capsys, *argv, default_config=journal.config)[1] for argv in (
        ["list"], ["list", "--json"], ["show", tx_id], ["show", tx_id, "--json"], ["export"])]
    citizen = ResidentCard()
    for out in outputs:
        for secret in (citizen.id_number, citizen.name, citizen.address, subject):
            assert secret not in out
    assert json.loads(outputs[3])["subject"] == "*" * (len(subject) - 4) + subject[-4:]


# -- a closed pipe -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["export"], ["list"], ["show", "--json"]])
def test_a_reader_that_stops_early_ends_it_quietly(journal, command):
    """`kiosk-journal export | head`: the reader leaves before all is written."""
    if command[0] == "show":
        command = ["show", journal.tx_of("refunded"), "--json"]
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.journal_cli", "--config",
                             str(journal.config), *command],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # nobody reads: the first write meets a closed pipe
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert err == ""
