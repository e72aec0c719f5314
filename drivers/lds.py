"""LDS data groups beyond DG1: DG2's face image out of its biometric template.

DG2 (ICAO 9303 Part 10, 4.7.2): 75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E|7F2E data } } }
where the biometric data block is an ISO/IEC 19794-5 facial record ("FAC\\0"): a 14-byte
record header, per image a 20-byte facial information block, 8 bytes per feature point,
a 12-byte image information block, then the JPEG or JPEG 2000 image itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.iso7816 import ChipError, ChipReason, Tlv, parse_tlv

JPEG = "image/jpeg"
JPEG2000 = "image/jp2"

_JPEG_MAGIC = b"\xff\xd8\xff"
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_MAGIC = b"\xff\x4f\xff\x51"


@dataclass(frozen=True, repr=False)
class FaceImage:
    """The holder's portrait as stored in DG2 (`data` is the JPEG / JPEG 2000 file)."""

    data: bytes
    mime: str
    width: int
    height: int

    def __repr__(self) -> str:  # a face is personal data: size only
        return f"FaceImage({self.mime}, {self.width}x{self.height}, {len(self.data)} bytes)"


def _malformed(message: str) -> ChipError:
    return ChipError(ChipReason.MALFORMED_DATA, message)


def _child(parent: Tlv, *tags: int) -> Tlv:
    for child in parent.children():
        if child.tag in tags:
            return child
    raise _malformed(f"DG2: tag {'/'.join(f'{t:X}' for t in tags)} missing")


def _mime_of(image: bytes) -> str | None:
    if image.startswith(_JPEG_MAGIC):
        return JPEG
    if image.startswith(_JP2_MAGIC) or image.startswith(_J2K_MAGIC):
        return JPEG2000
    return None


def parse_dg2(data: bytes) -> FaceImage:
    """The first face image of DG2. ChipError(MALFORMED_DATA) when it is not there."""
    top = parse_tlv(data)
    if len(top) != 1 or top[0].tag != 0x75:
        raise _malformed("DG2: expected one object with tag 75")
    group = _child(top[0], 0x7F61)
    template = _child(group, 0x7F60)
    block = _child(template, 0x5F2E, 0x7F2E).value
    if len(block) < 14 + 20 + 12 or block[:4] != b"FAC\x00":
        raise _malformed("DG2: not an ISO/IEC 19794-5 facial record")
    images = int.from_bytes(block[12:14], "big")
    if images < 1:
        raise _malformed("DG2: facial record without images")
    info = 14
    block_length = int.from_bytes(block[info : info + 4], "big")
    features = int.from_bytes(block[info + 4 : info + 6], "big")
    image_info = info + 20 + 8 * features
    start = image_info + 12
    end = info + block_length
    if block_length < 20 + 8 * features + 12 or end > len(block) or start >= end:
        raise _malformed("DG2: facial information block lengths do not add up")
    image_type = block[image_info + 1]
    width = int.from_bytes(block[image_info + 2 : image_info + 4], "big")
    height = int.from_bytes(block[image_info + 4 : image_info + 6], "big")
    image = block[start:end]
    mime = _mime_of(image)
    if mime is None:
        raise _malformed("DG2: the image is neither JPEG nor JPEG 2000")
    if (image_type == 0 and mime != JPEG) or (image_type == 1 and mime != JPEG2000):
        raise _malformed("DG2: image data type does not match the image")
    return FaceImage(image, mime, width, height)
