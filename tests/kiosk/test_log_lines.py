"""kiosk.log as JSON lines with the code's context (wire.log_lines), read back by the
technician's `kiosk-journal show` and `kiosk-journal log`: driven by a real bill payment on the
kiosk's core against the simulator's backends."""

from __future__ import annotations

import json
import logging

from hypothesis import given
from hypothesis import strategies as st

from kiosk.journal_cli import main as journal_main
from kiosk.viewmodel import ScreenId
from simulator.reference import WATER_ACCOUNT
from tests.kiosk.test_flow_engine import kiosk, start_bill, until  # noqa: F401 - the fixture
from tests.kiosk.test_journal_privacy import kiosk_log  # noqa: F401 - the fixture
from wire.log_lines import JsonLineFormatter, parse_line, read_lines


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


async def test_a_payments_lines_carry_its_transaction_and_the_technician_reads_them(
        kiosk, kiosk_log, tmp_path, capsys):  # noqa: F811
    backends, ctx, session = kiosk
    await start_bill(ctx, session)
    backends.gateway.pay(code_url=ctx.view.qr_payload)
    await until(ctx.view, ScreenId.RESULT)
    [tx] = ctx.journal.recent()
    _flush()

    lines = read_lines(kiosk_log.read_text(encoding="utf-8"))
    assert lines and all(line.structured for line in lines)   # every line a JSON object
    mine = [line for line in lines if line.context.get("transaction") == tx.tx_id]
    # The core names the transaction it logs about: its start, at least.
    assert any(line.logger.startswith("kiosk.transaction") for line in mine), mine

    assert journal_main(["--state-dir", str(tmp_path), "show", tx.tx_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [entry["msg"] for entry in shown["log"]] == [line.msg for line in mine]
    assert all(entry["transaction"] == tx.tx_id for entry in shown["log"])

    assert journal_main(["--state-dir", str(tmp_path), "show", tx.tx_id]) == 0
    text = capsys.readouterr().out
    assert f"transaction={tx.tx_id}" in text.split("\nLog\n", 1)[1]

    assert journal_main(["--state-dir", str(tmp_path), "log", "--transaction", tx.tx_id]) == 0
    listed = capsys.readouterr().out
    assert f"{len(mine)} line(s)" in listed
    assert WATER_ACCOUNT not in kiosk_log.read_text(encoding="utf-8") + text + listed

    # Filters narrow, never widen: warnings and above are a subset of everything.
    assert journal_main(["--state-dir", str(tmp_path), "log", "--level", "warning",
                         "--limit", "0", "--json"]) == 0
    warned = json.loads(capsys.readouterr().out)
    assert all(entry["level"] in ("WARNING", "ERROR", "CRITICAL") for entry in warned)
    assert len(warned) == sum(line.at_least("WARNING") for line in lines)


def test_personal_data_in_a_context_field_is_masked_in_the_file(kiosk_log):  # noqa: F811
    id_number = "11010519491231002X"
    logging.getLogger("kiosk.test").warning(
        "reader answered", extra={"device": "idcard_reader", "reason": f"bad record {id_number}"})
    _flush()
    [line] = [p for p in read_lines(kiosk_log.read_text(encoding="utf-8"))
              if p.msg == "reader answered"]
    assert line.context["device"] == "idcard_reader"
    assert id_number not in line.context["reason"] and line.context["reason"].endswith("2X")
    assert line.level == "WARNING" and line.logger == "kiosk.test"


def test_a_context_field_named_like_the_lines_own_keys_is_masked_too(kiosk_log):  # noqa: F811
    logging.getLogger("kiosk.test").warning(
        "disk level", extra={"level": "holder 11010519491231002X", "count": 11010519491231})
    _flush()
    [line] = [p for p in read_lines(kiosk_log.read_text(encoding="utf-8"))
              if p.msg == "disk level"]
    assert "11010519491231002X" not in line.context["ctx_level"]
    assert "11010519491231" not in str(line.context["count"])   # a number is masked as text


def test_a_traceback_is_kept_with_its_line():
    try:
        raise ValueError("broken frame")
    except ValueError:
        record = logging.getLogger("kiosk.test").makeRecord(
            "kiosk.test", logging.ERROR, __file__, 1, "parse failed", (), __import__("sys").exc_info(),
            extra={"device": "receipt_printer", "level": 3})
    line = parse_line(JsonLineFormatter().format(record))
    assert line.msg == "parse failed" and "ValueError: broken frame" in line.exc
    assert line.level == "ERROR" and line.context == {"device": "receipt_printer", "ctx_level": 3}


@given(st.text())
def test_any_text_reads_as_a_line(raw):
    line = parse_line(raw)
    assert line.structured or line.msg == raw
    line.text()
    line.at_least("WARNING")


@given(st.dictionaries(st.text(), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8)))
def test_any_json_object_reads_as_a_line(obj):
    line = parse_line(json.dumps(obj))
    line.text()
    json.dumps(line.as_json())
    if line.structured:
        assert all(not isinstance(v, (list, dict)) for v in line.context.values())


@given(msg=st.text(), reason=st.text(), count=st.integers())
def test_a_formatted_record_reads_back_the_same(msg, reason, count):
    record = logging.LogRecord("kiosk.x", logging.INFO, __file__, 1, "%s", (msg,), None)
    record.reason, record.count = reason, count
    line = parse_line(JsonLineFormatter().format(record))
    assert line.structured and line.msg == msg
    assert line.context == {"reason": reason, "count": count}


def test_a_log_that_cannot_be_read_is_a_plain_refusal(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "kiosk.log").write_text("{}\n")
    (logs / "kiosk.log.1").mkdir()   # something in the rotated file's place that is no file
    assert journal_main(["--state-dir", str(tmp_path), "log"]) == 1
    err = capsys.readouterr().err
    assert "[log_unreadable]" in err and "kiosk.log.1" in err
