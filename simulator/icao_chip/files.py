"""The simulated chip's file system: EF.COM, DG1, DG2 (an ISO/IEC 19794-5 face), EF.SOD and
optional data groups, built from the holder's data and the chip's shape and faults.

The files are built once, when the chip is made: `build_files` gives every file by its file
identifier, which of them Extended Access Control keeps from a BAC reader (DG3, DG4), and
each file's short EF identifier (ICAO 9303 Part 10, table 38).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.icao_chip.apdu import tlv
from simulator.icao_chip.mrz import MrzLayout, TravelDocumentHolder, mrz_lines
from simulator.icao_chip.shapes import ChipFault, ChipShape
from simulator.icao_pki import ChipPki, build_sod

FID_EF_COM = 0x011E
FID_EF_SOD = 0x011D
FID_DG1 = 0x0101
FID_DG2 = 0x0102
# Short EF identifiers: DG1..DG16 are 01..10, EF.SOD 1D, EF.COM 1E.
FID_BY_SFI = {n: 0x0100 + n for n in range(1, 17)} | {0x1D: FID_EF_SOD, 0x1E: FID_EF_COM}
EAC_PROTECTED = frozenset({0x0103, 0x0104})  # DG3, DG4: EAC, which this chip does not offer

DG_TAGS = {1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68, 9: 0x69,
           10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70}  # fmt: skip


def ef_com(data_group_tags: bytes = b"\x61") -> bytes:
    """EF.COM: LDS 1.7, Unicode 4.0.0, and the tags of the data groups present."""
    return tlv(
        0x60,
        tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, data_group_tags),
    )


def dg1(mrz: str) -> bytes:
    return tlv(0x61, tlv(0x5F1F, mrz.encode("ascii")))


def facial_record(image: bytes, width: int, height: int, *, jpeg2000: bool = False) -> bytes:
    """An ISO/IEC 19794-5 facial record with one image and no feature points."""
    image_info = (
        bytes([1, 1 if jpeg2000 else 0])  # full frontal; JPEG (0) or JPEG 2000 (1)
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 2])  # colour space 24-bit RGB, source: digital still camera
        + bytes(2)  # device type unspecified
        + bytes(2)  # quality unspecified
    )
    information = (
        (20 + len(image_info) + len(image)).to_bytes(4, "big")
        + bytes(2)  # no feature points
        + bytes([0, 0, 0])  # gender, eye colour, hair colour unspecified
        + bytes(3)  # feature mask
        + bytes(2)  # expression unspecified
        + bytes(3)  # pose angle
        + bytes(3)  # pose angle uncertainty
    )
    body = information + image_info + image
    return b"FAC\x00" + b"010\x00" + (14 + len(body)).to_bytes(4, "big") + b"\x00\x01" + body


def dg2(image: bytes, width: int, height: int, *, jpeg2000: bool = False) -> bytes:
    """DG2: 75 { 7F61 { 02 01 01, 7F60 { A1 header, 5F2E facial record } } }."""
    header = (
        tlv(0x80, b"\x01\x01")  # ICAO header version 1.1
        + tlv(0x81, b"\x02")  # biometric type: face
        + tlv(0x87, b"\x01\x01")  # format owner: ISO/IEC JTC 1/SC 37
        + tlv(0x88, b"\x00\x08")  # format type: face image
    )
    template = tlv(0xA1, header) + tlv(
        0x5F2E, facial_record(image, width, height, jpeg2000=jpeg2000)
    )
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + tlv(0x7F60, template)))


DEFAULT_DG2_SIZE = 20 * 1024


def _image_size(jpeg: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        return image.size


@functools.cache
def default_face_jpeg(dg2_size: int = DEFAULT_DG2_SIZE) -> bytes:
    """The astronaut's face (scikit-image's `astronaut`) as a JPEG sized so DG2 is `dg2_size`.

    The JPEG is padded with a comment segment (FFFE) after SOI to hit the size exactly.
    """
    from PIL import Image
    from skimage import data

    portrait = Image.fromarray(data.astronaut()[10:250, 150:330])  # 180 x 240
    jpeg = b""
    for quality in range(95, 10, -5):
        buffer = io.BytesIO()
        portrait.save(buffer, format="JPEG", quality=quality)
        jpeg = buffer.getvalue()
        if len(dg2(jpeg, *portrait.size)) + 4 <= dg2_size:
            break
    deficit = dg2_size - len(dg2(jpeg, *portrait.size))
    if deficit >= 4:
        comment = b"\xff\xfe" + (deficit - 2).to_bytes(2, "big") + bytes(deficit - 4)
        jpeg = jpeg[:2] + comment + jpeg[2:]
    return jpeg


@dataclass(frozen=True)
class ChipFiles:
    """The LDS application's files by file identifier, and those a BAC reader may not read."""

    files: Mapping[int, bytes]
    protected: frozenset[int] = EAC_PROTECTED


def build_files(
    holder: TravelDocumentHolder,
    pki: ChipPki,
    face_jpeg: bytes,
    *,
    shape: frozenset[ChipShape] = frozenset(),
    faults: frozenset[ChipFault] = frozenset(),
    extra_groups: Mapping[int, bytes] | None = None,
    layout: MrzLayout = MrzLayout.TD1,
) -> ChipFiles:
    """The files a chip of `shape` holds; EF.COM and EF.SOD list the data groups present.

    `extra_groups` adds data groups (number -> the whole TLV-encoded file). CORRUPT_DG2
    changes DG2 after it was signed; FORGED_SOD signs with a key that is not the DS's. DG1
    holds the MRZ in `layout`, as the document's data page prints it.
    """
    groups = {1: dg1("".join(mrz_lines(holder, layout)))}
    if ChipShape.NO_DG2 not in shape:
        groups[2] = dg2(face_jpeg, *_image_size(face_jpeg))
    for number, raw in (extra_groups or {}).items():
        if not 3 <= number <= 16:
            raise ValueError("extra data groups are numbered 3..16")
        groups[number] = raw
    files: dict[int, bytes] = {}
    if ChipShape.NO_EF_SOD not in shape:
        files[FID_EF_SOD] = build_sod(pki, groups, forged=ChipFault.FORGED_SOD in faults)
    if ChipFault.CORRUPT_DG2 in faults and 2 in groups:
        corrupted = bytearray(groups[2])
        corrupted[-100] ^= 0x55  # inside the image: still parses, no longer hashes
        groups[2] = bytes(corrupted)
    if ChipShape.NO_EF_COM not in shape:
        files[FID_EF_COM] = ef_com(bytes(DG_TAGS[n] for n in sorted(groups)))
    files.update({0x0100 + n: raw for n, raw in groups.items()})
    return ChipFiles(files)
