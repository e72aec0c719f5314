"""`kiosk-read-document`: the technician's check that a travel document's chip reads.

    kiosk-read-document --doc-number N --birth YYMMDD --expiry YYMMDD [--reader NAME]
                        [--csca PATH] [--json]
    kiosk-read-document --can CAN ...
    kiosk-read-document --mrz-from-camera [--camera URL] [--camera-wait S] ...

Reads the document on the first reader holding a card (or on `--reader`), with Basic
Access Control from the MRZ data given, and prints the MRZ fields, the data groups read,
the passive-authentication verdict (against the CSCA trust store `--csca`, a PEM file or
a folder), and the APDU count and time. Works with any ICAO 9303 BAC chip. With
`--mrz-from-camera` the MRZ data come from the document's data page laid on the document camera
(`--camera`, else the kiosk configuration's document camera, its full-resolution stream first).

Chips that lack something are read all the same and the report says what: no short EF
identifiers or no extended length (read with SELECT or short APDUs: "chip access"), no EF.COM,
no DG2 (no face image), no EF.SOD (passive authentication "not possible", and why).

Exit status: 0 read (passive authentication passed, not trusted for want of a CSCA, or not
possible on a chip without EF.SOD); 1 the document could not be read (the reason is
printed; with --mrz-from-camera also when no MRZ was read from the page); 2 usage; 3 read,
but passive authentication failed (a hash or the signature does not verify).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from drivers import pcsc
from drivers.active_auth import ActiveAuthVerdict
from drivers.passive_auth import PassiveAuthVerdict
from kiosk.config import DEFAULT_CONFIG_PATH, load_config
from kiosk.logs import setup_logging
from peripherals.document_camera import DataPageNotRead, DataPageProblem, DocumentCameraService
from peripherals.errors import DeviceError, DeviceReason
from peripherals.permit_reader import DEVICE, BacKey, CanKey, PermitRead, PermitReaderService

MESSAGES = {
    DeviceReason.AUTHENTICATION_REFUSED: (
        "the chip refused access: check the document number, birth and expiry dates"
    ),
    DeviceReason.CARD_REMOVED: "the document left the reader before the read finished: place it again",
    DeviceReason.NOT_A_TRAVEL_DOCUMENT: "the card on the reader is not an ICAO travel document",
    DeviceReason.CARD_UNREADABLE: "the chip answered in a way we cannot read",
    DeviceReason.READER_UNAVAILABLE: "the card reader (or pcscd) is not available",
    DeviceReason.INTEGRITY_FAILED: "the document's data failed passive authentication",
    DeviceReason.TIMEOUT: "no document was placed on the reader in time",
    DeviceReason.NO_CARD: "no document lies on that reader: place it there (or give --wait)",
}
# Why no MRZ came from the document camera (peripherals.document_camera.DataPageProblem).
PAGE_MESSAGES = {
    DataPageProblem.NO_PAGE: "no document lay on the document camera's bed",
    DataPageProblem.PAGE_TOO_SMALL: "the document lay too far off or too small to read",
    DataPageProblem.PAGE_CUT_OFF: "the document ran off the camera's view: move it to the middle",
    DataPageProblem.TOO_DARK: "the bed is too dark (its lamp?)",
    DataPageProblem.NO_MRZ: "no MRZ on the page: open the document at its data page, face up",
    DataPageProblem.MRZ_UNCLEAR: "the MRZ did not read (covered, glare, or check digits wrong)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk-read-document",
        description="Read an ICAO 9303 travel document's chip (PACE when it offers it, else BAC).",
    )
    parser.add_argument("--doc-number", help="document number as in the MRZ")
    parser.add_argument("--birth", help="date of birth, YYMMDD")
    parser.add_argument("--expiry", help="date of expiry, YYMMDD")
    parser.add_argument("--can", help="instead of the MRZ: the 6-digit card access number on the"
                        " data page (opens only a chip that offers PACE)")
    parser.add_argument("--mrz-from-camera", action="store_true",
                        help="instead of the MRZ data: read them from the data page laid on the "
                        "document camera")
    parser.add_argument("--camera", help="the document camera's URL (default: the configuration's"
                        " full-resolution stream, else its document camera)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH,
                        help="the kiosk's configuration, for its document camera")
    parser.add_argument("--camera-wait", type=float, default=20.0,
                        help="seconds to wait for a data page that reads")
    parser.add_argument("--reader", help="PC/SC reader name (default: first reader with a card)")
    parser.add_argument("--csca", type=Path, help="CSCA trust store: PEM file or folder")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a card")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _key(args: argparse.Namespace) -> BacKey | CanKey | str | None:
    """The key the arguments give, None when it comes from the camera, or what is wrong."""
    if args.mrz_from_camera:
        if args.can is not None or args.doc_number or args.birth or args.expiry:
            return "give --mrz-from-camera, the CAN or the MRZ data, only one"
        return None
    if args.can is not None:
        if args.doc_number or args.birth or args.expiry:
            return "give the CAN or the MRZ data, not both"
        return CanKey(args.can) if args.can.isdigit() and len(args.can) == 6 \
            else "the CAN is 6 digits"
    if not (args.doc_number and args.birth and args.expiry):
        return "give --doc-number, --birth and --expiry (or --can)"
    if not (_valid_date(args.birth) and _valid_date(args.expiry)):
        return "dates are YYMMDD"
    if not args.doc_number.strip() or not args.doc_number.replace("<", "").isalnum():
        return "the document number is letters and digits"
    return BacKey(args.doc_number.strip().upper(), args.birth, args.expiry)


def _valid_date(value: str) -> bool:
    return len(value) == 6 and value.isdigit() and 1 <= int(value[2:4]) <= 12


def _reader_with_card() -> str | None:
    for name in pcsc.list_readers():
        try:
            if pcsc.card_present(name):
                return name
        except pcsc.PcscError:
            continue
    return None


def _report(reader: str, read: PermitRead) -> dict:
    mrz = read.mrz
    return {
        "reader": reader,
        "mrz": {
            "document_code": mrz.document_code,
            "issuing_state": mrz.issuing_state,
            "document_number": mrz.document_number,
            "surname": mrz.surname,
            "given_names": mrz.given_names,
            "nationality": mrz.nationality,
            "birth_date": mrz.birth_date,
            "sex": mrz.sex,
            "expiry_date": mrz.expiry_date,
            "optional_data": mrz.optional_data,
            "check_digits_ok": mrz.check_digits_ok,
        },
        "lds_version": read.ef_com.lds_version if read.ef_com else None,
        "data_groups_listed": list(read.listed_groups),
        "data_groups_read": {str(n): len(raw) for n, raw in sorted(read.data_groups.items())},
        "data_groups_refused": list(read.unreadable_groups),
        "files_missing": list(read.missing_names),
        "chip_access": {
            "access_control": read.access_control,
            "short_ef_id": read.access.short_ef_id is True,
            "extended_length": read.access.extended_length,
        },
        "face_image": {"type": read.face_mime, "bytes": len(read.face_image)}
        if read.face_image
        else None,
        "passive_auth": read.passive_auth.as_dict(),
        "active_auth": {"verdict": read.active_auth.verdict.value,
                        "reason": read.active_auth.reason} if read.active_auth else None,
        "chip_auth": {"verdict": read.chip_auth.verdict.value,
                      "reason": read.chip_auth.reason} if read.chip_auth else None,
        "document_expired": read.document_expired(),
        "apdus": read.apdus,
        "seconds": round(read.seconds, 3),
        "resumes": read.resumes,
    }


def _print_text(report: dict) -> None:
    mrz = report["mrz"]
    lines = [
        f"reader:          {report['reader']}",
        f"keys from:       {report.get('keys_from', 'mrz_typed').replace('_', ' ')}",
        f"document:        {mrz['document_code']} {mrz['issuing_state']} {mrz['document_number']}"
        f" (check digits {'ok' if mrz['check_digits_ok'] else 'WRONG'})",
        f"holder:          {mrz['surname']}, {mrz['given_names']} ({mrz['sex']}, {mrz['nationality']})",
        f"born / expires:  {mrz['birth_date']} / {mrz['expiry_date']}"
        + ("  EXPIRED" if report["document_expired"] else ""),
        f"data groups:     listed {report['data_groups_listed']}, read "
        + ", ".join(f"DG{n} ({size} B)" for n, size in report["data_groups_read"].items())
        + (f", refused {report['data_groups_refused']}" if report["data_groups_refused"] else ""),
    ]
    if report["files_missing"]:
        lines.append(f"not on the chip: {', '.join(report['files_missing'])}")
    lines.append(
        "face image:      "
        + (
            f"{report['face_image']['type']}, {report['face_image']['bytes']} bytes"
            if report["face_image"]
            else "none"
        )
    )
    lines += _passive_auth_lines(report["passive_auth"])
    for label, check, none in (("active auth:     ", report["active_auth"], "(no DG15)"),
                               ("chip auth:       ", report["chip_auth"], "(not in DG14)")):
        lines.append(label + (
            f"{check['verdict'].upper()}" + (f" ({check['reason']})" if check["reason"] else "")
            if check else f"not offered {none}"))
    access = report["chip_access"]
    lines += [
        f"chip access:     {access['access_control']}, "
        + ("by short EF identifier" if access["short_ef_id"] else "SELECT, then READ BINARY")
        + (", extended length" if access["extended_length"] else ", short APDUs"),
        f"cost:            {report['apdus']} APDUs in {report['seconds']:.3f} s"
        + (f" ({report['resumes']} resumed)" if report["resumes"] else ""),
    ]
    print("\n".join(lines))


def _passive_auth_lines(pa: dict) -> list[str]:
    if pa["verdict"] == PassiveAuthVerdict.NOT_POSSIBLE.value:
        return ["passive auth:    NOT POSSIBLE (" + "; ".join(pa["problems"]) + ")"]
    lines = [
        f"passive auth:    {pa['verdict'].upper()} (signature "
        f"{'ok' if pa['signature_valid'] else 'BAD'}, certificate "
        f"{'trusted' if pa['certificate_trusted'] else 'NOT trusted'}, hashes "
        + ", ".join(f"DG{n} {'ok' if ok else 'BAD'}" for n, ok in pa["hashes_valid"].items())
        + ")"
    ]
    return lines + [f"                 - {problem}" for problem in pa["problems"]]


async def _read(reader: str, key: BacKey | CanKey, csca: Path | None,
                wait: float) -> PermitRead:
    service = PermitReaderService(reader, csca)
    try:
        if wait > 0:
            await service.wait_for_card(wait)
        elif not await service.card_present():   # the reader named, with nothing on it
            raise DeviceError(DEVICE, DeviceReason.NO_CARD, "no card on the reader")
        return await service.read_permit(key)
    finally:
        service.close()


def _camera_url(args: argparse.Namespace) -> str:
    if args.camera:
        return str(args.camera)
    devices = load_config(args.config if args.config.exists() else None).devices
    return devices.document_camera_full_url or devices.document_camera_url


async def _key_from_page(url: str, wait: float) -> BacKey:
    camera = DocumentCameraService(url)
    try:
        mrz = await camera.read_data_page(wait, refusals=5)
    finally:
        camera.close()
    return BacKey(mrz.document_number, mrz.birth_date, mrz.expiry_date)


def _fail(message: str, as_json: bool, reason: str) -> int:
    if as_json:
        print(json.dumps({"error": reason, "message": message}))
    else:
        print(f"kiosk-read-document: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # the report says what failed; log lines would only repeat it on stderr
    # (masked, and python-escpos's leftover root handler removed: kiosk.logs)
    setup_logging(None, logging.ERROR)
    key = _key(args)
    if isinstance(key, str):
        print(f"kiosk-read-document: {key}", file=sys.stderr)
        return 2
    if key is None:
        url = _camera_url(args)
        if not url:
            print("kiosk-read-document: no document camera: give --camera", file=sys.stderr)
            return 2
        try:
            key = asyncio.run(_key_from_page(url, args.camera_wait))
        except DataPageNotRead as exc:
            return _fail(f"no MRZ read from the document camera: {PAGE_MESSAGES[exc.problem]}",
                         args.json, f"mrz_{exc.problem.value}")
        except DeviceError as exc:
            return _fail(f"the document camera is not available ({exc.reason.value})",
                         args.json, exc.reason.value)
    try:
        reader = args.reader or _reader_with_card()
    except pcsc.PcscError as exc:
        return _fail(
            f"PC/SC is not available ({exc.reason.value})", args.json, "reader_unavailable"
        )
    if reader is None:
        return _fail("no reader holds a card: place the document on a reader", args.json, "no_card")
    try:
        read = asyncio.run(_read(reader, key, args.csca, args.wait))
    except DeviceError as exc:
        return _fail(MESSAGES.get(exc.reason, exc.reason.value), args.json, exc.reason.value)
    report = _report(reader, read)
    report["keys_from"] = "data_page" if args.mrz_from_camera else \
        "can" if args.can is not None else "mrz_typed"
    if args.json:
        print(json.dumps(report))
    else:
        _print_text(report)
    failed = read.passive_auth.verdict is PassiveAuthVerdict.FAILED or any(
        check is not None and check.verdict is ActiveAuthVerdict.FAILED
        for check in (read.active_auth, read.chip_auth))
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
