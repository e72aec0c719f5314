"""Reading a travel permit's chip as the kiosk does, through the real pcscd (vpcd).

The kiosk's own service (`peripherals.permit_reader.PermitReaderService`) reads DG1, a 20 KB
DG2 and EF.SOD from the simulator's chip: what the chip can do from its ATR, EF.CardAccess
(does it offer PACE?), SELECT the application, BAC, then under secure messaging one READ
BINARY per file by short EF identifier with extended length, then passive authentication.
`apdus` is set beside `floor_apdus` (EF.CardAccess, SELECT, GET CHALLENGE, EXTERNAL
AUTHENTICATE, one READ BINARY per file). For comparison the same read of a chip with neither
SFI nor extended length (SELECT each file, short APDUs), and of a chip offering PACE (MSE:Set
AT and four GENERAL AUTHENTICATE instead of BAC's two, AES secure messaging: `pace_*`). Each vpcd round trip costs about 50 ms here (the simulator's wire, not a
chip's), so the APDU count is most of the time. Each read is of a card just laid on the
reader, as a citizen's is. Last line: {"apdus": ..., "dg2_bytes": ..., "seconds": ..., ...}.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

from drivers.passive_auth import PassiveAuthVerdict
from drivers.pcsc import card_present, list_readers
from peripherals.errors import DeviceError, DeviceReason
from peripherals.permit_reader import BacKey, PermitRead, PermitReaderService
from simulator.icao_chip import MODERN, NEITHER, ChipShape, IcaoChip, TravelDocumentHolder
from simulator.icao_pki import create_pki
from simulator.pcscd import ensure_pcscd, vpcd_reader_name
from simulator.vicc import VirtualCardSlot

READER = vpcd_reader_name()  # this machine's vpcd slot
HOLDER = TravelDocumentHolder(document_number="C76543210", surname="BENCH", given_names="MARK")
KEY = BacKey(HOLDER.document_number, HOLDER.birth_date, HOLDER.expiry_date)
PKI = create_pki()
FILES = 3  # DG1, DG2, EF.SOD
FLOOR_APDUS = 1 + 1 + 2 + FILES
PACE = frozenset({ChipShape.PACE})
ROUNDS = {MODERN: 5, NEITHER: 3, PACE: 5}  # the short-APDU read takes ~5 s: fewer rounds, slot freed sooner
# what a read of another checkout's card (same slot) looks like: other keys, or pulled away
_INTERFERENCE_SIGNS = {
    DeviceReason.AUTHENTICATION_REFUSED, DeviceReason.CARD_REMOVED,
    DeviceReason.READER_UNAVAILABLE,
}  # fmt: skip
INTERFERENCE: list[str] = []


async def until(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise SystemExit("the vpcd slot did not become ready")
        await asyncio.sleep(0.05)


async def read_once(chip: IcaoChip, service: PermitReaderService) -> tuple[PermitRead, float]:
    """Lay the document on the reader, time the kiosk's read of it, take it away: as a citizen
    does (a read right after another on the same card would pay for powering it up again).

    The slot is shared machine-wide: another checkout's card can slip in between our removal
    and our insertion (vpcd then serves theirs), which shows as a refused or broken read.
    Such a round is done again, and counted in `INTERFERENCE`.
    """
    for _ in range(5):
        await until(lambda: not card_present(READER), timeout=120.0)  # wait for the slot
        slot = VirtualCardSlot()
        await slot.insert(chip)
        try:
            await until(lambda: card_present(READER))
            started = time.perf_counter()
            read = await service.read_permit(KEY)
            return read, time.perf_counter() - started
        except DeviceError as exc:
            if exc.reason not in _INTERFERENCE_SIGNS:
                raise
            INTERFERENCE.append(exc.reason.value)
        finally:
            await slot.remove()
        await asyncio.sleep(1.0)
    raise SystemExit(f"the shared vpcd slot is too busy to measure: {INTERFERENCE}")


async def read_rounds(
    shape: frozenset[ChipShape], csca: Path, rounds: int
) -> tuple[PermitRead, float]:
    """The first read, and the median seconds of `rounds` reads of a chip of `shape`."""
    chip = IcaoChip(HOLDER, pki=PKI, shape=shape)
    service = PermitReaderService(READER, csca)
    try:
        runs = [await read_once(chip, service) for _ in range(rounds)]
    finally:
        service.close()
    first = runs[0][0]
    assert first.mrz.surname == "BENCH" and first.face_image
    assert first.data_groups[2] == chip.file(0x0102)
    assert first.passive_auth.verdict is PassiveAuthVerdict.PASSED
    return first, sorted(seconds for _, seconds in runs)[len(runs) // 2]


async def main() -> dict:
    await asyncio.to_thread(ensure_pcscd)
    await until(lambda: READER in list_readers())
    with tempfile.TemporaryDirectory() as folder:
        csca = Path(folder) / "csca.pem"
        csca.write_bytes(PKI.csca_cert_pem)
        results = {}
        for shape, name in ((MODERN, "SFI + extended length"), (NEITHER, "SELECT + short APDUs"),
                            (PACE, "PACE, SFI + extended length")):
            read, seconds = await read_rounds(shape, csca, ROUNDS[shape])
            results[shape] = (read, seconds)
            print(
                f"{name}: {read.apdus} APDUs, DG2 {len(read.data_groups[2])} bytes, "
                f"median {seconds:.3f} s over {ROUNDS[shape]} reads"
            )
    read, seconds = results[MODERN]
    short, short_seconds = results[NEITHER]
    pace, pace_seconds = results[PACE]
    assert pace.access_control == "PACE"
    return {
        "apdus": read.apdus,
        "dg2_bytes": len(read.data_groups[2]),
        "seconds": round(seconds, 3),
        "floor_apdus": FLOOR_APDUS,
        "short_only_apdus": short.apdus,
        "short_only_seconds": round(short_seconds, 3),
        "pace_apdus": pace.apdus,
        "pace_seconds": round(pace_seconds, 3),
        "rounds_redone": len(INTERFERENCE),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
