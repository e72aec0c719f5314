"""The gallery: one screenshot of every citizen screen in Chinese, English and elder mode, with a
check that no text overflows its box and no widget leaves the window, and an index page.

A scripted citizen (scenarios.citizen) walks the kiosk through every screen: the endorsement,
a bill (keypad, check, exit after an order), a certificate declined at the photo notice (a
failure), a pre-review (scan), a visitor's passport (its data page asked for, then refused),
the "still there?" prompt, call staff, and out of service.
`python -m scenarios.gallery index DIR` writes the page that puts several panel sizes together.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import shutil
import sys
from pathlib import Path

from simulator.reference import (
    BILL_PAYMENT,
    CERTIFICATE_PRINT,
    ENDORSEMENT,
    FOREIGNER_ACCOMMODATION,
    MATERIALS_PREREVIEW,
    WATER_ACCOUNT,
)

MODES = ("zh", "en", "elder")
TOLERANCE_PX = 2


def gallery_modes() -> tuple[str, ...]:
    """The modes to walk: all three, or those GALLERY_MODES names ("en,elder"): the default test
    run walks two, to keep the suite's time (tests/e2e/test_citizen_experience_e2e.py)."""
    named = [m.strip() for m in os.environ.get("GALLERY_MODES", "").split(",") if m.strip()]
    unknown = set(named) - set(MODES)
    if unknown:
        raise ValueError(f"GALLERY_MODES: no mode {sorted(unknown)}; the modes are {MODES}")
    return tuple(m for m in MODES if m in named) or MODES


def layout_problems(root, screen_label: str) -> list[str]:
    """Texts larger than their box, and widgets outside the window, on what is shown now."""
    from kivy.core.window import Window
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.gridlayout import GridLayout
    from kivy.uix.label import Label
    from kivy.uix.screenmanager import ScreenManager

    manager = next(w for w in root.walk() if isinstance(w, ScreenManager))
    layers = [manager.current_screen] + [w for w in root.children if w is not manager]
    width, height = Window.size
    found = []
    for layer in layers:
        for widget in _visible(layer):
            x, y = widget.to_window(*widget.pos)
            w, h = widget.size
            name = getattr(widget, "automation_id", "") or type(widget).__name__
            if w > 0 and h > 0 and (x < -TOLERANCE_PX or y < -TOLERANCE_PX
                                    or x + w > width + TOLERANCE_PX
                                    or y + h > height + TOLERANCE_PX):
                found.append(f"{screen_label}: {name} leaves the window")
            parent = widget.parent
            if isinstance(parent, (BoxLayout, GridLayout)) and w > 0 and h > 0:
                px, py = parent.to_window(*parent.pos)
                if x < px - TOLERANCE_PX or y < py - TOLERANCE_PX or \
                        x + w > px + parent.width + TOLERANCE_PX or \
                        y + h > py + parent.height + TOLERANCE_PX:
                    found.append(f"{screen_label}: {name} sticks out of its box")
            if isinstance(widget, Label) and widget.text.strip() and w > 0 and h > 0:
                widget.texture_update()
                tw, th = widget.texture_size
                if tw > w + TOLERANCE_PX or th > h + TOLERANCE_PX:
                    found.append(f"{screen_label}: {name} text {int(tw)}x{int(th)} overflows "
                                 f"{int(w)}x{int(h)}: {widget.text[:30]!r}")
    return found


def _visible(widget):
    if widget.opacity <= 0:
        return
    yield widget
    for child in widget.children:
        yield from _visible(child)


class Gallery:
    def __init__(self, citizen, folder: Path) -> None:
        self.c = citizen
        self.folder = folder
        self.shots: dict[str, dict[str, str]] = {}
        self.problems: list[str] = []
        self.retried: list[str] = []       # visits walked again (a device missed its time)
        self.mode = MODES[0]
        folder.mkdir(parents=True, exist_ok=True)

    async def snap(self, label: str) -> None:
        await asyncio.sleep(0.35)                   # animations and fits settle
        name = f"{label}-{self.mode}.png"
        self.c.app.root.export_to_png(str(self.folder / name))
        self.shots.setdefault(label, {})[self.mode] = name
        self.problems += layout_problems(self.c.app.root, f"{label}/{self.mode}")

    async def start_visit(self) -> None:
        """From the attract screen, in this mode: the citizen's own choices, then start."""
        c = self.c
        await c.wait_screen("attract", timeout=60)
        await self.choose_mode()
        await c.tap("attract.start")
        await c.wait_screen("menu")

    async def choose_mode(self) -> None:
        """Language and elder mode as this mode wants them (each button toggles)."""
        c, view = self.c, self.c.app.view
        if (view.language == "en") != (self.mode == "en"):
            await c.tap("attract.language")
        if view.elder != (self.mode == "elder"):
            await c.tap("attract.elder")
            await asyncio.sleep(0.3)                # the screens are built again, larger

    async def tap_service(self, code: str) -> None:
        """A service tile, turning the menu's pages when it is not on this one (elder mode)."""
        for _ in range(4):
            try:
                self.c.find(f"service.{code}")
                break
            except Exception:
                await self.c.tap("menu.next_page")
        await self.c.tap(f"service.{code}")

    async def until_shown(self, automation_id: str, timeout: float = 20.0) -> None:
        def shown() -> bool:
            try:
                return self.c.find(automation_id).get_root_window() is not None
            except Exception:
                return False
        await self.c.wait_until(shown, automation_id, timeout)


