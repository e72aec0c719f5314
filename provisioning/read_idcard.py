"""`kiosk-read-idcard`: a technician's check that the identity-card reader reads a card.

    kiosk-read-idcard --port /dev/ttyUSB0 [--json] [--wait SECONDS] [--show-personal-data]

Waits for a card, reads it, and prints its fields with name, number, birth date and address
masked (`--show-personal-data` shows them, for a technician's own test card only). Nothing is
written to disk; the photo is reported by size. Exit status: 0 read, 1 device error, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from peripherals.errors import DeviceError
from peripherals.idcard_reader import IdCardRead, IdCardReaderService

LABELS = {
    "name": "name",
    "sex": "sex",
    "ethnicity": "ethnicity",
    "birth_date": "birth date",
    "address": "address",
    "id_number": "ID number",
    "issuing_authority": "issued by",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "id_number_valid": "check digit ok",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk-read-idcard", description="Read a resident identity card on a SAM reader."
    )
    parser.add_argument("--port", required=True, help="serial port of the reader")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for a card")
    parser.add_argument("--baudrate", type=int, default=115200)
    parser.add_argument(
        "--show-personal-data", action="store_true", help="print fields unmasked (test cards)"
    )
    return parser


def _fields(read: IdCardRead, show: bool) -> dict[str, object]:
    fields = read.text.as_dict() if show else read.text.masked()
    return fields | {"photo_bytes": len(read.photo)}


async def _read(args: argparse.Namespace) -> IdCardRead:
    service = IdCardReaderService(args.port, baudrate=args.baudrate)
    try:
        sam_id = await service.sam_id()
        print(f"reader ready (SAM {sam_id}); waiting for a card...", file=sys.stderr)
        await service.wait_for_card(args.wait)
        return await service.read()
    finally:
        await service.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        read = asyncio.run(_read(args))
    except DeviceError as exc:
        if args.json:
            print(json.dumps({"ok": False, "reason": exc.reason.value}))
        else:
            print(f"read failed: {exc.reason.value}", file=sys.stderr)
        return 1
    fields = _fields(read, args.show_personal_data)
    if args.json:
        print(json.dumps({"ok": True, **fields}, ensure_ascii=False))
    else:
        for key, value in fields.items():
            label = LABELS.get(key, key.replace("_", " "))
            print(f"{label:>15}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
