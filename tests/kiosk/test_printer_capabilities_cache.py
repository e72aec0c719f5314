"""python-escpos's capability table is parsed once per kiosk, not at every start: the kiosk's
entry point points its cache at the state folder before anything imports escpos, and a second
start loads it from there (nothing new left in /tmp)."""

from __future__ import annotations

import subprocess
import sys

START = (
    "import sys, tempfile; from pathlib import Path; from kiosk.cli import cache_printer_capabilities;"
    " cache_printer_capabilities(Path(sys.argv[1])); import escpos.capabilities as c;"
    " print(c.pickle_path)"
)


def test_a_second_start_finds_the_parsed_capabilities_in_the_state_folder(tmp_path):
    paths = [
        subprocess.run([sys.executable, "-c", START, str(tmp_path)], capture_output=True,
                       text=True, check=True, timeout=120).stdout.strip()
        for _ in range(2)
    ]
    assert paths[0] == paths[1]
    cached = list((tmp_path / "cache" / "escpos").glob("*.capabilities.pickle"))
    assert [str(p) for p in cached] == [paths[0]]
