"""A pyusb backend that presents one simulated USB printer (CI has no USB device).

pyusb lets a caller pass any `usb.backend.IBackend` to `usb.core.find(backend=...)`, so the
kiosk's real USB code (python-escpos `Usb` over pyusb) runs unchanged against this far side.
The device is a USB printer-class interface (class 7, bidirectional protocol 2) with a bulk OUT
endpoint 0x01, whose bytes go to `on_bulk_out`, and a bulk IN endpoint 0x82, which answers with
what `on_bulk_out` returned (ESC/POS status replies). Unplugging removes it from enumeration and
fails every transfer with ENODEV, as libusb does when the cable is pulled.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import usb.backend
import usb.core

BULK = 0x02
OUT_ENDPOINT = 0x01
IN_ENDPOINT = 0x82
PRINTER_CLASS = 0x07
BIDIRECTIONAL = 0x02

BulkOutHandler = Callable[[bytes], bytes]


class _Descriptor:
    """A descriptor as pyusb expects it: plain fields, readable as attributes."""

    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)
        self.extra_descriptors: list[int] = []


@dataclass
class _Handle:
    generation: int
    claimed: set[int] = field(default_factory=set)


class SimulatedUsbPrinterBackend(usb.backend.IBackend):
    """One USB printer on one simulated bus; `unplug()` / `plug()` pull and reinsert the cable."""

    def __init__(
        self,
        on_bulk_out: BulkOutHandler,
        vendor_id: int = 0x0416,
        product_id: int = 0x5011,
        bus: int = 1,
        address: int = 7,
    ) -> None:
        super().__init__()
        self.on_bulk_out = on_bulk_out
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.bus = bus
        self.address = address
        self.plugged = True
        self.silent = False  # bulk IN never answers (a hung printer)
        self.bytes_out = 0
        self._generation = 1
        self._in_buffer = bytearray()
        self._cond = threading.Condition()
        self._configuration = 0

    # -- far-side controls -----------------------------------------------------------------

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._in_buffer.clear()
            self._cond.notify_all()

    def plug(self) -> None:
        with self._cond:
            if not self.plugged:
                self.plugged = True
                self._generation += 1  # handles from before the unplug stay dead
                self.address += 1  # the host gives a re-enumerated device a new address
                self._configuration = 0

    # -- enumeration and descriptors -------------------------------------------------------

    def enumerate_devices(self):  # noqa: ANN201 - pyusb's interface
        return [self.address] if self.plugged else []

    def get_parent(self, dev: object) -> None:
        return None

    def get_device_descriptor(self, dev: object) -> _Descriptor:
        return _Descriptor(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=self.vendor_id,
            idProduct=self.product_id, bcdDevice=0x0100, iManufacturer=0, iProduct=0,
            iSerialNumber=0, bNumConfigurations=1, address=dev, bus=self.bus, port_number=1,
            port_numbers=(1,), speed=3,
        )  # fmt: skip

    def get_configuration_descriptor(self, dev: object, config: int) -> _Descriptor:
        if config != 0:
            raise IndexError("configuration index out of range")
        return _Descriptor(
            bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=50,
        )  # fmt: skip

    def get_interface_descriptor(self, dev: object, intf: int, alt: int, config: int):  # noqa: ANN201
        if (intf, alt, config) != (0, 0, 0):
            raise IndexError("interface index out of range")
        return _Descriptor(
            bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
            bNumEndpoints=2, bInterfaceClass=PRINTER_CLASS, bInterfaceSubClass=1,
            bInterfaceProtocol=BIDIRECTIONAL, iInterface=0,
        )  # fmt: skip

    def get_endpoint_descriptor(self, dev: object, ep: int, intf: int, alt: int, config: int):  # noqa: ANN201
        if (intf, alt, config) != (0, 0, 0) or ep not in (0, 1):
            raise IndexError("endpoint index out of range")
        address = OUT_ENDPOINT if ep == 0 else IN_ENDPOINT
        return _Descriptor(
            bLength=7, bDescriptorType=5, bEndpointAddress=address, bmAttributes=BULK,
            wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0,
        )  # fmt: skip

    # -- device handle ---------------------------------------------------------------------

    def _check(self, handle: _Handle) -> None:
        if not self.plugged or handle.generation != self._generation:
            raise usb.core.USBError("No such device (it may have been disconnected)",
                                    errno=errno.ENODEV)  # fmt: skip

    def open_device(self, dev: object) -> _Handle:
        if not self.plugged or dev != self.address:
            raise usb.core.USBError("No such device", errno=errno.ENODEV)
        return _Handle(self._generation)

    def close_device(self, dev_handle: _Handle) -> None:
        pass

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        self._check(dev_handle)
        self._configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        self._check(dev_handle)
        return self._configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._check(dev_handle)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        self._check(dev_handle)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.claimed.discard(intf)

    def reset_device(self, dev_handle: _Handle) -> None:
        self._check(dev_handle)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._check(dev_handle)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        pass

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        pass

    # -- transfers -------------------------------------------------------------------------

    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data, timeout: int) -> int:  # noqa: ANN001
        self._check(dev_handle)
        if ep != OUT_ENDPOINT:
            raise usb.core.USBError("Invalid endpoint", errno=errno.EINVAL)
        payload = bytes(data)
        reply = self.on_bulk_out(payload)
        with self._cond:
            self.bytes_out += len(payload)
            if reply and not self.silent:
                self._in_buffer += reply
                self._cond.notify_all()
        return len(payload)

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff, timeout: int) -> int:  # noqa: ANN001
        self._check(dev_handle)
        if ep != IN_ENDPOINT:
            raise usb.core.USBError("Invalid endpoint", errno=errno.EINVAL)
        # libusb treats 0 as "no time limit"; a simulator must not hang a test, so cap it.
        deadline = time.monotonic() + (timeout / 1000 if timeout else 30.0)
        with self._cond:
            while not self._in_buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise usb.core.USBTimeoutError("Operation timed out", errno=errno.ETIMEDOUT)
                self._cond.wait(left)
                self._check(dev_handle)
            size = min(len(buff) * buff.itemsize, len(self._in_buffer))
            chunk = bytes(self._in_buffer[:size])
            del self._in_buffer[:size]
        for i, byte in enumerate(chunk):
            buff[i] = byte
        return size
