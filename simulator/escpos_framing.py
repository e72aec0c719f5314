"""ESC/POS command framing: how many bytes each command takes, so the interpreter can act on
the commands it knows and skip the rest whole, waiting for more bytes when one is incomplete.

Every sizer takes the buffer, the command's start and the bytes available from there, and
returns the command's size, or 0 when it is not complete yet. Byte layouts follow the Epson
ESC/POS Application Programming Guide (command reference).
"""

from __future__ import annotations

NUL, HT, LF, FF, CR, DLE, EOT, ENQ, DC4, CAN, ESC, FS, GS = (
    0x00, 0x09, 0x0A, 0x0C, 0x0D, 0x10, 0x04, 0x05, 0x14, 0x18, 0x1B, 0x1C, 0x1D,
)  # fmt: skip

# Parameter byte counts of fixed-length commands, after the two command bytes.
ESC_FIXED = {
    FF: 0, 0x20: 1, ord("!"): 1, ord("$"): 2, ord("%"): 1, ord("-"): 1, ord("2"): 0,
    ord("3"): 1, ord("<"): 0, ord("="): 1, ord("?"): 1, ord("@"): 0, ord("E"): 1,
    ord("G"): 1, ord("J"): 1, ord("L"): 0, ord("M"): 1, ord("R"): 1, ord("S"): 0,
    ord("T"): 1, ord("U"): 1, ord("V"): 1, ord("W"): 8, ord("\\"): 2, ord("a"): 1,
    ord("c"): 2, ord("d"): 1, ord("e"): 1, ord("i"): 0, ord("m"): 0, ord("p"): 3,
    ord("r"): 1, ord("t"): 1, ord("u"): 1, ord("v"): 0, ord("{"): 1,
}  # fmt: skip
GS_FIXED = {
    ord("!"): 1, ord("$"): 2, ord("/"): 1, ord(":"): 0, ord("B"): 1, ord("E"): 1,
    ord("H"): 1, ord("I"): 1, ord("L"): 2, ord("P"): 2, ord("T"): 1, ord("W"): 2,
    ord("\\"): 2, ord("^"): 3, ord("a"): 1, ord("b"): 1, ord("c"): 0, ord("f"): 1,
    ord("g"): 4, ord("h"): 1, ord("r"): 1, ord("w"): 1, ord("z"): 3,
}  # fmt: skip
FS_FIXED = {
    ord("!"): 1, ord("&"): 0, ord("-"): 1, ord("."): 0, ord("2"): 74, ord("?"): 2,
    ord("C"): 1, ord("S"): 2, ord("W"): 1, ord("p"): 2,
}  # fmt: skip
# DLE DC4 fn: total length including DLE DC4 fn.
DLE_DC4_LENGTH = {1: 5, 2: 5, 3: 8, 7: 4, 8: 10}


def _complete(size: int, avail: int) -> int:
    return size if avail >= size else 0


def length_prefixed(buf: bytearray, pos: int, avail: int) -> int:
    """`X ( fn pL pH d1..dk` (k = pL + 256 pH)."""
    if avail < 5:
        return 0
    return _complete(5 + buf[pos + 3] + 256 * buf[pos + 4], avail)


def esc_bit_image(buf: bytearray, pos: int, avail: int) -> int:
    """ESC * m nL nH d1..dk: column bit image."""
    if avail < 5:
        return 0
    columns = buf[pos + 3] + 256 * buf[pos + 4]
    return _complete(5 + columns * (3 if buf[pos + 2] in (32, 33) else 1), avail)


def esc_tab_stops(buf: bytearray, pos: int, avail: int) -> int:
    """ESC D n1..nk NUL: tab stops, at most 32."""
    end = buf.find(b"\x00", pos + 2, pos + 2 + 33)
    if end >= 0:
        return end - pos + 1
    return _complete(2 + 33, avail)


def esc_user_characters(buf: bytearray, pos: int, avail: int) -> int:
    """ESC & y c1 c2 [x d1..d(y*x)]...: user-defined characters."""
    if avail < 5:
        return 0
    y, c1, c2 = buf[pos + 2], buf[pos + 3], buf[pos + 4]
    size = 5
    for _ in range(max(0, c2 - c1 + 1)):
        if avail < size + 1:
            return 0
        size += 1 + y * buf[pos + size]
    return _complete(size, avail)


def gs_cut(buf: bytearray, pos: int, avail: int) -> int:
    """GS V m / GS V m n: cut (the function B forms carry a feed amount n)."""
    if avail < 3:
        return 0
    return _complete(4 if buf[pos + 2] in (65, 66, 97, 98, 103, 104) else 3, avail)


def gs_downloaded_bit_image(buf: bytearray, pos: int, avail: int) -> int:
    """GS * x y d1..d(x*y*8): downloaded bit image."""
    if avail < 4:
        return 0
    return _complete(4 + buf[pos + 2] * buf[pos + 3] * 8, avail)


def gs_barcode(buf: bytearray, pos: int, avail: int) -> int:
    """GS k m d1..dk NUL (m <= 6) or GS k m n d1..dn (65 <= m <= 79): a barcode."""
    if avail < 3:
        return 0
    kind = buf[pos + 2]
    if kind <= 6:
        end = buf.find(b"\x00", pos + 3, pos + 3 + 256)
        if end >= 0:
            return end - pos + 1
        return _complete(3 + 256, avail)
    if 65 <= kind <= 79:
        if avail < 4:
            return 0
        return _complete(4 + buf[pos + 3], avail)
    return 3


def fs_nv_memory(buf: bytearray, pos: int, avail: int) -> int:
    """FS g 1|2 m a1..a4 nL nH [d1..dk]: NV user memory (write carries k bytes)."""
    if avail < 3:
        return 0
    if buf[pos + 2] not in (1, 2):
        return 3
    if avail < 10:
        return 0
    return _complete(10 + (buf[pos + 8] + 256 * buf[pos + 9] if buf[pos + 2] == 1 else 0), avail)


def dle(buf: bytearray, pos: int, avail: int) -> int:
    """DLE EOT n [a], DLE ENQ n, DLE DC4 fn ...: the real-time commands."""
    cmd = buf[pos + 1]
    if cmd == EOT:
        if avail < 3:
            return 0
        return _complete(4, avail) if buf[pos + 2] in (7, 8, 18) else 3  # DLE EOT n a
    if cmd == ENQ:
        return _complete(3, avail)
    if cmd == DC4:
        if avail < 3:
            return 0
        return _complete(DLE_DC4_LENGTH.get(buf[pos + 2], 3), avail)
    return 1
