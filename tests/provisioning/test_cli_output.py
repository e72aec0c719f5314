"""What the technician sees: progress per step, -v that works, no stray driver warnings, help
text for every option with examples the tool accepts."""

from __future__ import annotations

import argparse
import io
import json
import re
import shlex
from contextlib import redirect_stdout

import pytest

from provisioning.cli import parse_args
from tests.provisioning.provkit import read_toml, run_cli, sim_argv


async def test_progress_shows_each_step_and_each_device_as_it_goes(tmp_path, sim):
    run = await run_cli(*sim_argv(tmp_path, sim, "--pin-stdin", "--json"))

    lines = run.err.splitlines()
    steps = [line for line in lines if re.match(r"\[\d/5\] ", line)]
    assert [s.split("]")[0] + "]" for s in steps] == [f"[{n}/5]" for n in range(1, 6)], lines
    assert steps[0].startswith("[1/5] Probing the hardware")
    assert steps[2] == f"[3/5] Test receipt: printing on tcp://127.0.0.1:{sim.printer.port}"
    assert steps[3] == "[4/5] Fleet enrollment: no fleet given"
    assert steps[4] == f"[5/5] Writing the configuration: {tmp_path / 'etc' / 'kiosk.toml'}"
    tested = {m.group(1) for line in lines if (m := re.match(r"\s+ok\s+(\w+)\s+\d+\.\d\d s", line))}
    assert tested >= {"chip_reader", "receipt_printer", "face_camera", "document_camera",
                      "id_card_reader", "dispenser", "barcode_scanner", "csca_store",
                      "test_receipt"}  # fmt: skip
    report = json.loads(run.out)  # stdout holds only the report
    assert report["failures"] == [report["failures"][-1]]  # not enrolled, and nothing else
    assert report["failures"][-1].startswith("enrollment: no enrollment token given")
    assert run.code == 1


async def test_quiet_means_no_progress(tmp_path, sim):
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-enroll", "--no-receipt", "-q")
    )
    assert run.code == 0 and run.err == ""


async def test_driver_warnings_stay_out_of_the_output_and_v_shows_the_log(tmp_path, sim):
    from simulator.escpos_printer import PrinterFault

    sim.printer.set_fault(PrinterFault.SILENT, True)
    quiet = await run_cli(*sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"))
    assert quiet.code == 1
    assert "drivers.receipt_printer" not in quiet.err and "WARNING" not in quiet.err
    assert "  - receipt_printer: device_silent" in quiet.out.splitlines()

    verbose = await run_cli(*sim_argv(tmp_path, sim, "--no-receipt", "-v"), stdin="")
    logged = [line for line in verbose.err.splitlines() if " INFO provisioning." in line]
    assert any("answers" in line for line in logged), verbose.err  # the probe's questions
    # Each line is formatted once, by the kiosk's masked handler: no basicConfig duplicate.
    assert not [line for line in verbose.err.splitlines() if line.startswith("INFO:")]
    assert "drivers.receipt_printer" in verbose.err  # the driver's own account, on request


def _actions() -> list[argparse.Action]:
    captured: list[argparse.ArgumentParser] = []
    original = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        captured.append(self)
        return original(self, args, namespace)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", capture)
        parse_args([])
    return captured[0]._actions


def test_every_option_has_help_text():
    missing = [a.option_strings for a in _actions() if not a.help]
    assert missing == []


def _help_text() -> str:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        parse_args(["--help"])
    return out.getvalue()


def test_the_examples_in_the_help_are_accepted():
    text = _help_text()
    commands = re.findall(r"^  (kiosk-provision .*?)(?<!\\)$", text.replace("\\\n", " "), re.M)
    assert len(commands) >= 3, text
    for command in commands:
        words = shlex.split(command)
        parse_args(words[1:])  # SystemExit (and the test's failure) if one is refused
    assert '--site "Zhongshan hall 3"' in text
    assert "exit codes:" in text and "  2  refused" in text


async def test_a_site_with_spaces_is_taken_as_written(tmp_path, sim):
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"), "--site", "Zhongshan hall 3"
    )
    assert "argument --site" not in run.err, run.err
    assert read_toml(tmp_path)["fleet"]["site"] == "Zhongshan-hall-3"
    with pytest.raises(SystemExit):
        parse_args(["--site", "中山三厅"])  # the fleet's site ids are ASCII: pinyin, please
