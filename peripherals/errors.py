"""Errors of the device services, each with a reason code the kiosk maps to messages and alerts."""

from __future__ import annotations

from enum import StrEnum


class DeviceReason(StrEnum):
    CARD_REMOVED = "card_removed"
    NOT_A_TRAVEL_DOCUMENT = "not_a_travel_document"
    CARD_UNREADABLE = "card_unreadable"
    READER_UNAVAILABLE = "reader_unavailable"
    CAMERA_UNAVAILABLE = "camera_unavailable"
    PRINTER_OFFLINE = "printer_offline"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    TIMEOUT = "timeout"
    # Identity documents.
    AUTHENTICATION_REFUSED = "authentication_refused"  # BAC keys (MRZ data) do not match
    INTEGRITY_FAILED = "integrity_failed"  # passive authentication failed
    CHIP_NOT_GENUINE = "chip_not_genuine"  # active authentication failed: a copied chip?
    NO_CARD = "no_card"
    # Serial devices and their faults.
    DEVICE_SILENT = "device_silent"
    GARBLED_RESPONSE = "garbled_response"
    PAPER_NEAR_END = "paper_near_end"
    CUTTER_ERROR = "cutter_error"
    JAM = "jam"
    STOCK_LOW = "stock_low"
    STOCK_EMPTY = "stock_empty"
    BIN_FULL = "bin_full"
    CARD_AT_MOUTH = "card_at_mouth"
    NOT_SUPPORTED = "not_supported"
    # The A4 printer (IPP).
    TONER_LOW = "toner_low"
    TONER_EMPTY = "toner_empty"
    JOB_ABORTED = "job_aborted"


class DeviceError(Exception):
    def __init__(self, device: str, reason: DeviceReason, detail: str = "") -> None:
        super().__init__(f"{device}: {reason.value} {detail}".strip())
        self.device = device
        self.reason = reason
