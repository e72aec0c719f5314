"""A simulated ICAO 9303 travel-document chip (eMRTD): the APDU dispatcher.

This is the far side of the wire: an ISO 7816-4 APDU handler holding the LDS application
(`simulator.icao_chip.files`) behind Basic Access Control and secure messaging
(`simulator.icao_chip.secure_messaging`), and EF.ATR/INFO in the MF. It is served to pcscd
by `simulator.vicc` and never imports `drivers/`.

Commands:

- READ BINARY by SFI 01 ``00 B0 81 00 Le`` before the application is selected: EF.ATR/INFO
  (extended length information: commands up to 4096, answers up to 65280 bytes).
- SELECT by DF name  ``00 A4 04 0C|00 Lc AID``: the LDS AID, else 6A82.
- GET CHALLENGE ``00 84 00 00 08`` and EXTERNAL AUTHENTICATE ``00 82 00 00 28 ... 28``
  (BAC, Part 11 4.3): 6300 when the terminal's cryptogram does not verify.
- After BAC, every command must be protected (CLA 0C, DO87/DO85, DO97, DO8E): SELECT EF
  ``A4 02 0C``; READ BINARY ``B0`` with a 15-bit offset in the current EF or, P1 bit 8
  set, by short EF identifier (P1 bits 5-1, offset in P2; the file becomes the current
  EF); ``B1`` (DO54 offset, DO53 answer); short or extended. Le 00 / 0000 (Ne maximum)
  gets as much as the answer holds. A plain command or a wrong MAC ends the session
  (6982 / 6988 / 6987). Before BAC, selecting an LDS file answers 6982.
- 6D00 unknown INS, 6E00 bad CLA, 6700 wrong length, 6A86 bad P1-P2, 6B00 offset past
  the end, 6282 when fewer than Le bytes remain.

Shapes (`ChipShape`, what the chip lacks; the ATR's card capabilities say the same) and
faults (`ChipFault`) are in `simulator.icao_chip.shapes`. A chip without extended length
answers any extended APDU 6700, unprotected, and its secure-messaging session ends. `slow_s`
is slept before every answer; removal mid-read is the slot's (`simulator.vicc`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from threading import Lock

from simulator.icao_chip.active_auth import ActiveAuthKey
from simulator.icao_chip.apdu import (
    SW_CLA_NOT_SUPPORTED,
    SW_END_OF_FILE,
    SW_INS_NOT_SUPPORTED,
    SW_NO_EF_SELECTED,
    SW_NOT_FOUND,
    SW_OK,
    SW_SECURITY_STATUS,
    SW_SM_MISSING,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
    Command,
    ber_length,
    parse_command,
    simple_tlvs,
    sw_bytes,
    tlv,
)
from simulator.icao_chip.chip_auth import ChipAuthKey
from simulator.icao_chip.files import FID_BY_SFI, build_files, default_face_jpeg
from simulator.icao_chip.mrz import MrzLayout, TravelDocumentHolder
from simulator.icao_chip.pace import PaceResponder, card_access
from simulator.icao_chip.secure_messaging import BacResponder, SmSession, plain_room
from simulator.icao_chip.shapes import (
    MAX_RESPONSE,
    ChipFault,
    ChipShape,
    atr_for,
    ef_atr_info,
)
from simulator.icao_pki import ChipPki, create_pki

LDS_AID = bytes.fromhex("A0000002471001")
SFI_EF_ATR_INFO = 0x01  # in the MF
SFI_EF_CARD_ACCESS = 0x1C  # in the MF: the PACE protocols offered


class IcaoChip:
    """An eMRTD chip behind Basic Access Control, with a signed SOD, a shape and faults.

    The card object protocol (`atr`, `power_on`, `power_off`, `reset`, `process_apdu`)
    is what `simulator.vicc.VirtualCardSlot` serves. Without `pki`, an ephemeral CSCA and
    Document Signer are made in memory. `shape` is what the chip lacks (nothing: a modern
    chip); `atr` defaults to one announcing the shape. `extra_groups` adds data groups
    (number -> the whole TLV-encoded file); DG3 and DG4 answer 6982, as behind EAC. DG1's
    MRZ is in `layout` (TD1: a card; TD3: a passport book).
    """

    def __init__(
        self,
        holder: TravelDocumentHolder,
        *,
        pki: ChipPki | None = None,
        face_jpeg: bytes | None = None,
        slow_s: float = 0.0,
        faults: Iterable[ChipFault] = frozenset(),
        shape: Iterable[ChipShape] = frozenset(),
        extra_groups: Mapping[int, bytes] | None = None,
        atr: bytes | None = None,
        layout: MrzLayout = MrzLayout.TD1,
    ) -> None:
        self.slow_s = slow_s
        self.faults = frozenset(faults)
        self.shape = frozenset(shape)
        self._atr = atr_for(self.shape) if atr is None else atr
        self.pki = pki or create_pki()
        face = face_jpeg if face_jpeg is not None else default_face_jpeg()
        clone = ChipFault.CLONE in self.faults
        rsa_key = ChipShape.ACTIVE_AUTH_RSA in self.shape
        self._aa = (ActiveAuthKey(clone=clone, rsa_key=rsa_key)
                    if rsa_key or ChipShape.ACTIVE_AUTH in self.shape else None)
        self._ca = ChipAuthKey(clone=clone) if ChipShape.CHIP_AUTH in self.shape else None
        self._next_session: SmSession | None = None
        extra_groups = {**self._security_groups(), **(extra_groups or {})}
        built = build_files(
            holder, self.pki, face, shape=self.shape, faults=self.faults,
            extra_groups=extra_groups, layout=layout,
        )  # fmt: skip
        self._files = dict(built.files)
        self._protected = built.protected
        self._atr_info = ef_atr_info(self.shape)
        wrong_key = ChipFault.WRONG_KEY in self.faults
        self._bac = BacResponder(holder, wrong_key=wrong_key)
        offers_pace = bool({ChipShape.PACE, ChipShape.NO_BAC} & self.shape)
        self._pace = PaceResponder(holder, wrong_key=wrong_key) if offers_pace else None
        self._card_access = card_access() if offers_pace else None
        self._lock = Lock()
        self._app_selected = False
        self._current: int | None = None
        self._session: SmSession | None = None
        self.apdu_count = 0

    def _security_groups(self) -> dict[int, bytes]:
        """DG14 (the SecurityInfos of AA and CA) and DG15 (the AA public key), as offered."""
        groups: dict[int, bytes] = {}
        infos = [info for info in (self._aa.security_info() if self._aa else None,
                                   self._ca.security_infos() if self._ca else None) if info]
        if infos:
            groups[14] = tlv(0x6E, tlv(0x31, b"".join(infos)))
        if self._aa is not None:
            groups[15] = self._aa.dg15()
        return groups

    def __repr__(self) -> str:
        faults = sorted(f.value for f in self.faults)
        shape = sorted(s.value for s in self.shape)
        return (
            f"IcaoChip(shape={shape}, slow_s={self.slow_s}, faults={faults}, "
            f"apdus={self.apdu_count})"
        )

    def file(self, fid: int) -> bytes:
        """A file's content as the chip serves it (for tests and the bench); KeyError if none."""
        return self._files[fid]

    def has_file(self, fid: int) -> bool:
        return fid in self._files

    # card object protocol

    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> None:
        self._reset_state()

    def power_off(self) -> None:
        self._reset_state()

    def reset(self) -> None:
        self._reset_state()

    def _reset_state(self) -> None:
        with self._lock:
            self._app_selected = False
            self._current = None
            self._session = None
            self._bac.reset()
            if self._pace is not None:
                self._pace.reset()
            if self._ca is not None:
                self._ca.reset()
            self._next_session = None

    def process_apdu(self, apdu: bytes) -> bytes:
        if self.slow_s > 0:
            time.sleep(self.slow_s)
        with self._lock:
            self.apdu_count += 1
            return self._dispatch(bytes(apdu))

    # ISO 7816-4

    def _end_session(self, sw: int) -> bytes:
        self._session = None
        self._current = None
        return sw_bytes(sw)

    def _dispatch(self, apdu: bytes) -> bytes:
        command = parse_command(apdu)
        if command is None:
            return sw_bytes(SW_WRONG_LENGTH)
        if command.extended and ChipShape.NO_EXTENDED_LENGTH in self.shape:
            # refused before secure messaging could check it: the session cannot go on
            return self._end_session(SW_WRONG_LENGTH)
        if command.cla == 0x0C:
            return self._secure(command)
        chained = command.cla == 0x10 and command.ins == 0x86   # PACE's steps are chained
        if command.cla != 0x00 and not chained:
            return sw_bytes(SW_CLA_NOT_SUPPORTED)
        if self._session is not None:  # a plain command ends the secure session
            return self._end_session(SW_SECURITY_STATUS)
        if command.ins in (0x22, 0x86):
            return self._pace_command(command)
        if command.ins == 0x84:
            return self._bac.get_challenge(command)
        if command.ins == 0x82:
            if ChipShape.NO_BAC in self.shape:
                return sw_bytes(SW_SECURITY_STATUS)
            answer, session = self._bac.external_authenticate(command)
            if session is not None:
                self._session, self._current = session, None
            return answer
        if command.ins == 0xA4:
            data, sw = self._select(command, authenticated=False)
            return data + sw_bytes(sw)
        if command.ins == 0xB0 and not self._app_selected and command.p1 & 0x80:
            data, sw = self._read_ef_atr_info(command)
            return data + sw_bytes(sw)
        if command.ins in (0xB0, 0xB1):
            return sw_bytes(SW_SECURITY_STATUS if self._app_selected else SW_NO_EF_SELECTED)
        return sw_bytes(SW_INS_NOT_SUPPORTED)

    def _pace_command(self, command: Command) -> bytes:
        """MSE:Set AT and GENERAL AUTHENTICATE, in the MF before the application (PACE)."""
        if self._pace is None:
            return sw_bytes(SW_INS_NOT_SUPPORTED)
        if command.ins == 0x22:
            return self._pace.set_at(command)
        answer, session = self._pace.general_authenticate(command)
        if session is not None:
            self._session, self._current, self._app_selected = session, None, False
        return answer

    def _select(self, command: Command, *, authenticated: bool) -> tuple[bytes, int]:
        data = command.data
        if not data:
            return b"", SW_WRONG_LENGTH
        p1, p2 = command.p1, command.p2
        if p1 == 0x04 and p2 in (0x0C, 0x00):
            if data != LDS_AID:
                return b"", SW_NOT_FOUND
            self._app_selected = True
            self._current = None
            if p2 == 0x00:  # return FCI
                return tlv(0x6F, tlv(0x84, LDS_AID)), SW_OK
            return b"", SW_OK
        if p1 == 0x02 and p2 == 0x0C:
            if len(data) != 2:
                return b"", SW_WRONG_LENGTH
            fid = int.from_bytes(data, "big")
            if not self._app_selected or fid not in self._files:
                return b"", SW_NOT_FOUND
            if not authenticated or fid in self._protected:
                return b"", SW_SECURITY_STATUS
            self._current = fid
            return b"", SW_OK
        return b"", SW_WRONG_P1P2

    def _read_ef_atr_info(self, command: Command) -> tuple[bytes, int]:
        """READ BINARY by SFI in the MF: SFI 01 is EF.ATR/INFO, 1C EF.CardAccess."""
        if ChipShape.NO_SFI in self.shape:
            return b"", SW_WRONG_P1P2
        content = {0x80 | SFI_EF_ATR_INFO: self._atr_info,
                   0x80 | SFI_EF_CARD_ACCESS: self._card_access}.get(command.p1)
        if content is None:
            return b"", SW_NOT_FOUND
        return self._read(content, command.p2, command, 256)

    @staticmethod
    def _read(content: bytes, offset: int, command: Command, room: int) -> tuple[bytes, int]:
        """`command.le` bytes at `offset` of `content`, if the answer fits `room` bytes; with
        Ne maximum, as many as fit."""
        le = command.le
        if le is None:
            return b"", SW_WRONG_LENGTH
        if offset >= len(content):
            return b"", SW_WRONG_OFFSET
        chunk = content[offset : offset + le]
        if len(chunk) > room:
            if not command.le_max:
                return b"", SW_WRONG_LENGTH
            return chunk[:room], SW_OK
        return chunk, SW_OK if len(chunk) == le else SW_END_OF_FILE

    # secure messaging

    def _secure(self, command: Command) -> bytes:
        session = self._session
        if session is None:
            return sw_bytes(SW_SM_MISSING)
        inner = session.unwrap(command)
        if isinstance(inner, int):
            return self._end_session(inner)
        # what the protected answer may hold: the outer Le, within what we announce
        room_total = min(command.le or 256, MAX_RESPONSE if command.extended else 256)
        answer, sw = self._secure_command(inner, plain_room(room_total, session.block))
        response = session.wrap(inner.ins, answer, sw)
        if self._next_session is not None:   # Chip Authentication: the answer in the old keys
            self._session, self._next_session = self._next_session, None
        return response

    def _secure_command(self, command: Command, room: int) -> tuple[bytes, int]:
        if command.ins == 0xA4:
            return self._select(command, authenticated=True)
        if command.ins == 0xB0:
            if command.p1 & 0x80:
                return self._read_by_sfi(command, room)
            if self._current is None:
                return b"", SW_NO_EF_SELECTED
            offset = (command.p1 << 8) | command.p2
            return self._read(self._files[self._current], offset, command, room)
        if command.ins == 0xB1:
            return self._read_odd(command, room)
        if command.ins == 0x88 and self._aa is not None:
            return self._aa.internal_authenticate(command)
        if command.ins == 0x22 and (command.p1, command.p2) == (0x41, 0xA4) and self._ca:
            return self._ca.set_at(command)
        if command.ins == 0x86 and self._ca is not None:
            answer, sw, self._next_session = self._ca.general_authenticate(command)
            return answer, sw
        return b"", SW_INS_NOT_SUPPORTED

    def _read_by_sfi(self, command: Command, room: int) -> tuple[bytes, int]:
        """READ BINARY with a short EF identifier in P1 (ISO 7816-4, 7.2.2): selects the file."""
        if ChipShape.NO_SFI in self.shape or command.p1 & 0x60:
            return b"", SW_WRONG_P1P2
        fid = FID_BY_SFI.get(command.p1 & 0x1F)
        if fid is None or fid not in self._files:
            return b"", SW_NOT_FOUND
        if fid in self._protected:
            return b"", SW_SECURITY_STATUS
        self._current = fid
        return self._read(self._files[fid], command.p2, command, room)

    def _read_odd(self, command: Command, room: int) -> tuple[bytes, int]:
        """READ BINARY B1: the offset in DO54, the data back in DO53 (ISO 7816-4, 11.3.3)."""
        if (command.p1, command.p2) != (0, 0) or self._current is None:
            return b"", SW_WRONG_P1P2 if self._current is not None else SW_NO_EF_SELECTED
        objects = simple_tlvs(command.data)
        if not objects or objects[0][0] != 0x54 or not 1 <= len(objects[0][1]) <= 3:
            return b"", SW_WRONG_LENGTH
        offset = int.from_bytes(objects[0][1], "big")
        le = command.le
        if le is None or le < 3:
            return b"", SW_WRONG_LENGTH
        size = le - 1 - len(ber_length(le))
        inner = Command(0, 0xB1, 0, 0, b"", size, command.extended, command.le_max)
        chunk, sw = self._read(self._files[self._current], offset, inner, room - 4)
        if sw not in (SW_OK, SW_END_OF_FILE):
            return b"", sw
        return tlv(0x53, chunk), sw
