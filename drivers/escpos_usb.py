"""A USB ESC/POS receipt printer through python-escpos `Usb` and pyusb.

The protocol is `drivers.receipt_printer.ReceiptPrinter`'s; this module only finds and opens
the device. `backend` is any pyusb backend: None lets pyusb pick libusb on a real machine, and
tests pass the simulator's backend (CI has no USB device).
"""

from __future__ import annotations

import usb.core
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Usb

from drivers.receipt_layout import CjkMode
from drivers.receipt_printer import ReceiptPrinter

# USB printer class: bulk OUT for data, bulk IN for status (USB Printer Class 1.1, §4).
DEFAULT_OUT_ENDPOINT = 0x01
DEFAULT_IN_ENDPOINT = 0x82


class UsbReceiptPrinter(ReceiptPrinter):
    """An ESC/POS printer on USB, found by vendor and product id."""

    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        timeout: float = 2.0,
        backend: object | None = None,
        in_ep: int = DEFAULT_IN_ENDPOINT,
        out_ep: int = DEFAULT_OUT_ENDPOINT,
        cjk: CjkMode = CjkMode.CODE_PAGE,
    ) -> None:
        super().__init__(f"usb:{vendor_id:04x}:{product_id:04x}", timeout, cjk)
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.backend = backend
        self.in_ep = in_ep
        self.out_ep = out_ep

    def _open_connector(self) -> Escpos:
        usb_args: dict[str, object] = {"idVendor": self.vendor_id, "idProduct": self.product_id}
        if self.backend is not None:
            usb_args["backend"] = self.backend
        printer = Usb(
            usb_args=usb_args,
            timeout=max(1, int(self.timeout * 1000)),  # pyusb counts milliseconds; 0 = forever
            in_ep=self.in_ep,
            out_ep=self.out_ep,
        )
        try:
            printer.open()
        except usb.core.USBError as error:
            raise DeviceNotFoundError(f"USB printer {self.address}: {error}") from error
        if not printer.device:
            raise DeviceNotFoundError(f"USB printer {self.address} not found")
        return printer

    def _is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, usb.core.USBTimeoutError | TimeoutError)
