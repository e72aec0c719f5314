"""The dashboard's village agents panel in headless Chromium: an operator sees the agents and
issues a sign-in QR code; the code read back from the screenshot signs the agent in at a kiosk
of their site (once)."""

from __future__ import annotations

import asyncio
import threading

import cv2
import numpy as np

from fleet import village_agents
from fleet.store import Role
from tests.fleet.fleetkit import PASSWORD, Fleet, sqlite_config
from tests.fleet.test_dashboard import ARGS, CHROMIUM, pytestmark  # noqa: F401 (skip without it)


def test_an_operator_issues_a_qr_code_that_signs_the_agent_in_at_a_kiosk(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    loop = asyncio.new_event_loop()
    fleet = Fleet(sqlite_config(tmp_path))
    loop.run_until_complete(fleet.start())
    loop.run_until_complete(fleet.add_user("olga", Role.OPERATOR))
    kiosk = loop.run_until_complete(fleet.enroll_kiosk("BT-VIL-07", site="village-7"))
    loop.run_until_complete(village_agents.create_agent(
        fleet.store, fleet.services.passwords, "ada", "VA-0007", "village-7",
        "442000197508120042", "246810"))
    server = threading.Thread(target=loop.run_forever, daemon=True)

    def on_server(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    try:
        server.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(fleet.url + "/")
            page.fill("#username", "olga")
            page.fill("#password", PASSWORD)
            page.click("#sign-in-form button")
            expect(page.locator("#agents tbody tr")).to_have_count(1)
            expect(page.locator("#agents tbody tr")).to_contain_text("VA-0007")
            page.click("#agents tbody button")
            expect(page.locator("#agent-qr-note")).to_contain_text("VA-0007")
            png = page.locator("#agent-qr-image svg").screenshot()
            browser.close()
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
        code, _, _ = cv2.QRCodeDetector().detectAndDecode(
            cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255))
        assert code.startswith("VA1:")
        path = "/kiosks/BT-VIL-07/agent-sign-in"
        body = {"kiosk_id": "BT-VIL-07", "credential": "sign_in_code", "code": code}
        status, answer = on_server(fleet.signed_post(kiosk, path, body))
        assert status == 200 and answer["agent_id"] == "VA-0007"
        status, answer = on_server(fleet.signed_post(kiosk, path, body))
        assert (status, answer["error"]) == (403, "code_used")
        audit = on_server(fleet.store.list_audit())
        assert [a["actor"] for a in audit if a["action"] == "issue_agent_sign_in_code"] == ["olga"]
    finally:
        asyncio.run_coroutine_threadsafe(fleet.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        server.join(timeout=5)