async def _endorsement(g: Gallery) -> None:
    c = g.c
    await g.start_visit()
    await g.snap("menu")
    await c.tap("menu.help")
    await g.until_shown("help.close")
    await g.snap("help")
    await c.tap("help.close")
    await c.sim.backend_faults("exit_entry", delay_s=1.5)    # waits long enough to show
    await g.tap_service(ENDORSEMENT)
    await c.wait_screen("read_idcard")
    await g.snap("idcard")
    await c.sim.insert_idcard()
    await g.until_shown("busy.text")
    await g.snap("busy")
    await c.wait_screen("place_permit")
    await g.snap("permit")
    await c.sim.insert_card()
    await c.wait_screen("face")
    await g.until_shown("face.agree")
    await g.snap("face-notice")
    await c.tap("face.agree")
    await c.sim.show_face()
    await c.wait_until(lambda: c.app.view.faces == 1, "a face in the preview", 20)
    await g.snap("face")
    await c.wait_screen("choose", timeout=30)
    await g.snap("choose")
    await c.tap("option.HK_TOURIST_1")
    await c.wait_screen("pay", timeout=30)
    await g.snap("pay")
    from scenarios.citizen import _decode_qr
    png = g.folder / f"pay-{g.mode}.png"
    await c.sim.pay(code_url=_decode_qr(png))
    await c.wait_screen("processing", timeout=30)
    await g.snap("processing")
    await c.wait_screen("result", timeout=30)
    await g.snap("result")
    await c.sim.backend_faults("exit_entry", delay_s=0.0)
    await c.sim.remove_card()
    await c.sim.remove_idcard()
    await c.sim.hide_face()
    await c.leave_result()


async def _bill(g: Gallery) -> None:
    c = g.c
    await g.start_visit()
    await c.wait_until(lambda: c.app.view.idle_prompt, "the still-there prompt", 30)
    await g.snap("idle-prompt")
    await c.tap("idle.continue")
    await g.tap_service(BILL_PAYMENT)
    await c.wait_screen("enter_account")
    for digit in WATER_ACCOUNT:
        await c.tap(f"key.{digit}")
    await g.snap("keypad")
    await c.tap("key.ok")
    await c.wait_screen("confirm")
    await g.snap("confirm")
    await c.tap("confirm.exit")
    await g.until_shown("exit.stay")
    await g.snap("exit-confirm")
    await c.tap("exit.stay")
    await c.tap("confirm.pay")
    await c.wait_screen("pay")
    await c.tap("pay.exit")
    await g.until_shown("exit.leave")
    await g.snap("exit-while-paying")
    await c.tap("exit.leave")
    await c.wait_screen("result", timeout=30)
    await g.snap("left-after-order")
    await c.leave_result()


async def _certificate_declined(g: Gallery) -> None:
    c = g.c
    await g.start_visit()
    await g.tap_service(CERTIFICATE_PRINT)
    await c.wait_screen("read_idcard")
    await c.sim.insert_idcard()
    await c.wait_screen("face")
    await g.until_shown("face.decline")
    await c.tap("face.decline")
    await c.wait_screen("result", timeout=30)
    await g.snap("failure")
    await c.sim.remove_idcard()
    await c.leave_result()


async def _prereview(g: Gallery) -> None:
    c = g.c
    await g.start_visit()
    await g.tap_service(MATERIALS_PREREVIEW)
    await c.wait_screen("read_idcard")
    await c.sim.insert_idcard()
    await c.wait_screen("scan_document")
    await g.snap("scan")
    await c.tap("scan_document.exit")
    await g.until_shown("exit.leave")
    await c.tap("exit.leave")
    await c.sim.remove_idcard()


