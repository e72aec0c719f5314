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


class DeviceError(Exception):
    def __init__(self, device: str, reason: DeviceReason, detail: str = "") -> None:
        super().__init__(f"{device}: {reason.value} {detail}".strip())
        self.device = device
        self.reason = reason
