"""The scripted citizen: touches the kiosk's real widgets and works the simulator like a person.

Used by `make run` without a display and by the end-to-end tests. It knows the kiosk only through
Kivy's widget tree (widgets carry an `automation_id`) and the simulator only through its control
API; it never reaches into the kiosk's code.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from pathlib import Path

from kivy.app import App
from kivy.base import EventLoop
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.uix.label import Label
from kivy.uix.screenmanager import ScreenManager

from simulator.control_client import SimulatorClient
from simulator.reference import BILL_PAYMENT, ENDORSEMENT, TECHNICIAN_PIN, WATER_ACCOUNT

_touch_ids = itertools.count(1)


class CitizenTouch(MotionEvent):
    """A finger on the glass at window coordinates (x, y)."""

    def __init__(self, x: float, y: float) -> None:
        super().__init__("citizen", next(_touch_ids), (x, y), is_touch=True, type_id="touch")

    def depack(self, args):
        x, y = args
        self.sx, self.sy = x / Window.width, y / Window.height
        self.profile = ["pos"]
        super().depack(args)


class ScenarioFailed(Exception):
    pass


class Citizen:
    def __init__(self, app: App, sim: SimulatorClient, out_dir: Path) -> None:
        self.app, self.sim, self.out_dir = app, sim, out_dir
        self.shots: list[str] = []
        self.shot_spans: list[tuple[float, float]] = []  # perf_counter spans of screenshots
        self.seen: dict[str, list[str]] = {}
        self.timeline: list[tuple[float, str]] = []
        self._t0 = time.monotonic()

    def _manager(self) -> ScreenManager:
        for widget in self.app.root.walk():
            if isinstance(widget, ScreenManager):
                return widget
        raise ScenarioFailed("no screen manager")

    @property
    def screen(self) -> str:
        return self._manager().current

    def texts(self) -> list[str]:
        """Every text the citizen can read now: the current screen and any overlay on it."""
        manager = self._manager()
        layers = [manager.current_screen] + [w for w in self.app.root.children if w is not manager]
        return [w.text for layer in layers for w in layer.walk()
                if isinstance(w, Label) and w.text]

    def find(self, automation_id: str):
        for widget in self._manager().current_screen.walk():
            if getattr(widget, "automation_id", None) == automation_id:
                return widget
        for widget in self.app.root.walk():
            if getattr(widget, "automation_id", None) == automation_id:
                return widget
        raise ScenarioFailed(f"no widget {automation_id} on screen {self.screen}")

    async def tap(self, automation_id: str) -> None:
        """A finger on the widget, once the screen has come in: during a fade the screen coming
        in is drawn from a framebuffer and is not in the widget tree yet, so a touch then reaches
        nothing (the video-call test tapped "呼叫工作人员" 80 ms into the menu's fade)."""
        await self.wait_until(lambda: not self._manager().transition.is_active,
                              "the screen's transition to end", 10)
        widget = self.find(automation_id)
        x, y = widget.to_window(*widget.center)
        touch = CitizenTouch(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        await asyncio.sleep(0.08)
        EventLoop.post_dispatch_input("end", touch)
        await asyncio.sleep(0.05)

    async def wait_screen(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.screen != name or self._manager().transition.is_active:
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"waited {timeout}s for screen {name}, still on {self.screen}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.25)  # let the screen draw its first frames
        self.timeline.append((round(time.monotonic() - self._t0, 2), name))
        self.seen.setdefault(name, []).extend(
            t for t in self.texts() if t not in self.seen.get(name, []))

    async def leave_result(self) -> None:
        """"Done" on the result screen, then "skip" on the optional rating (好差评)."""
        await self.tap("result.done")
        await self.wait_until(lambda: self.screen in ("evaluate", "attract", "out_of_service")
                              and not self._manager().transition.is_active,
                              "the rating or the attract screen", 10)
        if self.screen == "evaluate":
            await asyncio.sleep(0.1)
            await self.tap("rating.skip")

    async def wait_until(self, predicate, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"waited {timeout}s for {what} on {self.screen}")
            await asyncio.sleep(0.05)

    def screenshot(self, label: str) -> Path:
        path = self.out_dir / f"{len(self.shots) + 1:02d}-{label}.png"
        started = time.perf_counter()
        self.app.root.export_to_png(str(path))
        # The citizen's camera, not the kiosk: bench.frames leaves these frames out.
        self.shot_spans.append((started, time.perf_counter()))
        self.shots.append(path.name)
        return path


def _decode_qr(png: Path) -> str:
    from PIL import Image
    from pyzbar.pyzbar import decode

    results = decode(Image.open(png))
    if not results:
        raise ScenarioFailed(f"no QR code readable in {png.name}")
    return results[0].data.decode()


async def _endorsement(c: Citizen) -> dict:
    await c.wait_screen("attract")
    c.screenshot("attract")
    await c.tap("attract.start")
    await c.wait_screen("menu")
    c.screenshot("menu")
    await c.tap(f"service.{ENDORSEMENT}")
    await c.wait_screen("read_idcard")
    c.screenshot("idcard")
    await c.sim.insert_idcard()
    await c.wait_screen("place_permit")
    c.screenshot("place-permit")
    await c.sim.insert_card()
    await c.wait_screen("face")
    await c.sim.show_face()
    await c.wait_until(lambda: c.app.view.faces == 1, "a face in the preview", 20)
    c.screenshot("face")
    await c.wait_screen("choose", timeout=30)
    c.screenshot("choose")
    await c.tap("option.HK_TOURIST_1")
    await c.wait_screen("pay")
    shot = c.screenshot("pay")
    code_url = _decode_qr(shot)  # the citizen's phone scans the screen
    await c.sim.pay(code_url=code_url)
    await c.wait_screen("result", timeout=30)
    c.screenshot("result")
    await c.sim.remove_card()
    await c.sim.remove_idcard()
    await c.sim.hide_face()
    receipts = await c.sim.receipts()
    if not receipts:
        raise ScenarioFailed("no receipt was printed")
    last = receipts[-1]
    shutil.copy(last["png_path"], c.out_dir / "receipt.png")
    shutil.copy(last["txt_path"], c.out_dir / "receipt.txt")
    await c.leave_result()
    await c.wait_screen("attract")
    return {"receipt_text": last["text"], "orders": await c.sim.orders()}


async def _card_pulled(c: Citizen) -> dict:
    await c.wait_screen("attract")
    await c.tap("attract.start")
    await c.wait_screen("menu")
    await c.tap(f"service.{ENDORSEMENT}")
    await c.wait_screen("read_idcard")
    await c.sim.insert_idcard()
    await c.wait_screen("place_permit")
    await c.sim.insert_card(slow_s=0.3)  # a slow chip, so the read is still going on
    await c.wait_until(lambda: c.app.view.busy, "the permit being read", 15)
    await asyncio.sleep(0.4)
    await c.sim.remove_card()
    await c.wait_screen("result", timeout=30)
    c.screenshot("card-pulled")
    await c.leave_result()
    await c.wait_screen("attract")
    return {"orders": await c.sim.orders()}


async def _payment_never(c: Citizen) -> dict:
    await c.wait_screen("attract")
    await c.tap("attract.start")
    await c.wait_screen("menu")
    await c.tap(f"service.{ENDORSEMENT}")
    await c.wait_screen("read_idcard")
    await c.sim.insert_idcard()
    await c.wait_screen("place_permit")
    await c.sim.insert_card()
    await c.wait_screen("face")
    await c.sim.show_face()
    await c.wait_screen("choose", timeout=30)
    await c.tap("option.HK_TOURIST_2")
    await c.wait_screen("pay")
    c.screenshot("pay")
    await c.wait_screen("result", timeout=120)  # the citizen walks away; the kiosk gives up
    c.screenshot("payment-never")
    await c.sim.remove_card()
    await c.sim.hide_face()
    await c.wait_screen("attract", timeout=120)  # nobody presses anything: it returns by itself
    return {"orders": await c.sim.orders()}


async def _bill(c: Citizen) -> dict:
    await c.wait_screen("attract")
    await c.tap("attract.start")
    await c.wait_screen("menu")
    await c.tap(f"service.{BILL_PAYMENT}")
    await c.wait_screen("enter_account")
    for digit in WATER_ACCOUNT:
        await c.tap(f"key.{digit}")
    c.screenshot("bill-account")
    await c.tap("key.ok")
    await c.wait_screen("confirm")
    c.screenshot("bill-confirm")
    await c.tap("confirm.pay")
    await c.wait_screen("pay")
    code_url = _decode_qr(c.screenshot("bill-pay"))
    await c.sim.pay(code_url=code_url)
    await c.wait_screen("result", timeout=30)
    c.screenshot("bill-result")
    receipts = await c.sim.receipts()
    if receipts:
        shutil.copy(receipts[-1]["png_path"], c.out_dir / "bill-receipt.png")
    await c.leave_result()
    await c.wait_screen("attract")
    return {
        "receipt_text": receipts[-1]["text"] if receipts else "",
        "ledgers": await c.sim.ledgers(),
    }


async def _technician(c: Citizen) -> dict:
    """The technician's visit: five taps on the headline, the PIN (the kiosk's configuration
    must hold the hash of TECHNICIAN_PIN), the self-test button, the device screen during a
    paper-out."""
    await c.wait_screen("attract")
    for _ in range(5):
        await c.tap("attract.headline")
    await c.wait_screen("technician_pin")
    for digit in TECHNICIAN_PIN:
        await c.tap(f"key.{digit}")
    c.screenshot("technician-pin")
    await c.tap("key.ok")
    await c.wait_screen("technician")
    await c.tap("tech.self_test")
    await c.wait_until(lambda: any(t.startswith(("自检完成", "Self-test:")) for t in c.texts()),
                       "the self-test's result", timeout=20.0)
    await c.sim.device("/printer/fault", {"fault": "paper_out", "on": True})
    await asyncio.sleep(2.5)
    c.screenshot("technician")
    await c.sim.device("/printer/fault", {"fault": "paper_out", "on": False})
    await c.tap("tech.back")
    await c.wait_screen("attract")
    return {}


async def _voice_idle(c: Citizen, timeout: float = 60.0) -> None:
    """An elder listens to the end of what the kiosk says before acting."""
    voice = getattr(c.app, "voice", None)
    await asyncio.sleep(0.3)
    if voice is not None:
        await c.wait_until(lambda: voice.idle, "the kiosk to finish speaking", timeout)


async def walk_again_if_the_chip_was_taken(c: Citizen, visit, retried: list[str]):
    """The simulated chip sits in a vpcd slot shared machine-wide: another run using the same
    slot can answer our reader (a foreign chip fails its checks). Such a visit ends on a failure
    screen; it is walked again (up to twice, each noted in `retried`); a third failure stands."""
    for attempt in range(3):
        try:
            return await visit()
        except ScenarioFailed as exc:
            if attempt == 2 or c.screen != "result" or c.app.view.result_ok:
                raise
            retried.append(f"{getattr(visit, '__name__', 'visit')}: {exc}")
            for clear in (c.sim.remove_card, c.sim.remove_idcard, c.sim.hide_face):
                try:
                    await clear()
                except Exception as problem:   # the contended slot can stall the simulator
                    retried.append(f"clearing: {problem}")
            await c.leave_result()
            await c.wait_screen("attract", timeout=60)
            await asyncio.sleep(5.0)


async def _elder_endorsement(c: Citizen) -> dict:
    retried: list[str] = []
    summary = await walk_again_if_the_chip_was_taken(
        c, lambda: _elder_endorsement_once(c), retried)
    return {**summary, "retried": retried}


async def _elder_endorsement_once(c: Citizen) -> dict:
    """The endorsement in elder mode, touching nothing between the service and the choice,
    and listening to every prompt to its end."""
    await c.wait_screen("attract")
    await c.tap("attract.elder")
    await asyncio.sleep(0.3)
    await c.tap("attract.start")
    await c.wait_screen("menu")
    await _voice_idle(c)
    await c.tap(f"service.{ENDORSEMENT}")
    await c.wait_screen("read_idcard")
    c.screenshot("elder-idcard")
    await _voice_idle(c)
    await c.sim.insert_idcard()
    await c.wait_screen("place_permit")
    await _voice_idle(c)
    await c.sim.insert_card()
    await c.wait_screen("face")
    await _voice_idle(c)
    await c.sim.show_face()
    await c.wait_screen("choose", timeout=60)
    c.screenshot("elder-choose")
    await _voice_idle(c)
    await c.tap("option.HK_TOURIST_1")
    await c.wait_screen("pay")
    code_url = _decode_qr(c.screenshot("elder-pay"))
    await _voice_idle(c)
    await c.sim.pay(code_url=code_url)
    await c.wait_screen("result", timeout=60)
    c.screenshot("elder-result")
    await _voice_idle(c)
    await c.sim.remove_card()
    await c.sim.remove_idcard()
    await c.sim.hide_face()
    await c.leave_result()
    await c.wait_screen("attract")
    return {"orders": await c.sim.orders()}


async def _startup(c: Citizen) -> dict:
    await c.wait_until(lambda: c.screen == "attract", "the attract screen", 30)
    return {"attract_at_unix": time.time()}


CITIZEN_SCENARIOS = {
    "startup": _startup,
    "endorsement": _endorsement,
    "bill": _bill,
    "technician": _technician,
    "card_pulled": _card_pulled,
    "payment_never": _payment_never,
    "elder_endorsement": _elder_endorsement,
}
