"""Reading DG1 and a 20 KB DG2 from the simulator's chip through the real pcscd (vpcd).

Counts APDUs and time for the whole path: EF.ATR/INFO, SELECT the application, BAC,
then DG1 and DG2 under secure messaging with the largest block the chip announces
(extended length). For comparison it also reads with short APDUs only.
Last line: {"apdus": ..., "dg2_bytes": ..., "seconds": ..., ...}.
"""

from __future__ import annotations

import asyncio
import json
import time

from drivers.bac import derive_bac_keys, perform_bac
from drivers.icao9303 import IcaoReader, dg_fid
from drivers.lds import parse_dg2
from drivers.mrz import parse_dg1
from drivers.pcsc import PcscConnection, card_present, list_readers
from drivers.secure_messaging import SecureMessaging, max_read_for
from simulator.icao_chip import IcaoChip, TravelDocumentHolder
from simulator.pcscd import ensure_pcscd, vpcd_reader_name
from simulator.vicc import VirtualCardSlot

READER = vpcd_reader_name()  # this machine's vpcd slot
HOLDER = TravelDocumentHolder(document_number="C76543210", surname="BENCH", given_names="MARK")
ROUNDS = 5

# The fewest round trips a reader could do: SELECT application, GET CHALLENGE, EXTERNAL
# AUTHENTICATE, then one READ BINARY per file by short EF identifier (select + read in one,
# the whole file in one extended answer), knowing in advance that the chip takes it.
MINIMUM_APDUS = 1 + 2 + 2


def read_dg1_dg2(extended: bool) -> tuple[int, int, float]:
    """(APDUs, DG2 bytes, seconds) for one read."""
    started = time.perf_counter()
    with PcscConnection() as connection:
        connection.connect(READER)
        plain = IcaoReader(connection)
        limits = plain.read_atr_info() if extended else None
        plain.select_application()
        keys = derive_bac_keys(HOLDER.document_number, HOLDER.birth_date, HOLDER.expiry_date)
        session = perform_bac(connection, keys)
        sm = SecureMessaging(connection, session.ks_enc, session.ks_mac, session.ssc)
        reader = IcaoReader(sm, max_read=max_read_for(limits[1] if limits else 256))
        mrz = parse_dg1(reader.read_file(dg_fid(1)))
        dg2 = reader.read_file(dg_fid(2))
        face = parse_dg2(dg2)
        assert mrz.surname == "BENCH" and face.data
        return connection.apdu_count, len(dg2), time.perf_counter() - started


async def until(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise SystemExit("the vpcd slot did not become ready")
        await asyncio.sleep(0.05)


async def main() -> dict:
    await asyncio.to_thread(ensure_pcscd)
    await until(lambda: READER in list_readers())
    await until(lambda: not card_present(READER), timeout=60.0)  # wait for the shared slot
    slot = VirtualCardSlot()
    await slot.insert(IcaoChip(HOLDER))
    try:
        await until(lambda: card_present(READER))
        results = {}
        for extended in (True, False):
            runs = [await asyncio.to_thread(read_dg1_dg2, extended) for _ in range(ROUNDS)]
            apdus, dg2_bytes, _ = runs[0]
            seconds = sorted(r[2] for r in runs)[len(runs) // 2]
            results[extended] = (apdus, dg2_bytes, seconds)
            print(
                f"{'extended' if extended else 'short'}: {apdus} APDUs, "
                f"DG2 {dg2_bytes} bytes, median {seconds:.3f} s over {ROUNDS} reads"
            )
    finally:
        await slot.remove()
    apdus, dg2_bytes, seconds = results[True]
    return {
        "apdus": apdus,
        "dg2_bytes": dg2_bytes,
        "seconds": round(seconds, 3),
        "minimum_apdus": MINIMUM_APDUS,
        "short_only_apdus": results[False][0],
        "short_only_seconds": round(results[False][2], 3),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
