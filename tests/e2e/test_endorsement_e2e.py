"""End to end: the real Kivy app under Xvfb, the real simulator, a scripted citizen's touches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from simulator.idcard_reader import ResidentCard
from simulator.runtime import DEFAULT_HOLDER
from simulator.xvfb import virtual_display

SCREENS_IN_ORDER = ["attract", "menu", "read_idcard", "place_permit", "face", "choose", "pay",
                    "result", "attract"]


@pytest.fixture(scope="module")
def display_env():
    with virtual_display() as env:
        yield dict(env, SDL_AUDIODRIVER="dummy")   # the voice guidance plays to a null device


def run_scenario(env: dict, tmp_path: Path, scenario: str, config: str = "",
                 timeout: float = 240) -> dict:
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text(config)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "--simulator",
            "--scenario",
            scenario,
            "--config",
            str(config_path),
            "--state-dir",
            str(tmp_path / "state"),
            "--out",
            str(tmp_path / "out"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout
    assert "{" in out, f"no summary; stderr:\n{proc.stderr[-3000:]}"
    summary = json.loads(out[out.index("\n{") + 1 if not out.startswith("{") else 0 :])
    summary["_returncode"] = proc.returncode
    summary["_stderr"] = proc.stderr
    return summary


def run_headless(tmp_path: Path, scenario: str, timeout: float = 240) -> dict:
    """`kiosk --simulator --headless --scenario SCENARIO` once: its summary, checked to have
    ended well with its one run finished."""
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--simulator", "--headless", "--scenario", scenario,
         "--state-dir", str(tmp_path / "kiosk")],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=timeout)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and summary["ok"], done.stderr[-3000:]
    assert summary["runs"] == 1 and summary["unfinished"] == {}
    return summary


def kiosk_files_text(state: Path) -> bytes:
    """Everything the kiosk itself wrote (journal, logs), not the simulator's own folder."""
    blobs = []
    for path in state.rglob("*"):
        if path.is_file() and "sim" not in path.relative_to(state).parts:
            blobs.append(path.read_bytes())
    return b"\n".join(blobs)


def test_citizen_renews_an_endorsement_and_gets_a_receipt(display_env, tmp_path):
    summary = run_scenario(display_env, tmp_path, "endorsement")
    assert summary["ok"], summary.get("error")
    assert summary["_returncode"] == 0
    assert [name for _, name in summary["timeline"]] == SCREENS_IN_ORDER
    seen = summary["screens_seen"]
    assert "请触摸屏幕开始" in seen["attract"]
    assert any(t.startswith("港澳签注\n") and "往来港澳通行证再次签注" in t for t in seen["menu"])
    assert "15.00 元" in seen["pay"]
    assert "办理成功" in seen["result"]

    # The gateway took exactly the quoted fee, once.
    orders = summary["orders"]
    assert [(o["status"], o["amount_fen"]) for o in orders] == [("SUCCESS", 1500)]

    # The receipt the simulated printer rendered: masked permit number, the order, a QR code.
    text = summary["receipt_text"]
    assert "*******78" in text and DEFAULT_HOLDER.document_number not in text
    assert orders[0]["out_trade_no"] in text
    assert "香港团队/个人旅游一次" in text
    receipt_png = tmp_path / "out" / "receipt.png"
    qr = decode(Image.open(receipt_png))
    assert len(qr) == 1 and orders[0]["out_trade_no"].endswith(qr[0].data.decode())
    for shot in summary["screenshots"]:
        assert Image.open(tmp_path / "out" / shot).size == (1080, 1920)

    # Nothing of the citizen's identity reached the kiosk's journal or logs.
    written = kiosk_files_text(tmp_path / "state")
    card = ResidentCard()
    secrets = (DEFAULT_HOLDER.document_number, DEFAULT_HOLDER.surname, DEFAULT_HOLDER.given_names,
               card.name, card.id_number, card.address, card.id_number[:17])
    assert written, "the kiosk wrote no journal or log at all"
    for secret in secrets:
        assert secret.encode() not in written
        assert secret.encode("utf-16-le") not in written


def test_card_pulled_mid_read_ends_on_a_clear_screen_without_charge(display_env, tmp_path):
    summary = run_scenario(display_env, tmp_path, "card_pulled")
    assert summary["ok"], summary.get("error")
    result = summary["screens_seen"]["result"]
    assert "未能办理" in result
    assert any("证件被移开" in t and "本次未扣费" in t for t in result)
    assert summary["orders"] == []
    assert [name for _, name in summary["timeline"]][-2:] == ["result", "attract"]


def test_payment_that_never_arrives_closes_the_order_and_returns_home(display_env, tmp_path):
    summary = run_scenario(
        display_env,
        tmp_path,
        "payment_never",
        config=("[flow]\npayment_timeout_s = 4.0\n[ui]\nresult_timeout_s = 3.0\n"),
    )
    assert summary["ok"], summary.get("error")
    result = summary["screens_seen"]["result"]
    assert any("未收到支付" in t and "本次未扣费" in t for t in result)
    assert [(o["status"], o["amount_fen"]) for o in summary["orders"]] == [("CLOSED", 3000)]
    assert [name for _, name in summary["timeline"]][-2:] == ["result", "attract"]
