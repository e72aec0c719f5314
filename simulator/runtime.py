"""The whole simulated kiosk hardware and backends in one asyncio process.

`Simulator.start()` brings up every far side on its real transport and writes
`endpoints.json` in the state folder, so any client can find the devices on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from simulator.backends import Backends
from simulator.barcode_scanner import BarcodeScannerSimulator
from simulator.camera import CameraServer, SceneComposer
from simulator.camera.data_page import PAGE_MM, PageFault, random_faults, render_data_page
from simulator.camera.document_scene import DocumentScene, DocumentSceneComposer
from simulator.control import build_control_app
from simulator.dispenser import DispenserSimulator
from simulator.escpos_printer import EscposPrinterSimulator
from simulator.icao_chip import ChipFault, ChipShape, IcaoChip, TravelDocumentHolder
from simulator.icao_chip.mrz import MrzLayout
from simulator.icao_pki import load_or_create_pki
from simulator.idcard_reader import IdCardReaderSimulator, ResidentCard
from simulator.ipp_printer import IppPrinterSimulator
from simulator.ipp_printer import available as ipp_printer_available
from simulator.pcscd import VPCD_BASE_PORT, ensure_pcscd, vpcd_port, vpcd_reader_name
from simulator.throttled_link import ThrottledLink
from simulator.vicc import VirtualCardSlot

log = logging.getLogger(__name__)

ENDPOINTS_FILE = "endpoints.json"
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# The simulated citizen. Test data only: a test greps the kiosk's state for these values.
DEFAULT_HOLDER = TravelDocumentHolder(
    # The same fictitious citizen as the simulated ID card (simulator.idcard_reader.ResidentCard).
    document_code="CS",
    issuing_state="CHN",
    document_number="C12345678",
    birth_date="900307",
    sex="M",
    expiry_date="320601",
    nationality="CHN",
    surname="LIN",
    given_names="XIAOMING",
    optional_data="",
)
# A visitor's passport the backends know nothing of (ICAO 9303's specimen state, Utopia): its
# chip opens only with the MRZ printed on its data page. Test data only, like the above.
VISITOR_HOLDER = TravelDocumentHolder(
    document_code="P", issuing_state="UTO", document_number="L898902C3", birth_date="740812",
    sex="F", expiry_date="340415", nationality="UTO", surname="ERIKSSON",
    given_names="ANNA MARIA", optional_data="",
)
HOLDERS = {"default": DEFAULT_HOLDER, "visitor": VISITOR_HOLDER}
# The document camera's sensor: its main stream at full size (5 MP; a data page's MRZ needs
# about 5 px per mm of desk, bench.mrz's live figure), beside the 1600x1200 stream the
# materials scan reads.
DOCUMENT_CAMERA_FULL = (2592, 1944)


@dataclass(frozen=True)
class SimulatorOptions:
    state_dir: Path
    control_port: int = 0
    backends_port: int = 0
    printer_port: int = 0
    camera_port: int = 0
    vpcd_port: int = field(default_factory=vpcd_port)


class Simulator:
    """Far sides of every wire: vpcd card, ESC/POS printer, MJPEG camera, HTTP backends."""

    def __init__(self, options: SimulatorOptions, holder: TravelDocumentHolder = DEFAULT_HOLDER):
        self.options = options
        self.holder = holder
        self.state_dir = options.state_dir
        self.backends = Backends()
        self.gateway = self.backends.gateway
        self.face_composer = SceneComposer()
        self.face_camera = CameraServer(self.face_composer, port=options.camera_port)
        self.document_composer = DocumentSceneComposer()
        self.document_camera = CameraServer(self.document_composer, fps=5)
        self.document_camera_full = CameraServer(
            self.document_composer.at(*DOCUMENT_CAMERA_FULL), fps=5)
        self.printer = EscposPrinterSimulator(
            self.state_dir / "receipts",
            port=options.printer_port,
            font_path=CJK_FONT if Path(CJK_FONT).exists() else None,
        )
        self.card_slot = VirtualCardSlot(port=options.vpcd_port)
        # The chip's switches on the control API: the next card inserted carries them.
        self.chip_faults: set[ChipFault] = set()
        self.chip_shape: set[ChipShape] = set()  # what the chip lacks (none: a modern chip)
        self.chip_slow_s = 0.0
        # The document the next card carries while its data page is on the desk (show_data_page).
        self.chip_holder: TravelDocumentHolder | None = None
        self.chip_layout = MrzLayout.TD1
        # The chip's signing chain (CSCA -> Document Signer), made once, kept in the state folder.
        self.pki = load_or_create_pki(self.state_dir / "pki")
        self.idcard_reader = IdCardReaderSimulator(self.state_dir / "dev" / "idcard")
        self.dispenser = DispenserSimulator(self.state_dir / "dev" / "dispenser")
        self.scanner = BarcodeScannerSimulator(self.state_dir / "dev" / "scanner")
        # The A4 printer is CUPS's ippeveprinter (Debian cups-ipp-utils, from scripts/setup.sh);
        # where it is missing the kiosk simply has no A4 printer.
        self.a4_printer = IppPrinterSimulator(self.state_dir / "a4") \
            if ipp_printer_available() else None
        self._runners: list[web.AppRunner] = []
        # Poor links in front of the backends (simulator.throttled_link): "backends" always,
        # more on request through the control API (the fleet server's, say).
        self.links: dict[str, ThrottledLink] = {}
        self.endpoints: dict = {}

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        self._runners.append(runner)
        return runner.addresses[0][1]

    async def start(self) -> dict:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(ensure_pcscd, 10.0, self.options.vpcd_port)
        csca = self.state_dir / "csca.pem"
        csca.write_bytes(self.pki.csca_cert_pem)
        self.backends.services.permits_by_id_number[ResidentCard().id_number] = {
            "document_number": self.holder.document_number,
            "birth_date": self.holder.birth_date,
            "expiry_date": self.holder.expiry_date,
        }
        await self.printer.start()
        await self.face_camera.start()
        await self.document_camera.start()
        await self.document_camera_full.start()
        await self.idcard_reader.start()
        await self.dispenser.start()
        await self.scanner.start()
        if self.a4_printer is not None:
            await self.a4_printer.start()
        backends_port = await self._serve(self.backends.app(), self.options.backends_port)
        control_port = await self._serve(build_control_app(self), self.options.control_port)
        backends = f"http://127.0.0.1:{backends_port}"
        self.backends.serving_at(backends)
        await self.add_link("backends", "127.0.0.1", backends_port)
        self.endpoints = {
            "pid": os.getpid(),
            "control_url": f"http://127.0.0.1:{control_port}",
            "card_reader": vpcd_reader_name(self.options.vpcd_port - VPCD_BASE_PORT),
            "vpcd": f"127.0.0.1:{self.options.vpcd_port}",
            "printer": {"host": "127.0.0.1", "port": self.printer.port},
            "face_camera_url": self.face_camera.url,
            "document_camera_url": self.document_camera.url,
            "document_camera_full_url": self.document_camera_full.url,
            "backends_url": backends,
            # The same backends through the throttling link (every one behind it: behind_link).
            "backends_link_url": self.links["backends"].url,
            "payment_url": f"{backends}/pay/v1",
            "catalog_url": f"{backends}/catalog/v1",
            "exit_entry_url": f"{backends}/exit-entry/v1",
            "utility_url": f"{backends}/utility/v1",
            "certificates_url": f"{backends}/certificates/v1",
            "queue_url": f"{backends}/queue/v1",
            "notify_url": f"{backends}/notify/v1",
            **{f"{name}_url": f"{backends}/{name}/v1"
               for name in ("progress", "documents", "evaluation", "fines")},
            "receipts_dir": str(self.state_dir / "receipts"),
            "idcard_reader": self.idcard_reader.path,
            "dispenser": self.dispenser.endpoint["port"],
            "barcode_scanner": self.scanner.endpoint["port"],
            "csca_store": str(csca.resolve()),
        }
        if self.a4_printer is not None:
            self.endpoints["a4_printer_uri"] = self.a4_printer.uri
            self.endpoints["a4_jobs_dir"] = str(self.a4_printer.jobs_dir)
        path = self.state_dir / ENDPOINTS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.endpoints, indent=2))
        tmp.replace(path)
        log.info("simulator ready: %s", path)
        return self.endpoints

    async def add_link(self, name: str, host: str, port: int) -> ThrottledLink:
        """A throttling link in front of host:port, controlled as `name`."""
        if name in self.links:
            await self.links.pop(name).stop()
        link = ThrottledLink(host, port)
        await link.start()
        self.links[name] = link
        return link

    async def stop(self) -> None:
        await self.card_slot.remove()
        for link in self.links.values():
            await link.stop()
        self.links.clear()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        await self.face_camera.stop()
        await self.document_camera.stop()
        await self.document_camera_full.stop()
        await self.idcard_reader.stop()
        await self.dispenser.stop()
        await self.scanner.stop()
        if self.a4_printer is not None:
            await self.a4_printer.stop()
        await self.printer.stop()
        (self.state_dir / ENDPOINTS_FILE).unlink(missing_ok=True)

    def next_chip(self, slow_s: float | None = None, faults: frozenset[ChipFault] | None = None,
                  holder: TravelDocumentHolder | None = None,
                  shape: frozenset[ChipShape] | None = None) -> IcaoChip:
        """The card `insert_card` would put in: what is not given comes from the chip switches.
        The document whose data page is on the desk, while it is there: once the desk shows
        anything else (the visitor took it away), the next card is the default holder's."""
        on_desk = self.document_composer.scene == DocumentScene.DATA_PAGE
        document, layout = ((self.chip_holder, self.chip_layout) if on_desk
                            else (None, MrzLayout.TD1))
        return IcaoChip(holder or document or self.holder, pki=self.pki,
                        slow_s=self.chip_slow_s if slow_s is None else slow_s,
                        faults=frozenset(self.chip_faults) if faults is None else faults,
                        shape=frozenset(self.chip_shape) if shape is None else shape,
                        layout=layout)

    @property
    def data_page_holders(self) -> list[str]:
        return sorted(HOLDERS)

    async def show_data_page(self, holder: str = "default", layout: MrzLayout = MrzLayout.TD1,
                             fault: PageFault = PageFault.CLEAN, seed: int = 0) -> None:
        """Lays the data page of `holder`'s document (a HOLDERS name) on the document camera's
        desk, in `layout`, with `fault`; the next card inserted is that document's chip, its
        DG1 in the same layout."""
        document = HOLDERS[holder]
        page = await asyncio.to_thread(render_data_page, document, layout,
                                       random_faults(fault, layout, seed), seed, 300.0)
        self.chip_holder, self.chip_layout = document, layout
        self.document_composer.show_data_page(page, PAGE_MM[layout][0])

    async def insert_card(self, slow_s: float | None = None,
                          faults: frozenset[ChipFault] | None = None,
                          holder: TravelDocumentHolder | None = None,
                          shape: frozenset[ChipShape] | None = None) -> None:
        await self.card_slot.remove()
        await self.card_slot.insert(self.next_chip(slow_s, faults, holder, shape))

    async def remove_card(self) -> None:
        await self.card_slot.remove()

    def state(self) -> dict:
        return {
            "card_inserted": self.card_slot.inserted,
            "face_visible": self.face_composer.face_visible,
            "orders": len(self.gateway.orders),
            "receipts": len(self.printer.receipts),
            "endpoints": self.endpoints,
        }


def read_endpoints(state_dir: Path) -> dict:
    """The endpoints a running simulator wrote; raises FileNotFoundError when none runs there."""
    return json.loads((state_dir / ENDPOINTS_FILE).read_text())