async def _passport(g: Gallery) -> None:
    """A visitor's passport: the data page asked for, then refused with a finger over its MRZ
    (what to change, and the try's number); the citizen leaves there."""
    c = g.c
    await g.start_visit()
    await g.tap_service(FOREIGNER_ACCOMMODATION)
    await c.wait_screen("place_data_page")
    await g.snap("data-page")
    await c.sim.show_data_page(holder="visitor", layout="td3", fault="occlusion", seed=3)
    try:
        await c.wait_until(lambda: c.app.view.status_key.startswith("mrz.problem."),
                           "the covered page refused", 30)
        await g.snap("data-page-refused")
    finally:
        await c.sim.document_scene("empty")
    await c.tap("place_data_page.exit")
    await g.until_shown("exit.leave")
    await c.tap("exit.leave")


async def _out_of_service(g: Gallery) -> None:
    c = g.c
    await c.wait_screen("attract", timeout=60)
    await g.choose_mode()
    await g.snap("attract")
    # The operators' command, as the fleet sends it: the backends going away no longer empties
    # the menu (offline-capable items stay on, README "Working through a bad link").
    session = c.app.intents
    session.set_out_of_service(True)
    await c.wait_screen("out_of_service", timeout=30)
    await g.snap("out-of-service")
    session.set_out_of_service(False)
    await c.wait_screen("attract", timeout=30)


async def run_gallery(c, folder: Path) -> dict:
    from kivy.core.window import Window

    g = Gallery(c, folder)
    receipt: dict = {}
    retried: list[str] = []
    for mode in gallery_modes():
        g.mode = mode
        await _out_of_service(g)
        from scenarios.citizen import walk_again_if_the_chip_was_taken

        await walk_again_if_the_chip_was_taken(c, lambda: _endorsement(g), retried)
        if not receipt:
            receipts = await c.sim.receipts()
            if receipts:
                receipt = receipts[-1]
                shutil.copy(receipt["png_path"], c.out_dir / "receipt.png")
                shutil.copy(receipt["txt_path"], c.out_dir / "receipt.txt")
        await _bill(g)
        await _certificate_declined(g)
        await _prereview(g)
        await _passport(g)
    width, height = Window.size
    write_index(folder, g.shots, f"{width}x{height}")
    (folder / "gallery.json").write_text(json.dumps(
        {"panel": f"{width}x{height}", "shots": g.shots, "layout_problems": g.problems},
        ensure_ascii=False, indent=1))
    return {"gallery": str(folder.resolve()), "gallery_shots": g.shots, "retried": retried,
            "layout_problems": g.problems, "receipt_text": receipt.get("text", "")}


def write_index(folder: Path, shots: dict[str, dict[str, str]], panel: str) -> None:
    rows = []
    for label, by_mode in shots.items():
        cells = "".join(
            f'<td><a href="{html.escape(by_mode[m])}"><img src="{html.escape(by_mode[m])}" '
            f'loading="lazy"></a></td>' if m in by_mode else "<td></td>" for m in MODES)
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    heads = "".join(f"<th>{m}</th>" for m in MODES)
    (folder / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Kiosk screens " + panel + "</title>"
        "<style>body{font-family:sans-serif}img{width:240px;border:1px solid #888}"
        "th{text-align:left;vertical-align:top}</style>"
        f"<h1>Kiosk screens, {panel}</h1><table><tr><th></th>{heads}</tr>"
        + "".join(rows) + "</table>\n", encoding="utf-8")


def write_top_index(folder: Path) -> Path:
    """One page linking the gallery of every panel size found under `folder`."""
    parts = []
    # PANEL/gallery (the scripted citizen), PANEL/call-gallery (tests.videocall.call_gallery).
    for meta in sorted(folder.glob("*/*gallery/gallery.json")):
        data = json.loads(meta.read_text())
        sub = f"{meta.parent.parent.name}/{meta.parent.name}"
        problems = data["layout_problems"]
        parts.append(f'<li><a href="{sub}/index.html">{html.escape(data["panel"])}</a>: '
                     f'{len(data["shots"])} screens x {len(MODES)} modes, '
                     f'{len(problems)} layout problems</li>')
    page = folder / "index.html"
    page.write_text("<!doctype html><meta charset=utf-8><title>Kiosk gallery</title>"
                    "<h1>Kiosk gallery</h1><ul>" + "".join(parts) + "</ul>\n", encoding="utf-8")
    return page


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "index":
        print(write_top_index(Path(sys.argv[2])))
    else:
        sys.exit("usage: python -m scenarios.gallery index DIR")
