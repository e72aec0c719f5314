"""The kiosk process's memory allocator, held to one rule for years of running.

glibc raises its mmap threshold to the size of the largest block it ever freed from an mmap (up
to 32 MiB). The technician PIN's scrypt check (kiosk.pin) takes one block of 16 MiB, so after a
technician's visit every later block under 16 MiB (a receipt's raster, a camera frame, a TLS
buffer) comes from the heap and its thread arenas, and is kept there when freed: the soak found
the process 13-28 MB larger after 150 transactions than before them. Setting the threshold
ourselves turns glibc's adjustment off: large blocks go back to the system when freed.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's own default, before any adjustment


def hold_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fixes glibc's mmap threshold for this process. False where the C library is not glibc
    (nothing to hold) or refuses."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    held = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    if not held:
        log.warning("the C library refused a fixed mmap threshold")
    return held
